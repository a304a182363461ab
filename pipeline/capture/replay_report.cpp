#include "pipeline/capture/replay_report.h"

#include <fmt/format.h>

#include "pipeline/capture/base64.h"

namespace tandem::capture {
namespace {

using Json = nlohmann::ordered_json;

constexpr std::size_t kMessageBytes = 300;

std::string cut(std::string_view text, std::size_t limit = kMessageBytes) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

// A body in a trace: text when it is UTF-8, else base64.
Json body_json(std::string_view content_type, std::string_view body) {
  Json json{{"contentType", content_type}};
  if (is_valid_utf8(body)) {
    json["body"] = body;
  } else {
    json["body"] = base64_encode(body);
    json["encoding"] = "BASE64";
  }
  return json;
}

Json difference_json(const Difference& d) {
  return Json{{"where", d.where}, {"captured", d.captured}, {"replayed", d.replayed}};
}

std::optional<StageDifference> first_differing_stage(const Event& captured, const Reply& reply,
                                                     double tolerance) {
  for (const auto& recorded : captured.stages) {
    const StageRecord* replayed = nullptr;
    for (const auto& stage : reply.stages) {
      if (stage.stage == recorded.stage) replayed = &stage;
    }
    if (replayed == nullptr) continue;
    const bool had = recorded.output.has_value();
    const bool has = replayed->output.has_value();
    if (!had && !has) continue;
    std::optional<Difference> d;
    if (had != has || recorded.status != replayed->status) {
      d = Difference{"status", fmt::format("»{}«", recorded.status),
                     fmt::format("»{}«", replayed->status)};
    } else {
      d = compare_answers({recorded.output->content_type, recorded.output->data},
                          {replayed->output->content_type, replayed->output->data}, tolerance);
    }
    if (d) return StageDifference{recorded.stage, recorded.container, std::move(*d)};
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::matched:
      return "matched";
    case Verdict::differed:
      return "differed";
    case Verdict::failed:
      return "failed";
    case Verdict::replayed:
      break;
  }
  return "replayed";
}

Outcome judge(const SourcedEvent& captured, const Reply& reply, double tolerance) {
  const Event& event = captured.event;
  Outcome outcome{event.event_id, captured.source};
  outcome.warnings = captured.warnings;
  outcome.captured_status = event.status;
  outcome.status = reply.status;
  if (reply.status == 0) {
    outcome.verdict = Verdict::failed;
    outcome.message = reply.failure;
    return outcome;
  }
  const bool ok = reply.status >= 200 && reply.status <= 299;
  if (!event.output) {
    outcome.verdict = ok ? Verdict::replayed : Verdict::failed;
    if (!ok) outcome.message = fmt::format("status {}: {}", reply.status, cut(reply.body));
    return outcome;
  }
  if (reply.status != event.status) {
    if (!ok) {
      outcome.verdict = Verdict::failed;
      outcome.message =
          fmt::format("status {} (captured {}): {}", reply.status, event.status, cut(reply.body));
    } else {
      outcome.verdict = Verdict::differed;
      outcome.difference =
          Difference{"status", fmt::format("»{}« {}", event.status, cut(event.output->data)),
                     fmt::format("»{}« {}", reply.status, cut(reply.body))};
    }
  } else if (ok) {
    outcome.difference = compare_answers({event.output->content_type, event.output->data},
                                         {reply.content_type, reply.body}, tolerance);
    outcome.verdict = outcome.difference ? Verdict::differed : Verdict::matched;
  }  // else: the same error status as captured; error messages are not compared
  if (outcome.verdict == Verdict::differed && !event.stages.empty())
    outcome.first_stage = first_differing_stage(event, reply, tolerance);
  return outcome;
}

std::string describe(const ReplaySummary& summary) {
  std::string out;
  for (const auto& outcome : summary.outcomes) {
    if (outcome.verdict == Verdict::differed) {
      out += fmt::format("DIFFERS  event {} ({}) at {}", outcome.event_id,
                         outcome.source.to_string(), outcome.difference->where);
      if (outcome.first_stage) {
        out += fmt::format("; first stage whose output differs: '{}' ({}) at {}",
                           outcome.first_stage->stage, outcome.first_stage->container,
                           outcome.first_stage->difference.where);
      }
      out += fmt::format("\n  captured: {}\n  replayed: {}\n", outcome.difference->captured,
                         outcome.difference->replayed);
    } else if (outcome.verdict == Verdict::failed) {
      out += fmt::format("FAILED   event {} ({}): {}\n", outcome.event_id,
                         outcome.source.to_string(), outcome.message);
    }
    for (const auto& warning : outcome.warnings) {
      out += fmt::format("WARNING  event {} ({}): {}\n", outcome.event_id,
                         outcome.source.to_string(), warning);
    }
  }
  for (const auto& line : summary.malformed)
    out += fmt::format("MALFORMED {}: {}\n", line.source.to_string(), line.message);
  for (const auto& id : summary.not_found)
    out += fmt::format("NOT FOUND event {} (--only) is in no capture file\n", id);
  const auto& t = summary.totals;
  out += fmt::format("replay: {} event(s): {} matched, {} differed, {} failed", t.events, t.matched,
                     t.differed, t.failed);
  if (t.replayed > 0) out += fmt::format(", {} replayed without a captured answer", t.replayed);
  if (t.warnings > 0) out += fmt::format("; {} warning(s)", t.warnings);
  if (t.malformed > 0) out += fmt::format("; {} malformed line(s) skipped", t.malformed);
  if (t.not_found > 0) out += fmt::format("; {} --only event(s) not found", t.not_found);
  out += "\n";
  return out;
}

Json to_json(const ReplaySummary& summary) {
  const auto& t = summary.totals;
  Json results = Json::array();
  for (const auto& o : summary.outcomes) {
    Json r{{"eventId", o.event_id},
           {"source", o.source.to_string()},
           {"outcome", to_string(o.verdict)},
           {"status", o.status},
           {"capturedStatus", o.captured_status}};
    if (o.difference) r["difference"] = difference_json(*o.difference);
    if (o.first_stage) {
      r["firstDifferingStage"] = {{"stage", o.first_stage->stage},
                                  {"container", o.first_stage->container},
                                  {"difference", difference_json(o.first_stage->difference)}};
    }
    if (!o.message.empty()) r["message"] = o.message;
    if (!o.warnings.empty()) r["warnings"] = o.warnings;
    results.push_back(std::move(r));
  }
  Json malformed = Json::array();
  for (const auto& line : summary.malformed) {
    malformed.push_back(
        {{"file", line.source.file}, {"line", line.source.line}, {"message", line.message}});
  }
  return Json{{"events", t.events},
              {"matched", t.matched},
              {"differed", t.differed},
              {"failed", t.failed},
              {"replayed", t.replayed},
              {"warnings", t.warnings},
              {"malformedLines", std::move(malformed)},
              {"notFound", summary.not_found},
              {"allMatched", t.all_matched()},
              {"results", std::move(results)}};
}

Json trace_json(const SourcedEvent& captured, const Reply& reply, const Outcome& outcome) {
  const Event& event = captured.event;
  Json request = event.input ? body_json(event.input->content_type, event.input->data)
                             : Json{{"contentType", ""}, {"body", ""}};
  request["accept"] = event.accept ? Json(*event.accept) : Json(nullptr);
  request["customAttributes"] =
      event.custom_attributes ? Json(*event.custom_attributes) : Json(nullptr);
  request["inferenceId"] = replay_inference_id(event);
  Json stages = Json::array();
  for (const auto& stage : reply.stages) {
    Json s{{"stage", stage.stage},
           {"container", stage.container},
           {"status", stage.status},
           {"durationMs", static_cast<double>(stage.duration.count()) / 1000.0}};
    if (stage.input) s["received"] = body_json(stage.input->content_type, stage.input->data);
    if (stage.output) s["returned"] = body_json(stage.output->content_type, stage.output->data);
    stages.push_back(std::move(s));
  }
  Json answer = body_json(reply.content_type, reply.body);
  answer["status"] = reply.status;
  answer["totalMs"] = static_cast<double>(reply.total.count()) / 1000.0;
  if (!reply.failure.empty()) answer["failure"] = reply.failure;
  Json trace{{"eventId", event.event_id},
             {"source", captured.source.to_string()},
             {"outcome", to_string(outcome.verdict)},
             {"request", std::move(request)},
             {"stages", std::move(stages)},
             {"answer", std::move(answer)}};
  if (event.output) {
    Json recorded = body_json(event.output->content_type, event.output->data);
    recorded["status"] = event.status;
    trace["captured"] = std::move(recorded);
  }
  if (outcome.difference) trace["difference"] = difference_json(*outcome.difference);
  if (outcome.first_stage) {
    trace["firstDifferingStage"] = {
        {"stage", outcome.first_stage->stage},
        {"container", outcome.first_stage->container},
        {"difference", difference_json(outcome.first_stage->difference)}};
  }
  return trace;
}

std::string trace_file_name(const std::string& event_id) {
  std::string name;
  for (const char c : event_id) {
    const bool kept = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    name += kept ? c : '_';
  }
  if (name.empty() || name.front() == '.') name.insert(0, "event-");
  return name + ".json";
}

}  // namespace tandem::capture
