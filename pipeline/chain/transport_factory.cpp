#include "pipeline/chain/transport_factory.h"

#include <algorithm>

#include "pipeline/chain/http_transport.h"
#include "pipeline/chain/shm_transport.h"

namespace tandem::chain {

proto::shm::Geometry shm_geometry(const spec::PipelineSpec& spec, std::size_t stage) {
  proto::shm::Geometry geometry;
  geometry.slot_count = spec.stages.at(stage).max_inflight;
  geometry.request_capacity =
      std::max(spec.server.max_payload_bytes, spec.server.stage_payload_bytes);
  geometry.response_capacity = spec.server.stage_payload_bytes;
  return geometry;
}

std::unique_ptr<StageTransport> make_stage_transport(boost::asio::any_io_executor executor,
                                                     const spec::PipelineSpec& spec,
                                                     std::size_t stage) {
  if (spec.stages.at(stage).transport == spec::Transport::shm) {
    return std::make_unique<ShmStageTransport>(
        std::move(executor), ShmStageTransport::Options{shm_geometry(spec, stage)});
  }
  HttpStageTransport::Options o;
  o.port = 0;
  o.response_body_limit = spec.server.stage_payload_bytes;
  o.max_idle_connections = spec.stages[stage].max_inflight;
  o.stage = spec.stages[stage].name;
  return std::make_unique<HttpStageTransport>(std::move(executor), o);
}

}  // namespace tandem::chain
