#include "pipeline/cli/serve.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>

#include "pipeline/capture/endpoint_capture.h"
#include "pipeline/common/log.h"
#include "pipeline/runtime/event_loop.h"
#include "pipeline/runtime/stage_runtime.h"
#include "pipeline/server/front_server.h"

namespace tandem::cli {

namespace asio = boost::asio;

namespace {

std::uint16_t resolve_port(const spec::PipelineSpec& spec, const ServeOptions& options) {
  if (options.port) return *options.port;
  if (const char* env = std::getenv("SAGEMAKER_BIND_TO_PORT"); env && *env) {
    char* end = nullptr;
    const long port = std::strtol(env, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
      throw std::runtime_error(std::string("SAGEMAKER_BIND_TO_PORT is not a port: '") + env + "'");
    return static_cast<std::uint16_t>(port);
  }
  return spec.server.port;
}

// The endpoint's life on the event loop: start the stages, serve until a signal asks to stop,
// then drain and stop the stages. A signal during start-up interrupts it.
struct App {
  asio::io_context& io;
  const spec::PipelineSpec& spec;
  const ServeOptions& options;
  runtime::StageRuntime stages{io.get_executor(), spec};
  std::unique_ptr<server::FrontServer> front;
  std::unique_ptr<capture::EndpointCapture> capture;
  bool stop_requested = false;
  bool serving = false;
  // Cancelled by the first SIGINT or SIGTERM while serving.
  asio::steady_timer stop_signal{io, asio::steady_timer::time_point::max()};
  int exit_code = 0;

  asio::awaitable<void> run() {
    if (!co_await start()) co_return;
    if (stop_requested) co_return co_await shutdown();
    if (!serve()) {
      co_await stages.stop();
      co_return;
    }
    serving = true;
    boost::system::error_code ec;
    while (!stop_requested)
      co_await stop_signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_await shutdown();
  }

  void request_stop(int signal_number) {
    if (stop_requested) return;
    log::info("received {}; shutting down", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_requested = true;
    if (serving) {
      stop_signal.cancel();
    } else {
      asio::co_spawn(io, stages.stop(), asio::detached);  // interrupts start-up
    }
  }

  // False when the endpoint cannot start (logged, exit code set) or a signal interrupted it.
  asio::awaitable<bool> start() {
    log::info("starting endpoint '{}': {} stage(s)", spec.name, spec.stages.size());
    std::optional<std::string> failure;
    try {
      co_await stages.start();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure) co_return true;
    if (!stop_requested) {  // interrupted by a signal: not a failure
      log::error("start-up failed: {}", *failure);
      exit_code = 1;
    }
    co_return false;
  }

  // Opens the front server; false (logged, exit code set) when it cannot listen.
  bool serve() {
    front = std::make_unique<server::FrontServer>(io.get_executor(), spec, stages.chain(), hooks());
    try {
      if (spec.capture) {
        capture = std::make_unique<capture::EndpointCapture>(spec, *spec.capture);
        log::info("capturing {}% of invocations to {}", spec.capture->sampling_percentage,
                  spec.capture->destination);
      }
      const auto host = options.host.value_or(spec.server.host);
      const auto endpoint = front->listen(host, resolve_port(spec, options));
      front->start();
      log::info(
          "endpoint '{}' serving on http://{}:{} (POST /invocations, POST "
          "/endpoints/{}/invocations, GET /ping)",
          spec.name, host, endpoint.port(), spec.name);
      return true;
    } catch (const std::exception& e) {
      log::error("{}", e.what());
      exit_code = 1;
      return false;
    }
  }

  server::FrontServerHooks hooks() {
    server::FrontServerHooks h;
    h.not_ready = [this] { return stages.not_ready(); };
    h.first_stage_parameters = [this] {
      return stages.first_stage_parameters(std::chrono::seconds(2));
    };
    h.stage_health = [this] {
      std::vector<server::LiveValues::Stage> health;
      for (const auto& s : stages.supervisor().status())
        health.push_back({s.state == supervisor::StageState::up, s.restarts});
      return health;
    };
    if (spec.capture) add_capture_hooks(h);
    return h;
  }

  void add_capture_hooks(server::FrontServerHooks& h) {
    h.capture_sample = [this] {
      if (!capture || !capture->sample()) return server::CaptureChoice::skip;
      return capture->stages() ? server::CaptureChoice::with_stages
                               : server::CaptureChoice::endpoint;
    };
    h.capture = [this](const chain::Invocation& request, const chain::InvocationResult& result,
                       const std::string& request_id, const server::Response& answer) {
      const auto content_type = answer[boost::beast::http::field::content_type];
      capture->record(request, result,
                      {request_id, static_cast<int>(answer.result_int()), answer.body(),
                       std::string_view(content_type.data(), content_type.size())});
    };
  }

  asio::awaitable<void> shutdown() {
    if (front) {
      log::info(
          "draining: /ping now fails, no new connections; waiting up to {:g} s for {} in-flight "
          "invocation(s)",
          std::chrono::duration<double>(spec.server.drain_timeout).count(), front->in_flight());
      const auto left = co_await front->drain(spec.server.drain_timeout);
      if (left)
        log::warn("{} invocation(s) still in flight after drain_timeout_s; stopping anyway", left);
    }
    if (capture) capture->close();
    co_await stages.stop();
    log::info("endpoint '{}' stopped", spec.name);
  }
};

}  // namespace

int serve(const spec::PipelineSpec& spec, const ServeOptions& options) {
  asio::io_context io(1);
  App app{io, spec, options};
  return runtime::run_until_done(
      io, app.run(), [&](int signal_number) { app.request_stop(signal_number); },
      [&] { return app.exit_code; });
}

}  // namespace tandem::cli
