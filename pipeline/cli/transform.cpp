#include "pipeline/cli/transform.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "pipeline/batch/runner.h"
#include "pipeline/transform/naming.h"

namespace tandem::cli {

namespace {

constexpr int kExitInvalidJob = 2;

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// A CreateTransformJob request is a few KiB (16 Environment entries of 10 KiB at most); a job
// file is read up to this much and no further, so /dev/zero cannot exhaust memory.
constexpr std::size_t kMaxJobFileBytes = 1024 * 1024;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(kMaxJobFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

}  // namespace

void add_transform_options(CLI::App& c, TransformArgs& a) {
  auto& o = a.overrides;
  c.add_option("--job", a.job_file,
               "the job as a create_transform_job request (JSON); flags below override it");
  c.add_flag("--resume", a.resume, "skip inputs whose .out already exists");
  c.add_option("--shard-index", a.shard_index,
               "this host's shard (default: JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX)");
  c.add_option("--shard-count", a.shard_count, "number of shards (default: TANDEM_SHARD_COUNT)");
  c.add_option("--report", a.report, "write the job's summary here as JSON");
  c.add_flag("--quiet", a.quiet, "no progress output");
  c.add_option("--metrics-file", a.metrics_file,
               "keep the progress here in Prometheus text format (node_exporter textfile)");
  c.add_option("--input", o.input_uri, "TransformInput S3Uri: s3://bucket/prefix, folder or file");
  c.add_option("--s3-data-type", o.s3_data_type, "S3Prefix (default) or ManifestFile");
  c.add_option("--output", o.output_path, "TransformOutput S3OutputPath");
  c.add_option("--content-type", o.content_type, "sent as Content-Type on every request");
  c.add_option("--split-type", o.split_type, "None, Line, RecordIO or TFRecord");
  c.add_option("--compression", o.compression_type, "None or Gzip");
  c.add_option("--strategy", o.batch_strategy, "SingleRecord or MultiRecord");
  c.add_option("--max-payload-mb", o.max_payload_in_mb, "MaxPayloadInMB, 0-100 (0: no limit)");
  c.add_option("--max-concurrent", o.max_concurrent_transforms, "MaxConcurrentTransforms");
  c.add_option("--accept", o.accept, "sent as Accept on every request");
  c.add_option("--assemble-with", o.assemble_with, "None or Line");
  c.add_option("--input-filter", o.input_filter, "DataProcessing InputFilter (JSONPath)");
  c.add_option("--output-filter", o.output_filter, "DataProcessing OutputFilter (JSONPath)");
  c.add_option("--join-source", o.join_source, "DataProcessing JoinSource: None or Input");
  c.add_option("--timeout-s", o.invocations_timeout_s, "InvocationsTimeoutInSeconds, 1-3600");
  c.add_option("--max-retries", o.invocations_max_retries, "InvocationsMaxRetries, 0-3");
  c.add_option("--env", a.env, "KEY=VALUE for every stage (repeatable)");
}

int transform(const spec::PipelineSpec& spec, const TransformArgs& args) {
  transform::TransformJob job;
  std::vector<std::string> notes;
  std::string source = "command line";
  if (args.job_file) {
    source = *args.job_file;
    const auto text = read_file(*args.job_file);
    if (!text) {
      std::cerr << *args.job_file << ": cannot read the job file\n";
      return kExitInvalidJob;
    }
    if (text->size() > kMaxJobFileBytes) {
      std::cerr << *args.job_file << ": the job file is larger than 1 MiB\n";
      return kExitInvalidJob;
    }
    auto parsed = transform::parse_transform_job(*text, *args.job_file);
    if (!parsed) {
      std::cerr << parsed.error().message << "\n";
      return kExitInvalidJob;
    }
    job = std::move(parsed->job);
    notes = std::move(parsed->notes);
  }
  auto overrides = args.overrides;
  for (const auto& pair : args.env) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos) {
      std::cerr << "--env " << pair << ": expected KEY=VALUE\n";
      return kExitInvalidJob;
    }
    overrides.environment.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
  }
  auto applied = transform::apply_overrides(std::move(job), overrides, source);
  if (!applied) {
    std::cerr << applied.error().message << "\n";
    return kExitInvalidJob;
  }
  auto shard =
      transform::resolve_shard({args.shard_index, args.shard_count, env("JOB_COMPLETION_INDEX"),
                                env("AWS_BATCH_JOB_ARRAY_INDEX"), env("TANDEM_SHARD_COUNT")});
  if (!shard) {
    std::cerr << shard.error().message << "\n";
    return kExitInvalidJob;
  }
  batch::RunOptions options;
  options.resume = args.resume;
  options.shard = *shard;
  options.report_path = args.report;
  options.quiet = args.quiet;
  options.metrics_path = args.metrics_file;
  options.notes = std::move(notes);
  return batch::run_transform(spec, *applied, options);
}

}  // namespace tandem::cli
