#include "pipeline/capture/replay.h"

#include <signal.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <thread>

#include "pipeline/capture/replay_report.h"
#include "pipeline/capture/replay_target.h"
#include "pipeline/common/gate.h"
#include "pipeline/common/log.h"
#include "pipeline/common/private_file.h"
#include "pipeline/runtime/event_loop.h"

namespace tandem::capture {
namespace {

namespace asio = boost::asio;
using Json = nlohmann::ordered_json;

// Runs `work` on a helper thread and resumes on the loop when it is done; its exception, if
// any, is rethrown here.
asio::awaitable<ObjectEvents> off_loop(asio::io_context& io, std::function<ObjectEvents()> work) {
  asio::steady_timer done(io, asio::steady_timer::time_point::max());
  ObjectEvents result;
  std::exception_ptr failure;
  std::thread thread([&] {
    try {
      result = work();
    } catch (...) {
      failure = std::current_exception();
    }
    asio::post(io, [&] { done.cancel(); });
  });
  boost::system::error_code ec;
  co_await done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  thread.join();
  if (failure) std::rethrow_exception(failure);
  co_return result;
}

std::string display_name(const Objects& objects, const std::string& uri, const std::string& key) {
  const auto& prefix = objects.location.prefix;
  if (key == prefix) return uri;
  std::string base = uri;
  if (!prefix.empty() && !prefix.ends_with('/') && !base.ends_with('/'))
    return base + key.substr(prefix.size());
  if (!base.ends_with('/')) base += '/';
  return base + key.substr(prefix.size());
}

bool write_json(const std::string& path, const Json& json) {
  return common::write_private_file(path,
                                    json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n")
      .ok();
}

class Replayer {
 public:
  Replayer(asio::io_context& io, const spec::PipelineSpec& spec, const ReplayOptions& options)
      : io_(io),
        spec_(spec),
        options_(options),
        wanted_(options.only.begin(), options.only.end()) {}

  int exit_code() const { return exit_code_; }

  asio::awaitable<void> run();
  void stop(int signal_number);

 private:
  asio::awaitable<void> replay_object(const Objects& objects, const std::string& uri,
                                      const std::string& key);
  asio::awaitable<void> worker(std::vector<SourcedEvent>& events, std::size_t& next,
                               std::vector<std::optional<Outcome>>& outcomes);
  void write_trace(const SourcedEvent& event, const Reply& reply, const Outcome& outcome);
  void finish();

  asio::io_context& io_;
  const spec::PipelineSpec& spec_;
  const ReplayOptions& options_;
  std::set<std::string> wanted_;
  std::set<std::string> found_;
  std::unique_ptr<ReplayTarget> target_;
  ReplaySummary summary_;
  bool stopping_ = false;
  bool started_ = false;
  bool trace_failed_ = false;
  int stop_signal_ = 0;
  int exit_code_ = 0;
};

asio::awaitable<void> Replayer::run() {
  const std::string uri = options_.capture ? *options_.capture : *options_.input;
  std::optional<Objects> objects;
  std::string failure;
  try {
    objects = list_objects(uri, options_.input.has_value());
    // Traces hold request bodies: a folder tandem creates for them is 0750, as outputs are.
    if (options_.trace_dir && std::filesystem::create_directories(*options_.trace_dir)) {
      std::filesystem::permissions(*options_.trace_dir, std::filesystem::perms(0750));
    }
    if (options_.endpoint) {
      target_ = make_endpoint_target(io_.get_executor(), *options_.endpoint,
                                     spec_.server.invocation_timeout + std::chrono::seconds(10));
    } else {
      target_ = make_local_target(io_.get_executor(), spec_);
    }
    co_await target_->start();
    started_ = true;
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (stopping_) failure.clear();
  if (!failure.empty()) log::error("replay cannot run: {}", failure);
  if (failure.empty() && !stopping_) {
    log::info("replaying {} object(s) of {} through {}, {} at a time", objects->keys.size(), uri,
              target_->describe(), options_.concurrency);
    for (const auto& key : objects->keys) {
      if (stopping_) break;
      try {
        co_await replay_object(*objects, uri, key);
      } catch (const std::exception& e) {
        summary_.malformed.push_back(
            MalformedLine::at(display_name(*objects, uri, key), 0, e.what()));
      }
    }
  }
  if (target_) co_await target_->stop();
  if (!failure.empty()) {
    exit_code_ = kReplayCannotRun;
    co_return;
  }
  finish();
}

asio::awaitable<void> Replayer::replay_object(const Objects& objects, const std::string& uri,
                                              const std::string& key) {
  const std::string name = display_name(objects, uri, key);
  auto& store = *objects.location.store;
  // An input record's id: the object's name (its path under the input URI) and number.
  const std::string id_prefix = key == objects.location.prefix
                                    ? std::filesystem::path(key).filename().string()
                                    : key.substr(objects.location.prefix.size());
  std::function<ObjectEvents()> read = [&] { return read_capture_file(store, key, name); };
  if (options_.input) {
    read = [&] { return read_input_object(store, key, name, id_prefix, options_.input_settings); };
  }
  ObjectEvents read_events = co_await off_loop(io_, std::move(read));
  for (auto& line : read_events.malformed) summary_.malformed.push_back(std::move(line));
  std::vector<SourcedEvent> events;
  for (auto& event : read_events.events) {
    if (!wanted_.empty() && !wanted_.contains(event.event.event_id)) continue;
    found_.insert(event.event.event_id);
    events.push_back(std::move(event));
  }
  std::vector<std::optional<Outcome>> outcomes(events.size());
  std::size_t next = 0;
  const std::size_t workers =
      std::max<std::size_t>(1, std::min(options_.concurrency, events.size()));
  common::Gate running(io_.get_executor());
  for (std::size_t i = 0; i < workers; ++i) {
    running.enter();
    asio::co_spawn(io_, worker(events, next, outcomes), [&](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log::error("replay: internal error: {}", ex.what());
        }
      }
      running.leave();
    });
  }
  co_await running.wait();
  for (auto& outcome : outcomes) {
    if (outcome) summary_.outcomes.push_back(std::move(*outcome));
  }
}

asio::awaitable<void> Replayer::worker(std::vector<SourcedEvent>& events, std::size_t& next,
                                       std::vector<std::optional<Outcome>>& outcomes) {
  const bool record_stages = options_.trace_dir.has_value();
  while (!stopping_ && next < events.size()) {
    const std::size_t index = next++;
    const auto& event = events[index];
    Reply reply;
    if (!event.event.input) {
      reply.failure = "the capture holds no input for this event (modes without Input)";
    } else {
      reply = co_await target_->send(event.event, record_stages || !event.event.stages.empty());
    }
    Outcome outcome = judge(event, reply, options_.tolerance);
    if (options_.trace_dir) write_trace(event, reply, outcome);
    outcomes[index] = std::move(outcome);
  }
}

void Replayer::write_trace(const SourcedEvent& event, const Reply& reply, const Outcome& outcome) {
  const auto path =
      std::filesystem::path(*options_.trace_dir) / trace_file_name(event.event.event_id);
  if (!write_json(path.string(), trace_json(event, reply, outcome)) && !trace_failed_) {
    log::error("replay: cannot write the trace {}", path.string());
    trace_failed_ = true;
  }
}

void Replayer::finish() {
  auto& totals = summary_.totals;
  for (const auto& outcome : summary_.outcomes) {
    ++totals.events;
    totals.warnings += outcome.warnings.size();
    switch (outcome.verdict) {
      case Verdict::matched:
        ++totals.matched;
        break;
      case Verdict::differed:
        ++totals.differed;
        break;
      case Verdict::failed:
        ++totals.failed;
        break;
      case Verdict::replayed:
        ++totals.replayed;
        break;
    }
  }
  totals.malformed = summary_.malformed.size();
  for (const auto& id : options_.only) {
    if (!found_.contains(id)) summary_.not_found.push_back(id);
  }
  totals.not_found = summary_.not_found.size();
  std::fputs(describe(summary_).c_str(), stdout);
  std::fflush(stdout);
  exit_code_ = totals.all_matched() && !trace_failed_ ? 0 : kReplayDiffered;
  if (options_.report_path && !write_json(*options_.report_path, to_json(summary_))) {
    log::error("replay: cannot write the report {}", *options_.report_path);
    exit_code_ = kReplayDiffered;
  }
  if (stop_signal_ != 0) exit_code_ = 128 + stop_signal_;
}

void Replayer::stop(int signal_number) {
  if (stopping_) return;
  log::info("received {}; stopping the replay after the events in flight",
            signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  stopping_ = true;
  stop_signal_ = signal_number;
  // Still starting the stages: interrupt that.
  if (target_ && !started_) asio::co_spawn(io_, target_->stop(), asio::detached);
}

}  // namespace

int run_replay(const spec::PipelineSpec& spec, const ReplayOptions& options) {
  asio::io_context io(1);
  Replayer replayer(io, spec, options);
  return runtime::run_until_done(
      io, replayer.run(), [&](int signal_number) { replayer.stop(signal_number); },
      [&] { return replayer.exit_code(); });
}

}  // namespace tandem::capture
