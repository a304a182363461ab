// The job report as JSON (`--report`): CreateTransformJob's names for the job, then what
// happened to each object.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "pipeline/batch/report.h"
#include "pipeline/transform/options.h"

namespace tandem::batch {

namespace {

std::string iso8601(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(t)), ms.count() % 1000);
}

// The job as CreateTransformJob's request names its parts.
void add_job(nlohmann::ordered_json& j, const JobReport& r) {
  using transform::to_string;
  const auto& job = r.job;
  if (job.model_name) j["ModelName"] = *job.model_name;
  j["MaxConcurrentTransforms"] = r.parameters.max_concurrent_transforms;
  j["ModelClientConfig"] = {{"InvocationsTimeoutInSeconds", job.invocations_timeout_s},
                            {"InvocationsMaxRetries", job.invocations_max_retries}};
  j["MaxPayloadInMB"] = r.parameters.max_payload_in_mb;
  j["BatchStrategy"] = to_string(r.parameters.batch_strategy);
  nlohmann::ordered_json env = nlohmann::ordered_json::object();
  for (const auto& [k, v] : job.environment) env[k] = r.secret_env.contains(k) ? "<secret>" : v;
  j["Environment"] = env;
  nlohmann::ordered_json input;
  input["DataSource"]["S3DataSource"] = {{"S3DataType", to_string(job.input.data_type)},
                                         {"S3Uri", job.input.uri}};
  if (job.input.content_type) input["ContentType"] = *job.input.content_type;
  input["CompressionType"] = to_string(job.input.compression);
  input["SplitType"] = to_string(job.input.split_type);
  j["TransformInput"] = input;
  nlohmann::ordered_json output;
  output["S3OutputPath"] = job.output.path;
  if (job.output.accept) output["Accept"] = *job.output.accept;
  output["AssembleWith"] = to_string(job.output.assemble_with);
  j["TransformOutput"] = output;
  j["DataProcessing"] = {{"InputFilter", job.data_processing.input_filter},
                         {"OutputFilter", job.data_processing.output_filter},
                         {"JoinSource", to_string(job.data_processing.join_source)}};
}

nlohmann::ordered_json failure_json(const ObjectFailure& failure) {
  nlohmann::ordered_json f;
  if (failure.first_record) {
    f["FirstRecord"] = *failure.first_record;
    f["RecordCount"] = failure.record_count;
  }
  if (failure.byte_offset) f["ByteOffset"] = *failure.byte_offset;
  if (!failure.stage.empty()) {
    f["Stage"] = failure.stage;
    f["Container"] = failure.container;
    f["Status"] = failure.status;
  }
  f["Error"] = std::string(failure.error());
  f["Message"] = failure.message;
  if (failure.attempts > 0) f["Attempts"] = failure.attempts;
  return f;
}

nlohmann::ordered_json object_json(const ObjectReport& o) {
  nlohmann::ordered_json item;
  item["Input"] = o.input;
  item["Output"] = o.output;
  item["Status"] = batch::to_string(o.status);
  item["Records"] = o.records;
  item["Requests"] = o.requests;
  item["BytesRead"] = o.bytes_read;
  item["BytesWritten"] = o.bytes_written;
  item["Seconds"] = o.seconds;
  if (o.failure) item["Failure"] = failure_json(*o.failure);
  return item;
}

}  // namespace

nlohmann::ordered_json to_json(const JobReport& r) {
  nlohmann::ordered_json j;
  j["TransformJobName"] = r.name;
  j["TransformJobStatus"] = batch::to_string(r.status);
  if (!r.failure_reason.empty()) j["FailureReason"] = r.failure_reason;
  add_job(j, r);
  j["TransformStartTime"] = iso8601(r.started);
  j["TransformEndTime"] = iso8601(r.ended);
  j["Shard"] = {{"Index", r.shard.index},
                {"Count", r.shard.count},
                {"ObjectsListed", r.listed},
                {"ObjectsOfOtherShards", r.other_shards}};
  j["Resumed"] = r.resumed;
  nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
  for (const auto& entry : r.left_out.skipped) {
    skipped.push_back({{"Input", entry.input}, {"Reason", entry.reason}});
  }
  j["Skipped"] = skipped;
  j["OutputFolderObjectsNotRead"] = r.left_out.in_output_folder;
  std::uint64_t records = 0, read = 0, written = 0;
  std::size_t failed = 0, completed = 0;
  nlohmann::ordered_json objects = nlohmann::ordered_json::array();
  for (const auto& o : r.objects) {
    records += o.records;
    read += o.bytes_read;
    written += o.bytes_written;
    if (o.status == ObjectStatus::failed) ++failed;
    if (o.status == ObjectStatus::completed) ++completed;
    objects.push_back(object_json(o));
  }
  const double seconds = std::chrono::duration<double>(r.ended - r.started).count();
  j["Totals"] = {{"Objects", r.objects.size()}, {"Completed", completed}, {"Failed", failed},
                 {"Records", records},          {"BytesRead", read},      {"BytesWritten", written},
                 {"Seconds", seconds}};
  j["Objects"] = objects;
  return j;
}

}  // namespace tandem::batch
