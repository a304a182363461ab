// The local replay target: the pipeline's stages started and called through a StageRuntime, as
// `tandem serve` and `tandem transform` do.
#include <fmt/format.h>

#include "pipeline/capture/replay_target.h"
#include "pipeline/runtime/stage_runtime.h"

namespace tandem::capture {
namespace {

namespace asio = boost::asio;

class LocalTarget final : public ReplayTarget {
 public:
  LocalTarget(asio::any_io_executor executor, const spec::PipelineSpec& spec)
      : spec_(spec), stages_(executor, spec) {}

  asio::awaitable<void> start() override { co_await stages_.start(); }

  asio::awaitable<Reply> send(const Event& event, bool record_stages) override {
    chain::Invocation invocation;
    invocation.body = event.input ? event.input->data : std::string();
    if (event.input && !event.input->content_type.empty())
      invocation.content_type = event.input->content_type;
    invocation.accept = event.accept;
    invocation.custom_attributes = event.custom_attributes;
    invocation.inference_id = replay_inference_id(event);
    invocation.record_hops = record_stages;
    auto result = co_await stages_.chain().invoke(std::move(invocation));
    Reply reply;
    reply.total = result.total;
    if (result.error) {
      reply.status = proto::to_http_status(result.error->type);
      reply.body = proto::error_body(*result.error);
      reply.content_type = "application/json";
    } else {
      reply.status = 200;
      reply.body = std::move(result.body);
      reply.content_type = std::move(result.content_type);
    }
    for (std::size_t i = 0; i < result.hops.size() && i < result.timings.size(); ++i) {
      auto& hop = result.hops[i];
      const auto& stage = spec_.stages[hop.stage];
      StageRecord record{
          stage.name,   stage.container, result.timings[i].status, result.timings[i].duration,
          std::nullopt, std::nullopt};
      record.input = Payload{hop.request_content_type.value_or(""), std::move(hop.request_body),
                             Encoding::base64};
      if (record.status != 0) {
        record.output = Payload{std::move(hop.response_content_type), std::move(hop.response_body),
                                Encoding::base64};
      }
      reply.stages.push_back(std::move(record));
    }
    co_return reply;
  }

  asio::awaitable<void> stop() override { co_await stages_.stop(); }

  std::string describe() const override {
    return fmt::format("pipeline '{}' started here ({} stage(s))", spec_.name, spec_.stages.size());
  }

 private:
  const spec::PipelineSpec& spec_;
  runtime::StageRuntime stages_;
};

}  // namespace

std::string replay_inference_id(const Event& event) {
  if (event.inference_id && !event.inference_id->empty()) return *event.inference_id;
  return event.event_id.substr(0, 64);
}

std::unique_ptr<ReplayTarget> make_local_target(asio::any_io_executor executor,
                                                const spec::PipelineSpec& spec) {
  return std::make_unique<LocalTarget>(executor, spec);
}

}  // namespace tandem::capture
