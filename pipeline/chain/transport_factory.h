// Builds the transport the spec asks for one stage (`transport: http | shm`), sized by the
// spec's limits. Every caller that runs requests through stages (serve, batch transform)
// builds them here, so both talk to a stage the same way.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <memory>

#include "pipeline/chain/transport.h"
#include "pipeline/spec/spec.h"
#include "tandem/proto/shm_ring.h"

namespace tandem::chain {

// An HTTP transport starts with port 0: reset(port) once the supervisor has given the stage
// its port. A shm transport needs prepare_launch() before each launch of the stage.
std::unique_ptr<StageTransport> make_stage_transport(boost::asio::any_io_executor executor,
                                                     const spec::PipelineSpec& spec,
                                                     std::size_t stage);

// The segment geometry of a shm stage: max_inflight slots, each holding the largest request
// the stage can receive (the client payload or another stage's response) and the largest
// response it may send.
proto::shm::Geometry shm_geometry(const spec::PipelineSpec& spec, std::size_t stage);

}  // namespace tandem::chain
