#include "stages/postprocess/postprocessor.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <span>

#include "stages/common/csv.h"
#include "stages/common/media_type.h"
#include "stages/common/numbers.h"

namespace tandem::builtin::postprocess {
namespace {

constexpr std::string_view csv_type = "text/csv";
constexpr std::string_view json_type = "application/json";
constexpr std::string_view jsonlines_type = "application/jsonlines";

Decision threshold_decision(const PostprocessSpec& spec, double score) {
  if (score >= spec.threshold) return {spec.labels[1], score};
  return {spec.labels[0], 1 - score};
}

Decision argmax_decision(const PostprocessSpec& spec, std::span<const double> scores) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < scores.size(); ++i) {
    if (scores[i] > scores[best]) best = i;  // strictly greater: the first wins ties
  }
  return {spec.labels[best], scores[best]};
}

// Scores are written with 15 significant digits: exact for what a model wrote, and
// 1 - 0.97 reads "0.03" rather than "0.030000000000000027".
void append_json_decision(std::string& out, const Decision& decision) {
  out.append(R"({"label":)");
  // Labels come from postprocess.json, which nlohmann has read as UTF-8 already.
  out.append(nlohmann::json(decision.label).dump());
  out.append(R"(,"score":)");
  append_decimal(out, decision.score);
  out.push_back('}');
}

}  // namespace

Result<Reply> Postprocessor::invoke(std::string_view body, std::string_view content_type,
                                    std::string_view accept) const {
  const auto answer_type = negotiate_accept(accept, {json_type, csv_type, jsonlines_type});
  if (!answer_type) return answer_type.error();
  if (request_media_type(content_type, csv_type) != csv_type) {
    return unsupported_content_type(content_type, {csv_type});
  }
  auto decisions = decide(body);
  if (!decisions) return decisions.error();
  if (*answer_type == csv_type) return Reply{format_csv(*decisions), std::string(csv_type)};
  if (*answer_type == jsonlines_type) {
    return Reply{format_jsonlines(*decisions), std::string(jsonlines_type)};
  }
  return Reply{format_json(*decisions), std::string(json_type)};
}

Result<std::vector<Decision>> Postprocessor::decide(std::string_view csv) const {
  const bool threshold = spec_.mode == PostprocessSpec::Mode::threshold;
  const std::size_t expected = threshold ? 1 : spec_.labels.size();
  CsvReader reader(csv);
  std::vector<std::string_view> fields;
  std::vector<double> scores;
  std::vector<Decision> decisions;
  for (;;) {
    auto more = reader.next(fields);
    if (!more) return more.error();
    if (!*more) break;
    if (fields.size() != expected) {
      return Failure::bad_request(fmt::format("row {}: expected {} score{}, got {}", reader.row(),
                                              expected, expected == 1 ? "" : "s", fields.size()));
    }
    scores.clear();
    for (std::size_t i = 0; i < fields.size(); ++i) {
      const auto score = parse_number(fields[i]);
      if (!score || !std::isfinite(*score)) {
        return Failure::bad_request(
            fmt::format("row {}, column {}: expected a finite number, got {}", reader.row(), i,
                        quote_for_message(fields[i])));
      }
      scores.push_back(*score);
    }
    decisions.push_back(threshold ? threshold_decision(spec_, scores[0])
                                  : argmax_decision(spec_, scores));
  }
  if (decisions.empty()) return Failure::bad_request("the request has no rows");
  return decisions;
}

std::string format_json(const std::vector<Decision>& decisions) {
  std::string out = R"({"predictions":[)";
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_json_decision(out, decisions[i]);
  }
  out.append("]}");
  return out;
}

std::string format_csv(const std::vector<Decision>& decisions) {
  std::string out;
  for (const auto& decision : decisions) {
    append_csv_field(out, decision.label);
    out.push_back(',');
    append_decimal(out, decision.score);
    out.push_back('\n');
  }
  return out;
}

std::string format_jsonlines(const std::vector<Decision>& decisions) {
  std::string out;
  for (const auto& decision : decisions) {
    append_json_decision(out, decision);
    out.push_back('\n');
  }
  return out;
}

}  // namespace tandem::builtin::postprocess
