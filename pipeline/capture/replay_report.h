// What replay found, and how it is shown: one Outcome per event (matched, differed, failed, or
// replayed when the capture holds no answer to compare), the summary and per-difference lines
// printed at the end, the --report JSON and the --trace file of one event. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/capture/capture_files.h"
#include "pipeline/capture/compare.h"
#include "pipeline/capture/replay_target.h"

namespace tandem::capture {

enum class Verdict { matched, differed, failed, replayed };
std::string_view to_string(Verdict verdict);

struct StageDifference {
  std::string stage;
  std::string container;
  Difference difference;
};

struct Outcome {
  std::string event_id;
  Source source;
  Verdict verdict = Verdict::matched;
  int captured_status = 200;
  int status = 0;                              // the replayed status; 0: no answer
  std::optional<Difference> difference;        // differed
  std::optional<StageDifference> first_stage;  // differed, when the capture had stages
  std::string message;                         // failed: why
  std::vector<std::string> warnings;           // from reading its record; replayed all the same
};

// Compares a replayed event's reply with its capture: the verdict, the difference, and the
// first stage whose output differs when the capture recorded stages.
Outcome judge(const SourcedEvent& captured, const Reply& reply, double tolerance);

struct Totals {
  std::size_t events = 0;
  std::size_t matched = 0;
  std::size_t differed = 0;
  std::size_t failed = 0;
  std::size_t replayed = 0;
  std::size_t malformed = 0;
  std::size_t not_found = 0;  // --only ids absent from the capture
  std::size_t warnings = 0;   // in replayed events' records; they do not fail the run
  bool all_matched() const {
    return differed == 0 && failed == 0 && malformed == 0 && not_found == 0;
  }
};

struct ReplaySummary {
  Totals totals;
  std::vector<Outcome> outcomes;  // in capture order
  std::vector<MalformedLine> malformed;
  std::vector<std::string> not_found;
};

// The lines printed at the end: each difference, failure, warning and malformed line, then the
// totals.
std::string describe(const ReplaySummary& summary);
nlohmann::ordered_json to_json(const ReplaySummary& summary);

// The --trace file of one event: what was sent, what each stage received and returned (with
// timings and statuses), the answer, and what was captured.
nlohmann::ordered_json trace_json(const SourcedEvent& captured, const Reply& reply,
                                  const Outcome& outcome);
// A file name for an event id: letters, digits, '.', '-' and '_' kept, the rest '_'.
std::string trace_file_name(const std::string& event_id);

}  // namespace tandem::capture
