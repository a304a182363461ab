// Data capture for `tandem serve`: decides which invocations are kept (the sampler), turns an
// answered invocation into a capture Event, and hands it to the CaptureWriter. Called on the
// event loop; record() copies what it keeps and returns without touching storage.
#pragma once

#include <memory>
#include <string_view>

#include "pipeline/capture/sampler.h"
#include "pipeline/capture/writer.h"
#include "pipeline/chain/invocation.h"
#include "pipeline/spec/spec.h"

namespace tandem::capture {

class EndpointCapture {
 public:
  // Opens the destination (throws storage::StorageError naming it) and starts the writer.
  EndpointCapture(const spec::PipelineSpec& spec, const spec::CaptureSpec& capture);

  // Whether to capture the next invocation.
  bool sample() { return sampler_.next(); }
  bool stages() const { return capture_.stages; }

  // The answer the client got: its request id (x-amzn-RequestId, which becomes the event id),
  // status, body and Content-Type.
  struct Answer {
    std::string_view request_id;
    int status = 200;
    std::string_view body;
    std::string_view content_type;
  };
  void record(const chain::Invocation& request, const chain::InvocationResult& result,
              const Answer& answer);

  // Writes what is queued and commits the open file; logs the counts.
  void close();

 private:
  const spec::PipelineSpec& spec_;
  const spec::CaptureSpec& capture_;
  Sampler sampler_;
  std::unique_ptr<CaptureWriter> writer_;
};

// The capture destination as a storage location whose prefix names a folder (ends in '/').
storage::Location open_destination(const std::string& destination);

}  // namespace tandem::capture
