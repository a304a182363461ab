#include "pipeline/batch/invoker.h"

#include "pipeline/runtime/stage_runtime.h"

namespace tandem::batch {

boost::asio::awaitable<chain::InvocationResult> StageInvoker::invoke(chain::Invocation invocation) {
  co_return co_await stages_.chain().invoke(std::move(invocation));
}

}  // namespace tandem::batch
