#include "pipeline/capture/endpoint_capture.h"

#include "pipeline/common/log.h"

namespace tandem::capture {

storage::Location open_destination(const std::string& destination) {
  // A trailing '/' makes a local path a folder (created on the first write) rather than a
  // file name in its parent, and an S3 prefix a folder.
  auto location =
      storage::open_location(destination.ends_with('/') ? destination : destination + "/");
  if (!location.prefix.empty() && !location.prefix.ends_with('/')) location.prefix += '/';
  log::debug("capture destination {}: {}", destination, location.description);
  return location;
}

EndpointCapture::EndpointCapture(const spec::PipelineSpec& spec, const spec::CaptureSpec& capture)
    : spec_(spec), capture_(capture), sampler_(capture.sampling_percentage) {
  WriterOptions options;
  options.endpoint = spec.name;
  options.rules.csv = capture.csv_content_types;
  options.rules.json = capture.json_content_types;
  options.max_file_bytes = capture.max_file_bytes;
  options.rotate_interval = capture.rotate_interval;
  options.queue_records = capture.queue_records;
  options.queue_bytes = capture.queue_bytes;
  writer_ = std::make_unique<CaptureWriter>(open_destination(capture.destination), options);
}

void EndpointCapture::record(const chain::Invocation& request,
                             const chain::InvocationResult& result, const Answer& answer) {
  Event event;
  event.inference_time = std::chrono::system_clock::now();
  event.event_id = answer.request_id;
  // The front server uses the request id as inference id when the client sent none.
  if (request.inference_id != answer.request_id) event.inference_id = request.inference_id;
  event.custom_attributes = request.custom_attributes;
  event.accept = request.accept;
  event.status = answer.status;
  if (capture_.input)
    event.input = Payload{request.content_type.value_or(""), request.body, Encoding::base64};
  if (capture_.output)
    event.output =
        Payload{std::string(answer.content_type), std::string(answer.body), Encoding::base64};
  for (std::size_t i = 0; i < result.hops.size() && i < result.timings.size(); ++i) {
    const auto& hop = result.hops[i];
    const auto& stage = spec_.stages[hop.stage];
    StageRecord record{
        stage.name,   stage.container, result.timings[i].status, result.timings[i].duration,
        std::nullopt, std::nullopt};
    record.input =
        Payload{hop.request_content_type.value_or(""), hop.request_body, Encoding::base64};
    if (record.status != 0)
      record.output = Payload{hop.response_content_type, hop.response_body, Encoding::base64};
    event.stages.push_back(std::move(record));
  }
  writer_->submit(std::move(event));
}

void EndpointCapture::close() {
  writer_->close();
  const auto counts = writer_->counts();
  log::info("capture: {} record(s) written in {} file(s) to {}; {} dropped, {} lost to errors",
            counts.written, counts.files, capture_.destination, counts.dropped, counts.failed);
}

}  // namespace tandem::capture
