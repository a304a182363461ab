#include "pipeline/transform/options.h"

namespace tandem::transform {
namespace {

template <typename Enum, std::size_t N>
std::optional<Enum> find_name(std::string_view text, const std::array<std::string_view, N>& names,
                              const std::array<Enum, N>& values) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) return values[i];
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(S3DataType value) {
  return value == S3DataType::s3_prefix ? "S3Prefix" : "ManifestFile";
}
std::string_view to_string(CompressionType value) {
  return value == CompressionType::none ? "None" : "Gzip";
}
std::string_view to_string(SplitType value) {
  switch (value) {
    case SplitType::none:
      return "None";
    case SplitType::line:
      return "Line";
    case SplitType::recordio:
      return "RecordIO";
    case SplitType::tfrecord:
      return "TFRecord";
  }
  return "None";
}
std::string_view to_string(BatchStrategy value) {
  return value == BatchStrategy::multi_record ? "MultiRecord" : "SingleRecord";
}
std::string_view to_string(AssembleWith value) {
  return value == AssembleWith::none ? "None" : "Line";
}
std::string_view to_string(JoinSource value) {
  return value == JoinSource::none ? "None" : "Input";
}

std::optional<S3DataType> parse_s3_data_type(std::string_view text) {
  return find_name(text, kS3DataTypeNames,
                   std::array{S3DataType::s3_prefix, S3DataType::manifest_file});
}
std::optional<CompressionType> parse_compression_type(std::string_view text) {
  return find_name(text, kCompressionTypeNames,
                   std::array{CompressionType::none, CompressionType::gzip});
}
std::optional<SplitType> parse_split_type(std::string_view text) {
  return find_name(
      text, kSplitTypeNames,
      std::array{SplitType::none, SplitType::line, SplitType::recordio, SplitType::tfrecord});
}
std::optional<BatchStrategy> parse_batch_strategy(std::string_view text) {
  return find_name(text, kBatchStrategyNames,
                   std::array{BatchStrategy::multi_record, BatchStrategy::single_record});
}
std::optional<AssembleWith> parse_assemble_with(std::string_view text) {
  return find_name(text, kAssembleWithNames, std::array{AssembleWith::none, AssembleWith::line});
}
std::optional<JoinSource> parse_join_source(std::string_view text) {
  return find_name(text, kJoinSourceNames, std::array{JoinSource::input, JoinSource::none});
}

std::string_view container_spelling(BatchStrategy value) {
  return value == BatchStrategy::multi_record ? "MULTI_RECORD" : "SINGLE_RECORD";
}
std::optional<BatchStrategy> parse_container_batch_strategy(std::string_view text) {
  if (text == "MULTI_RECORD") return BatchStrategy::multi_record;
  if (text == "SINGLE_RECORD") return BatchStrategy::single_record;
  return std::nullopt;
}

}  // namespace tandem::transform
