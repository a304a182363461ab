// One mini-batch on its way from the reader through the chain to the commit, or the end of an
// object. Shared by the three threads of a transform job: the reader fills it, the event loop
// calls the chain with it, the writer commits its result; JobRunner's mutex guards the fields
// that change after it is queued (marked below).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "pipeline/batch/chunk_stream.h"
#include "pipeline/batch/failure.h"
#include "pipeline/chain/invocation.h"
#include "pipeline/transform/batcher.h"

namespace tandem::batch {

struct Request {
  std::size_t object = 0;  // index into the job's input objects
  bool end = false;
  std::optional<ObjectFailure> read_failure;  // with `end`: why reading stopped
  transform::Batch batch;
  // MaxPayloadInMB 0: the object streamed as this one request. The reader fills `batch`'s
  // counts while it streams and sets `input_complete` (under the mutex) at the end.
  std::shared_ptr<ChunkStream> stream;
  bool input_complete = true;
  bool stream_cut = false;  // the reader stopped before the object's end
  // Set on the event loop (`done` under the mutex); read by the writer once `done`.
  bool done = false;
  chain::InvocationResult result;
  int attempts = 0;
};

}  // namespace tandem::batch
