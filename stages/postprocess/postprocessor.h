// The postprocess stage's logic: rows of scores (text/csv, as tandem-xgboost answers) become a
// label and its score each, answered as JSON, CSV or JSON lines by the request's Accept.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "stages/common/result.h"
#include "stages/postprocess/spec.h"

namespace tandem::builtin::postprocess {

// One row's answer. `label` views into the spec.
struct Decision {
  std::string_view label;
  double score = 0;  // the probability of `label`: the score, or 1 - score for labels[0]
};

// Immutable after construction, so invoke() may run on many threads at once.
class Postprocessor {
 public:
  explicit Postprocessor(PostprocessSpec spec) : spec_(std::move(spec)) {}

  const PostprocessSpec& spec() const { return spec_; }

  // One invocation: 415 unless the Content-Type is text/csv (none means text/csv), 406 for an
  // Accept other than application/json (the default), text/csv or application/jsonlines, 400
  // naming the row for bad scores.
  Result<Reply> invoke(std::string_view body, std::string_view content_type,
                       std::string_view accept) const;

  // The decision for each row of a text/csv body of scores; a body without rows is a 400.
  Result<std::vector<Decision>> decide(std::string_view csv) const;

 private:
  PostprocessSpec spec_;
};

// {"predictions":[{"label":"malignant","score":0.97},...]}
std::string format_json(const std::vector<Decision>& decisions);
// One `label,score` line per row, the label quoted when CSV needs it.
std::string format_csv(const std::vector<Decision>& decisions);
// One {"label":"malignant","score":0.97} line per row.
std::string format_jsonlines(const std::vector<Decision>& decisions);

}  // namespace tandem::builtin::postprocess
