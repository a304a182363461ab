// DataProcessing as batch transform runs it: Line records of CSV or JSON Lines go through the
// InputFilter, into mini-batches, to a stage, and the stage's response through the join and the
// OutputFilter.
//
// Byte 0: bit 0 input format (CSV, JSON), bit 1 JoinSource Input, bits 2-3 response format
// (CSV, JSON, other), bit 4 AssembleWith Line, bit 5 SingleRecord, bits 6-7 the payload limit.
// Then the InputFilter line, the OutputFilter line and the object; the stage answers each batch
// with what follows a 0x1e byte in the object, or else echoes the batch (an identity stage).
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/transform/batcher.h"
#include "pipeline/transform/data_processing.h"
#include "pipeline/transform/splitter.h"

namespace {

using namespace tandem::transform;

void check(bool condition) {
  if (!condition) std::abort();
}

std::string_view next_line(std::string_view& input) {
  const auto newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
  return line;
}

constexpr std::array<std::uint64_t, 4> kPayloadLimits{0, 16, 256, 1 << 20};

struct Job {
  DataFormat input_format;
  DataFormat output_format;
  AssembleWith assemble_with;
  BatchStrategy strategy;
  std::uint64_t payload_limit;
};

void respond(const DataProcessor& processor, const Job& job, const Batch& batch,
             std::optional<std::string_view> answer) {
  // An InputFilter may leave a record empty (`$[1:]` on one field), so the bytes may be too.
  check(batch.record_count > 0);
  if (processor.joins()) check(batch.join_inputs.size() == batch.record_count);
  const std::string_view response = answer ? *answer : std::string_view(batch.bytes);
  auto out = processor.process_response(batch, response, job.output_format, job.assemble_with);
  if (!out) {
    check(!out.error().message.empty());
    return;
  }
  if (!processor.rewrites_output() && job.assemble_with == AssembleWith::none) {
    check(*out == response);
  }
}

void run(const DataProcessor& processor, const Job& job, std::string_view object,
         std::optional<std::string_view> answer) {
  auto splitter = make_splitter(SplitType::line, job.payload_limit);
  Batcher batcher(job.strategy, job.payload_limit, processor.joins());
  auto take = [&](Result<std::vector<Record>> records) {
    if (!records) return false;
    for (auto& record : *records) {
      const std::string line_break(record.line_break());
      const std::string content(record.content());
      auto filtered = processor.filter_input(std::move(record));
      if (!filtered) {
        check(filtered.error().message.starts_with("record "));
        return false;
      }
      check(filtered->line_break() == line_break);
      if (processor.joins() && processor.filters_input()) {
        check(filtered->unfiltered_content == content);
      }
      if (!processor.filters_input()) check(filtered->content() == content);
      auto batch = batcher.add(*filtered);
      if (!batch) return false;
      if (*batch) respond(processor, job, **batch, answer);
    }
    return true;
  };
  if (!take(splitter->feed(object)) || !take(splitter->finish())) return;
  if (auto last = batcher.finish()) respond(processor, job, *last, answer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  constexpr std::array<DataFormat, 4> kOutputFormats{DataFormat::csv, DataFormat::json,
                                                     DataFormat::other, DataFormat::json};
  const Job job{
      (data[0] & 1) ? DataFormat::json : DataFormat::csv,
      kOutputFormats[(data[0] >> 2) & 3],
      (data[0] & 16) ? AssembleWith::line : AssembleWith::none,
      (data[0] & 32) ? BatchStrategy::single_record : BatchStrategy::multi_record,
      kPayloadLimits[(data[0] >> 6) & 3],
  };
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  DataProcessingConfig config;
  config.input_filter = std::string(next_line(input));
  config.output_filter = std::string(next_line(input));
  config.join_source = (data[0] & 2) ? JoinSource::input : JoinSource::none;

  auto processor = DataProcessor::create(config, job.input_format);
  if (!processor) {
    check(!processor.error().message.empty());
    return 0;
  }
  std::optional<std::string_view> answer;
  if (const auto separator = input.find('\x1e'); separator != std::string_view::npos) {
    answer = input.substr(separator + 1);
    input = input.substr(0, separator);
  }
  run(*processor, job, input, answer);
  return 0;
}
