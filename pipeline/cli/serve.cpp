#include "pipeline/cli/serve.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>

#include "pipeline/capture/endpoint_capture.h"
#include "pipeline/common/log.h"
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

struct App {
  asio::io_context& io;
  const spec::PipelineSpec& spec;
  const ServeOptions& options;
  runtime::StageRuntime stages{io.get_executor(), spec};
  std::unique_ptr<server::FrontServer> front;
  std::unique_ptr<capture::EndpointCapture> capture;
  bool stop_requested = false;
  int exit_code = 0;

  asio::awaitable<void> run() {
    log::info("starting endpoint '{}': {} stage(s)", spec.name, spec.stages.size());
    std::optional<std::string> failure;
    try {
      co_await stages.start();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (failure) {
      if (stop_requested) co_return;  // interrupted by a signal: not a failure
      log::error("start-up failed: {}", *failure);
      exit_code = 1;
      co_return;
    }
    if (stop_requested) co_return co_await shutdown();
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
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (failure) {
      log::error("{}", *failure);
      exit_code = 1;
      co_await stages.stop();
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
    io.stop();
  }
};

}  // namespace

int serve(const spec::PipelineSpec& spec, const ServeOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  App app{io, spec, options};
  asio::signal_set signals(io, SIGINT, SIGTERM);
  bool started = false;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    log::info("received {}; shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    app.stop_requested = true;
    if (started) {
      asio::co_spawn(io, app.shutdown(), asio::detached);
    } else {
      asio::co_spawn(io, app.stages.stop(), asio::detached);  // interrupts start-up
    }
  });
  asio::co_spawn(io, app.run(), [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("internal error: {}", ex.what());
      }
      app.exit_code = 70;
    }
    started = true;
    if (app.exit_code != 0) {
      io.stop();
    } else if (app.stop_requested && app.front) {
      asio::co_spawn(io, app.shutdown(), asio::detached);
    } else if (app.stop_requested) {
      io.stop();
    }
  });
  io.run();
  return app.exit_code;
}

}  // namespace tandem::cli
