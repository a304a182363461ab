// A pipeline's stages, running: the Supervisor that owns their processes, one transport per
// stage (HTTP or shared memory; made before the stages start, since a shared-memory stage
// inherits its channel at every launch) and the ChainExecutor over them. `tandem serve`,
// `tandem transform` and `tandem replay` start their stages through this one piece, so a
// pipeline behaves the same in each.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/chain/executor.h"
#include "pipeline/spec/spec.h"
#include "pipeline/supervisor/supervisor.h"

namespace tandem::runtime {

class StageRuntime {
 public:
  // `spec` must outlive the runtime.
  StageRuntime(boost::asio::any_io_executor executor, const spec::PipelineSpec& spec);
  ~StageRuntime();
  StageRuntime(const StageRuntime&) = delete;
  StageRuntime& operator=(const StageRuntime&) = delete;

  // Starts every stage and waits until each passes /ping, then builds the executor. Throws
  // supervisor::StartupError (the stages it started are stopped).
  boost::asio::awaitable<void> start();
  // SIGTERM, then SIGKILL after the spec's stage_stop_timeout_s; also interrupts start().
  boost::asio::awaitable<void> stop();

  supervisor::Supervisor& supervisor() { return supervisor_; }
  const supervisor::Supervisor& supervisor() const { return supervisor_; }
  // Valid once start() has returned.
  chain::ChainExecutor& chain() { return *chain_; }
  bool started() const { return chain_ != nullptr; }

  // The first stage's GET /execution-parameters body when it answers 200, else nullopt.
  boost::asio::awaitable<std::optional<std::string>> first_stage_parameters(
      std::chrono::milliseconds timeout) const;

  // Why the pipeline cannot serve now ("stage 'model' (container-2) is starting; ..."), or
  // nullopt when every stage is up.
  std::optional<std::string> not_ready() const;

 private:
  class Health;

  boost::asio::any_io_executor executor_;
  const spec::PipelineSpec& spec_;
  supervisor::Supervisor supervisor_;
  std::unique_ptr<Health> health_;
  std::vector<std::unique_ptr<chain::StageTransport>> transports_;  // until start() hands them on
  std::vector<chain::StageTransport*> transport_of_;
  std::unique_ptr<chain::ChainExecutor> chain_;
};

}  // namespace tandem::runtime
