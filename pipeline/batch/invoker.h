// The one thing a transform job asks of the stages: run this request through the chain. The
// job's runner holds a BatchInvoker, not the stage runtime, so its ordering, retries and
// stopping are tested with scripted fakes (tests/unit/batch/job_runner_test.cpp).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "pipeline/chain/invocation.h"

namespace tandem::runtime {
class StageRuntime;
}

namespace tandem::batch {

class BatchInvoker {
 public:
  virtual ~BatchInvoker() = default;
  // Called on the event loop. A failed call is a result with `error` set, never an exception.
  virtual boost::asio::awaitable<chain::InvocationResult> invoke(chain::Invocation invocation) = 0;
};

// Over the chain of stages that `stages` runs; valid once they have started. Does not own them.
class StageInvoker final : public BatchInvoker {
 public:
  explicit StageInvoker(runtime::StageRuntime& stages) : stages_(stages) {}
  boost::asio::awaitable<chain::InvocationResult> invoke(chain::Invocation invocation) override;

 private:
  runtime::StageRuntime& stages_;
};

}  // namespace tandem::batch
