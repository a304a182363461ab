#include "pipeline/batch/runner.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstring>

#include "pipeline/batch/commit.h"
#include "pipeline/batch/invoker.h"
#include "pipeline/batch/job_runner.h"
#include "pipeline/batch/policy.h"
#include "pipeline/batch/report.h"
#include "pipeline/common/log.h"
#include "pipeline/common/private_file.h"
#include "pipeline/runtime/event_loop.h"
#include "pipeline/runtime/stage_runtime.h"
#include "pipeline/transform/data_processing.h"
#include "pipeline/transform/execution.h"
#include "tandem/proto/json_depth.h"

namespace tandem::batch {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// `tandem transform` around its JobRunner: checks what can be checked and starts the stages
// (prepare), shows the progress, and writes the report and the exit code. Everything here
// runs on the event loop.
class TransformCommand {
 public:
  TransformCommand(asio::io_context& io, const spec::PipelineSpec& spec,
                   const transform::TransformJob& job, const RunOptions& options)
      : io_(io), spec_(job_spec(spec, job)), job_(job), options_(options) {}

  int exit_code() const { return exit_code_; }

  asio::awaitable<void> run();
  void stop(int signal_number);

 private:
  asio::awaitable<bool> prepare();
  bool plan();
  asio::awaitable<std::optional<std::string>> start_stages();
  asio::awaitable<std::optional<std::string>> execution_parameters_answer();
  void make_runner();

  Progress progress() const;
  void show_progress(bool final);
  asio::awaitable<void> progress_loop();
  void write_metrics(bool running, std::optional<bool> succeeded);
  void finish_report();

  asio::io_context& io_;
  const spec::PipelineSpec spec_;
  const transform::TransformJob& job_;
  const RunOptions& options_;
  int exit_code_ = 0;

  std::unique_ptr<runtime::StageRuntime> stages_;
  std::unique_ptr<StageInvoker> invoker_;
  InputPlan plan_;
  transform::ExecutionParameters parameters_;
  std::optional<transform::DataProcessor> processor_;
  std::string job_name_;
  JobReport report_;
  Clock::time_point started_ = Clock::now();
  std::chrono::system_clock::time_point started_wall_ = std::chrono::system_clock::now();
  std::unique_ptr<JobRunner> runner_;  // once the stages are up and the parameters known
  bool running_ = false;               // runner_ started
  bool stopping_ = false;
  int stop_signal_ = 0;
  bool tty_ = ::isatty(STDERR_FILENO) == 1;
  bool progress_shown_ = false;
};

// ---- start-up -------------------------------------------------------------------------------

asio::awaitable<std::optional<std::string>> TransformCommand::execution_parameters_answer() {
  const auto answer = co_await stages_->first_stage_parameters(std::chrono::seconds(5));
  // What the spec declares wins over the stage's answer, as `tandem serve` answers it.
  const auto& declared = spec_.execution_parameters;
  if (!declared.max_concurrent_transforms && !declared.batch_strategy && !declared.max_payload_mb)
    co_return answer;
  nlohmann::json merged = nlohmann::json::object();
  if (answer) {
    std::string why;
    auto parsed = proto::json::parse_bounded<nlohmann::json>(*answer, why);
    if (parsed.is_object()) merged = std::move(parsed);
    if (!why.empty()) log::warn("first stage's /execution-parameters answer ignored: {}", why);
  }
  if (declared.max_concurrent_transforms)
    merged["MaxConcurrentTransforms"] = *declared.max_concurrent_transforms;
  if (declared.batch_strategy) merged["BatchStrategy"] = *declared.batch_strategy;
  if (declared.max_payload_mb) merged["MaxPayloadInMB"] = *declared.max_payload_mb;
  co_return merged.dump();
}

// Everything that can be checked before a stage runs, then the stages. False: the job cannot
// run; the reason is logged and in the report.
asio::awaitable<bool> TransformCommand::prepare() {
  job_name_ = job_.name.value_or(spec_.name + "-transform");
  report_.name = job_name_;
  report_.job = job_;
  report_.secret_env = spec::secret_env_names(spec_);
  report_.shard = options_.shard;
  for (const auto& note : options_.notes) log::info("{}", note);
  if (!plan()) co_return false;
  if (plan_.objects.empty()) co_return true;
  auto failure = co_await start_stages();
  if (stopping_) co_return false;
  if (failure) {
    report_.status = JobStatus::failed;
    report_.failure_reason = *failure;
    co_return false;
  }
  report_.parameters = parameters_;
  make_runner();
  co_return true;
}

// The data processing and the input listing. False: the job cannot run.
bool TransformCommand::plan() {
  std::string failure;
  const auto input_format = transform::data_format_of(job_.input.content_type.value_or(""));
  auto processor = transform::DataProcessor::create(job_.data_processing, input_format);
  if (!processor) {
    failure = "DataProcessing: " + processor.error().message;
  } else {
    processor_.emplace(std::move(*processor));
    try {
      plan_ = plan_inputs(job_, options_.shard, options_.resume);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
  report_.listed = plan_.listed;
  report_.other_shards = plan_.other_shards;
  report_.resumed = plan_.resumed;
  report_.left_out = plan_.left_out;
  if (!failure.empty()) {
    report_.status = JobStatus::failed;
    report_.failure_reason = failure;
    return false;
  }
  log::info("transform job '{}': {} object(s) listed; {} for this host{}{}", job_name_,
            plan_.listed, plan_.objects.size(),
            options_.shard.count > 1
                ? fmt::format(" (shard {} of {})", options_.shard.index, options_.shard.count)
                : std::string(),
            plan_.resumed.empty()
                ? std::string()
                : fmt::format("; {} already done (--resume)", plan_.resumed.size()));
  return true;
}

// Starts the stages and resolves the execution parameters; why the job cannot run, if it
// cannot.
asio::awaitable<std::optional<std::string>> TransformCommand::start_stages() {
  stages_ = std::make_unique<runtime::StageRuntime>(io_.get_executor(), spec_);
  std::optional<std::string> failure;
  try {
    co_await stages_->start();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (stopping_ || failure) co_return failure;
  const auto answer = co_await execution_parameters_answer();
  auto parameters = transform::resolve_execution_parameters(
      job_, answer ? std::optional<std::string_view>(*answer) : std::nullopt);
  if (!parameters) co_return parameters.error().message;
  parameters_ = *parameters;
  co_return std::nullopt;
}

void TransformCommand::make_runner() {
  JobSettings settings;
  const auto payload_limit = transform::payload_limit_bytes(parameters_.max_payload_in_mb);
  settings.read.split_type = job_.input.split_type;
  settings.read.compression = job_.input.compression;
  settings.read.reading =
      transform::plan_reading(payload_limit, parameters_.batch_strategy, job_.input.split_type,
                              processor_->filters_input() || processor_->joins());
  settings.read.batch_strategy = parameters_.batch_strategy;
  settings.read.payload_limit = payload_limit;
  settings.read.processor = &*processor_;
  settings.commit.output_store = plan_.output_store.get();
  settings.commit.processor = &*processor_;
  settings.commit.accept = job_.output.accept;
  settings.commit.assemble_with = job_.output.assemble_with;
  settings.max_in_flight =
      static_cast<std::size_t>(std::max<std::int64_t>(1, parameters_.max_concurrent_transforms));
  settings.max_retries = job_.invocations_max_retries;
  settings.content_type = job_.input.content_type;
  settings.accept = job_.output.accept;
  settings.job_name = job_name_;
  log::info(
      "transform job '{}': {} in flight at most, {}, MaxPayloadInMB {}, split {}, "
      "InvocationsTimeoutInSeconds {}, InvocationsMaxRetries {}",
      job_name_, settings.max_in_flight, transform::to_string(parameters_.batch_strategy),
      parameters_.max_payload_in_mb, transform::to_string(job_.input.split_type),
      job_.invocations_timeout_s, job_.invocations_max_retries);
  invoker_ = std::make_unique<StageInvoker>(*stages_);
  runner_ = std::make_unique<JobRunner>(io_, std::move(settings), plan_.objects, *invoker_);
}

// ---- progress and the report ----------------------------------------------------------------

Progress TransformCommand::progress() const {
  Progress p;
  p.objects_total = plan_.objects.size();
  if (runner_) runner_->count(p);
  for (const auto& input : plan_.objects) p.bytes_total += input.size;
  p.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  return p;
}

void TransformCommand::show_progress(bool final) {
  if (options_.quiet) return;
  if (tty_) {
    winsize ws{};
    const std::size_t width =
        ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 100;
    std::fprintf(stderr, "\r\033[K%s%s", progress_bar(progress(), width - 1).c_str(),
                 final ? "\n" : "");
    progress_shown_ = !final;
  } else {
    std::fprintf(stderr, "%s\n", progress_line(progress()).c_str());
  }
  std::fflush(stderr);
}

void TransformCommand::write_metrics(bool running, std::optional<bool> succeeded) {
  if (!options_.metrics_path) return;
  const std::string& path = *options_.metrics_path;
  const std::string temporary = path + ".tmp";
  const double started = std::chrono::duration<double>(started_wall_.time_since_epoch()).count();
  const auto written = common::write_private_file(
      temporary, progress_metrics(progress(), job_name_, running, succeeded, started));
  if (!written) {
    log::warn("could not write the metrics file {}: {}", temporary, written.error());
    return;
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    log::warn("could not rename {} to {}: {}", temporary, path, std::strerror(errno));
}

// Until the workers end: the progress every period, the metrics file every 5 s.
asio::awaitable<void> TransformCommand::progress_loop() {
  const auto period = tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000);
  constexpr auto kMetricsPeriod = std::chrono::seconds(5);
  auto metrics_written = Clock::now();
  write_metrics(true, std::nullopt);
  while (co_await runner_->wait(period) > 0) {
    show_progress(false);
    if (Clock::now() - metrics_written >= kMetricsPeriod) {
      write_metrics(true, std::nullopt);
      metrics_written = Clock::now();
    }
  }
}

void TransformCommand::finish_report() {
  report_.ended = std::chrono::system_clock::now();
  report_.started = started_wall_;
  const std::size_t failed = runner_ ? runner_->objects_failed() : 0;
  if (runner_) {
    report_.objects = runner_->reports();
  } else {
    for (const auto& input : plan_.objects) report_.objects.push_back(not_processed(input));
  }
  if (stop_signal_ != 0) {
    report_.status = JobStatus::stopped;
    report_.failure_reason =
        fmt::format("stopped by {}", stop_signal_ == SIGTERM ? "SIGTERM" : "SIGINT");
    exit_code_ = 128 + stop_signal_;
  } else if (report_.status == JobStatus::failed) {
    exit_code_ = kExitFailed;
  } else if (failed > 0) {
    report_.status = JobStatus::failed;
    report_.failure_reason = fmt::format("{} of {} object(s) failed; see each one's .out.errors",
                                         failed, plan_.objects.size());
    exit_code_ = kExitFailed;
  }
  if (progress_shown_) std::fputs("\n", stderr);
  write_metrics(false, report_.status == JobStatus::completed);
  std::fprintf(stderr, "%s\n", summary(report_).c_str());
  if (options_.report_path) {
    // Messages quote input bytes and keys name objects: either may be invalid UTF-8.
    const auto written = common::write_private_file(
        *options_.report_path,
        to_json(report_).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (!written) {
      log::error("could not write the report to {}: {}", *options_.report_path, written.error());
      if (exit_code_ == 0) exit_code_ = kExitFailed;
    }
  }
}

// ---- the job --------------------------------------------------------------------------------

asio::awaitable<void> TransformCommand::run() {
  const bool ready = co_await prepare();
  if (ready && runner_ && !stopping_) {
    runner_->start();
    running_ = true;
    asio::co_spawn(io_, progress_loop(), asio::detached);
    co_await runner_->finish();
    show_progress(true);
  }
  if (stages_) co_await stages_->stop();
  // Calls still running (a stopped job) end once their stages are gone.
  if (runner_) co_await runner_->calls_ended();
  finish_report();
}

void TransformCommand::stop(int signal_number) {
  if (stopping_) return;
  log::info("received {}; stopping the job: unfinished outputs are discarded",
            signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  stop_signal_ = signal_number;
  stopping_ = true;
  if (runner_) runner_->stop();
  if (stages_ && !running_) {
    // Still starting the stages: interrupt that.
    asio::co_spawn(io_, stages_->stop(), asio::detached);
  }
}

}  // namespace

int run_transform(const spec::PipelineSpec& spec, const transform::TransformJob& job,
                  const RunOptions& options) {
  asio::io_context io(1);
  TransformCommand command(io, spec, job, options);
  return runtime::run_until_done(
      io, command.run(), [&](int signal_number) { command.stop(signal_number); },
      [&] { return command.exit_code(); });
}

}  // namespace tandem::batch
