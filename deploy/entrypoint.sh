#!/usr/bin/env bash
# The container's entry point: runs tandem the way SageMaker and Kubernetes start containers.
#
#   serve        SageMaker's real-time endpoint and Batch Transform (`docker run IMAGE serve`):
#                `tandem serve` on the spec in the model artifact, listening on
#                SAGEMAKER_BIND_TO_PORT (8080 when unset) on every address.
#   transform …  `tandem transform` on the same spec; the rest of the arguments are its own
#                (--job job.json, --input/--output, --shard-count, ...).
#   validate     `tandem validate` on the spec.
#   train        refused: this image serves models, it does not train them.
#   anything else is run as given (`docker run IMAGE bash`).
#
# Environment (defaults are SageMaker's paths; tests point them at a folder of their own):
#   TANDEM_MODEL_DIR  where the model artifact is unpacked          (/opt/ml/model)
#   TANDEM_SPEC       the pipeline spec        ($TANDEM_MODEL_DIR/pipeline.yaml)
#   TANDEM_BIN        the tandem program                           (tandem on PATH)
#   TANDEM_HOST       the address `serve` listens on               (0.0.0.0)
#   SAGEMAKER_BIND_TO_PORT  the port `serve` listens on            (8080)
#   SAGEMAKER_BATCH   "true" in a Batch Transform job: logged; tandem answers
#                     GET /execution-parameters either way (spec, else stage 1, else defaults)
#   TANDEM_LOG_FORMAT text or json (the image sets json)
#   TANDEM_DRY_RUN=1  print the command instead of running it
set -euo pipefail

model_dir="${TANDEM_MODEL_DIR:-/opt/ml/model}"
spec="${TANDEM_SPEC:-$model_dir/pipeline.yaml}"
tandem="${TANDEM_BIN:-tandem}"

say() {
  printf 'tandem-entrypoint: %s\n' "$*" >&2
}

run() {
  if [[ "${TANDEM_DRY_RUN:-}" == "1" ]]; then
    printf '%q ' "$@"
    printf '\n'
    exit 0
  fi
  exec "$@"
}

require_spec() {
  if [[ ! -r "$spec" ]]; then
    say "no pipeline spec at $spec: put pipeline.yaml at the root of the model artifact" \
      "(model.tar.gz, unpacked into $model_dir), or set TANDEM_SPEC"
    exit 2
  fi
}

# SageMaker's model folder is where relative paths in the spec and stage code expect to run.
enter_model_dir() {
  if [[ -d "$model_dir" ]]; then
    cd "$model_dir"
  fi
}

command="${1:-serve}"
if (($# > 0)); then shift; fi

case "$command" in
  serve)
    require_spec
    port="${SAGEMAKER_BIND_TO_PORT:-8080}"
    if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port > 65535)); then
      say "SAGEMAKER_BIND_TO_PORT is not a port: '$port'"
      exit 2
    fi
    if [[ "${SAGEMAKER_BATCH:-}" == "true" ]]; then
      say "batch transform: MaxConcurrentTransforms=${SAGEMAKER_MAX_CONCURRENT_TRANSFORMS:-unset}" \
        "BatchStrategy=${SAGEMAKER_BATCH_STRATEGY:-unset}" \
        "MaxPayloadInMB=${SAGEMAKER_MAX_PAYLOAD_IN_MB:-unset}"
    fi
    enter_model_dir
    run "$tandem" serve "$spec" --host "${TANDEM_HOST:-0.0.0.0}" --port "$port" "$@"
    ;;
  transform)
    require_spec
    enter_model_dir
    run "$tandem" transform "$spec" "$@"
    ;;
  validate)
    require_spec
    run "$tandem" validate "$spec"
    ;;
  train)
    say "this image serves and batch-transforms pipelines; it has no training entry point"
    exit 2
    ;;
  *)
    run "$command" "$@"
    ;;
esac
