#include "pipeline/runtime/stage_runtime.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>

#include "pipeline/chain/transport_factory.h"
#include "pipeline/common/http_client.h"

namespace tandem::runtime {

namespace asio = boost::asio;

class StageRuntime::Health final : public chain::StageHealth {
 public:
  explicit Health(const supervisor::Supervisor& s) : supervisor_(s) {}
  std::optional<std::string> unavailable(std::size_t stage) const override {
    return supervisor_.unavailable(stage);
  }

 private:
  const supervisor::Supervisor& supervisor_;
};

StageRuntime::StageRuntime(asio::any_io_executor executor, const spec::PipelineSpec& spec)
    : executor_(executor),
      spec_(spec),
      supervisor_(executor, spec),
      health_(std::make_unique<Health>(supervisor_)) {
  for (std::size_t i = 0; i < spec.stages.size(); ++i) {
    transports_.push_back(chain::make_stage_transport(executor, spec, i));
    transport_of_.push_back(transports_.back().get());
  }
  supervisor_.on_launch([this](std::size_t stage, supervisor::LaunchSpec& launch) {
    auto channel = transport_of_[stage]->prepare_launch();
    for (auto& [name, value] : channel.env) launch.env[name] = value;
    for (auto& fd : channel.fds) launch.inherit.push_back(std::move(fd));
  });
}

StageRuntime::~StageRuntime() = default;

asio::awaitable<void> StageRuntime::start() {
  co_await supervisor_.start();
  for (std::size_t i = 0; i < spec_.stages.size(); ++i) transports_[i]->reset(supervisor_.port(i));
  chain_ =
      std::make_unique<chain::ChainExecutor>(executor_, spec_, std::move(transports_), *health_);
  supervisor_.on_restarted(
      [this](std::size_t stage, std::uint16_t port) { chain_->stage_restarted(stage, port); });
}

asio::awaitable<void> StageRuntime::stop() {
  co_await supervisor_.stop();
}

asio::awaitable<std::optional<std::string>> StageRuntime::first_stage_parameters(
    std::chrono::milliseconds timeout) const {
  const asio::ip::tcp::endpoint ep(asio::ip::address_v4::loopback(), supervisor_.port(0));
  auto r = co_await common::one_shot_get(ep, "/execution-parameters", timeout);
  if (r && r->status == 200) co_return std::move(r->body);
  co_return std::nullopt;
}

std::optional<std::string> StageRuntime::not_ready() const {
  std::string why;
  for (const auto& s : supervisor_.status()) {
    if (s.state == supervisor::StageState::up) continue;
    why +=
        fmt::format("{}stage '{}' ({}) is {}{}", why.empty() ? "" : "; ", s.name, s.container,
                    supervisor::to_string(s.state), s.detail.empty() ? "" : " (" + s.detail + ")");
  }
  if (why.empty() && !supervisor_.all_up()) why = "stages are not running";
  if (why.empty()) return std::nullopt;
  return why;
}

}  // namespace tandem::runtime
