#include "pipeline/batch/commit.h"

#include "pipeline/batch/store_calls.h"
#include "pipeline/common/log.h"

namespace tandem::batch {

ObjectReport not_processed(const InputObject& input) {
  ObjectReport report;
  report.input = input.uri;
  report.output = input.output_uri;
  return report;
}

ObjectCommit::ObjectCommit(const CommitSettings& settings, const InputObject& input,
                           std::function<void()> on_failure)
    : settings_(settings),
      input_(input),
      on_failure_(std::move(on_failure)),
      report_(not_processed(input)) {}

void ObjectCommit::consume(const Request& request) {
  if (failed_) return;  // in flight when an earlier batch failed: its output is moot
  // A streamed request cut short by an input error: the object's end carries the reason.
  if (request.stream && request.stream->failure()) return;
  const auto& batch = request.batch;
  const auto& result = request.result;
  if (result.error) {
    fail(ObjectFailure::call(batch, *result.error, request.attempts),
         request.stream ? std::nullopt : std::optional<std::string_view>(batch.bytes));
    return;
  }
  if (request.stream_cut) {
    fail(ObjectFailure::answered_early(batch), std::nullopt);
    return;
  }
  std::string_view content_type = result.content_type;
  if ((content_type.empty() || content_type == "application/octet-stream") && settings_.accept)
    content_type = *settings_.accept;
  auto out = settings_.processor->process_response(
      batch, result.body, transform::data_format_of(content_type), settings_.assemble_with);
  if (!out) {
    fail(ObjectFailure::data_processing(batch, out.error().message), batch.bytes);
    return;
  }
  if (auto appended = append(*out); !appended) fail(std::move(appended).error(), std::nullopt);
}

tandem::Status<ObjectFailure> ObjectCommit::append(const std::string& bytes) {
  if (!output_) {
    auto created = store::create(*settings_.output_store, input_.output_key);
    if (!created) return std::move(created).error();
    output_ = std::move(*created);
  }
  if (auto written = store::write(*output_, bytes); !written) return written;
  report_.bytes_written += bytes.size();
  return {};
}

void ObjectCommit::fail(ObjectFailure failure, std::optional<std::string_view> data) {
  if (!failed_) {
    failed_ = true;
    on_failure_();  // the reader stops reading this object
  }
  abort();
  error_lines_ += error_line(input_.uri, failure, data);
  if (!report_.failure) report_.failure = std::move(failure);
}

void ObjectCommit::abort() {
  if (output_) {
    output_->abort();
    output_.reset();
  }
}

void ObjectCommit::finish(const std::optional<ObjectFailure>& read_failure,
                          const ReadTotals& totals) {
  if (read_failure && !failed_) fail(*read_failure, std::nullopt);
  report_.records = totals.records;
  report_.requests = totals.requests;
  report_.bytes_read = totals.bytes_read;
  if (!failed_) {
    if (auto committed = commit_output(); committed) {
      report_.status = ObjectStatus::completed;
    } else {
      fail(std::move(committed).error(), std::nullopt);
    }
  }
  if (failed_) {
    report_.status = ObjectStatus::failed;
    write_errors();
    log::error("{}: FAILED, no .out written: {} (details in {}.errors)", input_.uri,
               describe(*report_.failure), input_.output_uri);
  }
  report_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - totals.started).count();
}

// The `.out` (empty when the object had no records), then the `.out.errors` an earlier run
// that failed may have left; either failing fails the object.
tandem::Status<ObjectFailure> ObjectCommit::commit_output() {
  auto& store = *settings_.output_store;
  if (!output_) {
    auto created = store::create(store, input_.output_key);
    if (!created) return std::move(created).error();
    output_ = std::move(*created);
  }
  auto committed = store::commit(*output_);
  output_.reset();
  if (!committed) return committed;
  return store::remove(store, input_.errors_key);
}

void ObjectCommit::write_errors() {
  const auto written = [&]() -> tandem::Status<ObjectFailure> {
    auto errors = store::create(*settings_.output_store, input_.errors_key);
    if (!errors) return std::move(errors).error();
    if (auto status = store::write(**errors, error_lines_); !status) return status;
    return store::commit(**errors);
  }();
  if (!written) {
    log::error("{}: could not write {}.errors: {}", input_.uri, input_.output_uri,
               written.error().message);
  }
}

}  // namespace tandem::batch
