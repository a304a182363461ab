#include "pipeline/cli/replay.h"

#include <iostream>

#include "pipeline/capture/replay.h"
#include "pipeline/transform/options.h"

namespace tandem::cli {

namespace {

constexpr int kExitInvalid = 2;
constexpr std::size_t kMaxConcurrency = 1024;

}  // namespace

void add_replay_options(CLI::App& c, ReplayArgs& a) {
  auto* capture =
      c.add_option("--capture", a.capture,
                   "capture files to replay: a .jsonl file, a folder or s3://bucket/prefix");
  auto* input = c.add_option("--input", a.input,
                             "batch input to replay instead, record by record: a file, folder or "
                             "s3:// prefix (with --content-type and --split-type)");
  capture->excludes(input);
  c.add_option("--content-type", a.content_type, "with --input: the records' Content-Type");
  c.add_option("--accept", a.accept, "with --input: the Accept sent with every record");
  c.add_option("--split-type", a.split_type,
               "with --input: None (default), Line, RecordIO or TFRecord")
      ->check(CLI::IsMember({"None", "Line", "RecordIO", "TFRecord"}));
  c.add_option("--endpoint", a.endpoint,
               "call the endpoint at this URL (http://host:port) instead of starting the stages");
  c.add_option("--trace", a.trace,
               "write, per event, what each stage received and returned to DIR/<event id>.json");
  c.add_option("--only", a.only, "replay only these event ids")->expected(1, -1);
  c.add_option("--tolerance", a.tolerance,
               "numbers in CSV and JSON answers match within this (relative, absolute below 1); "
               "default 1e-6")
      ->check(CLI::NonNegativeNumber);
  c.add_option("--concurrency", a.concurrency, "events in flight at once (default 1)")
      ->check(CLI::Range(std::size_t{1}, kMaxConcurrency));
  c.add_option("--report", a.report, "write every event's outcome here as JSON");
}

int replay(const spec::PipelineSpec& spec, const ReplayArgs& args) {
  if (!args.capture && !args.input) {
    std::cerr << "tandem replay: give --capture (capture files) or --input (batch input)\n";
    return kExitInvalid;
  }
  if (args.input && !args.content_type) {
    std::cerr << "tandem replay: --input needs --content-type\n";
    return kExitInvalid;
  }
  capture::ReplayOptions options;
  options.capture = args.capture;
  options.input = args.input;
  options.input_settings.content_type = args.content_type.value_or("");
  options.input_settings.accept = args.accept;
  options.input_settings.split_type =
      transform::parse_split_type(args.split_type).value_or(transform::SplitType::none);
  options.endpoint = args.endpoint;
  options.trace_dir = args.trace;
  options.only = args.only;
  options.tolerance = args.tolerance;
  options.concurrency = args.concurrency;
  options.report_path = args.report;
  return capture::run_replay(spec, options);
}

}  // namespace tandem::cli
