// The enumerated settings of a transform job, with the spellings CreateTransformJob uses
// (`Line`, `MultiRecord`, ...). Shared by the job parser and the data-path pieces (splitters,
// batcher, output assembly), which take these values rather than the job as a whole.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tandem::transform {

enum class S3DataType { s3_prefix, manifest_file };
enum class CompressionType { none, gzip };
enum class SplitType { none, line, recordio, tfrecord };
enum class BatchStrategy { multi_record, single_record };
enum class AssembleWith { none, line };
enum class JoinSource { none, input };

// 1 MB in MaxPayloadInMB is one MiB, as in the SageMaker runtime's 6 MB = 6,291,456 bytes.
inline constexpr std::uint64_t kBytesPerMiB = 1024 * 1024;
inline constexpr std::int64_t kMaxPayloadInMB = 100;

// The CreateTransformJob spellings, in the order the API lists them.
inline constexpr std::array<std::string_view, 2> kS3DataTypeNames{"S3Prefix", "ManifestFile"};
inline constexpr std::array<std::string_view, 2> kCompressionTypeNames{"None", "Gzip"};
inline constexpr std::array<std::string_view, 4> kSplitTypeNames{"None", "Line", "RecordIO",
                                                                 "TFRecord"};
inline constexpr std::array<std::string_view, 2> kBatchStrategyNames{"MultiRecord", "SingleRecord"};
inline constexpr std::array<std::string_view, 2> kAssembleWithNames{"None", "Line"};
inline constexpr std::array<std::string_view, 2> kJoinSourceNames{"Input", "None"};

std::string_view to_string(S3DataType value);
std::string_view to_string(CompressionType value);
std::string_view to_string(SplitType value);
std::string_view to_string(BatchStrategy value);
std::string_view to_string(AssembleWith value);
std::string_view to_string(JoinSource value);

// Exact, case-sensitive matches of the spellings above; nothing for anything else.
std::optional<S3DataType> parse_s3_data_type(std::string_view text);
std::optional<CompressionType> parse_compression_type(std::string_view text);
std::optional<SplitType> parse_split_type(std::string_view text);
std::optional<BatchStrategy> parse_batch_strategy(std::string_view text);
std::optional<AssembleWith> parse_assemble_with(std::string_view text);
std::optional<JoinSource> parse_join_source(std::string_view text);

// The container-facing spelling used by SAGEMAKER_BATCH_STRATEGY and /execution-parameters.
std::string_view container_spelling(BatchStrategy value);  // MULTI_RECORD | SINGLE_RECORD
std::optional<BatchStrategy> parse_container_batch_strategy(std::string_view text);

}  // namespace tandem::transform
