#!/usr/bin/env bash
# Runs every fuzz target of tests/fuzz on a scratch copy of its committed seed corpus (the
# repository never changes), one after the other, and fails on the first crash, leak, timeout,
# out-of-memory or sanitizer report. The input that failed is kept in BUILD/artifacts.
#
#   tests/fuzz/run.sh BUILD [libFuzzer flags...]
#   tests/fuzz/run.sh build/fuzz -max_total_time=5    # make test
#   tests/fuzz/run.sh build/fuzz -runs=1000000        # make fuzz-long
#
# FUZZ_TARGETS="spec http" limits the run to those targets.
set -euo pipefail

if (($# < 1)); then
  echo "usage: $0 BUILD [libFuzzer flags...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
read -r -a targets <<<"${FUZZ_TARGETS:-spec splitter recordio tfrecord json_path data_processing job http shm}"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tandem-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/artifacts"

for target in "${targets[@]}"; do
  binary="$build/bin/fuzz_$target"
  if [[ ! -x $binary ]]; then
    echo "fuzz: $binary is missing; build it first (make fuzz-build)" >&2
    exit 2
  fi
  work="$scratch/$target"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$here/corpus/$target/"* "$work/corpus/"
  log="$work/log"
  start=$SECONDS
  if ! "$binary" -timeout=30 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" "$@" \
    "$work/corpus" >"$log" 2>&1; then
    cp "$work/artifacts/"* "$build/artifacts/" 2>/dev/null || true
    tail -n 60 "$log" >&2
    echo "fuzz: fuzz_$target FAILED; the input is in $build/artifacts/" >&2
    echo "fuzz: reproduce with $binary $build/artifacts/<file>" >&2
    exit 1
  fi
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  echo "fuzz: fuzz_$target: ${runs:-?} executions in $((SECONDS - start)) s, no crash," \
    "leak or sanitizer report ($(find "$work/corpus" -type f | wc -l) corpus inputs)"
done
