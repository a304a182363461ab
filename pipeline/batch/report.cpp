#include "pipeline/batch/report.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "pipeline/transform/options.h"

namespace tandem::batch {

namespace {

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = c < 0x80           ? 1
                         : (c >> 5) == 0x6  ? 2
                         : (c >> 4) == 0xE  ? 3
                         : (c >> 3) == 0x1E ? 4
                                            : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

std::string base64(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(data[i]) << 16) |
                            (static_cast<unsigned char>(data[i + 1]) << 8) |
                            static_cast<unsigned char>(data[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i < data.size()) {
    std::uint32_t v = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string duration_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<std::uint64_t>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

double rate(double amount, double seconds) {
  return seconds > 0 ? amount / seconds : 0;
}

std::optional<double> eta_seconds(const Progress& p) {
  if (p.seconds <= 0) return std::nullopt;
  if (p.bytes_total > 0 && p.bytes_read > 0) {
    const double left = static_cast<double>(p.bytes_total - std::min(p.bytes_read, p.bytes_total));
    return left / rate(static_cast<double>(p.bytes_read), p.seconds);
  }
  if (p.objects_done > 0) {
    return static_cast<double>(p.objects_total - p.objects_done) /
           rate(static_cast<double>(p.objects_done), p.seconds);
  }
  return std::nullopt;
}

std::string read_text(const Progress& p) {
  if (p.bytes_total == 0) return human_bytes(p.bytes_read);
  return fmt::format("{}/{}", human_bytes(p.bytes_read), human_bytes(p.bytes_total));
}

// Each skipped entry is named, up to this many; the report lists them all.
constexpr std::size_t kSkippedInSummary = 20;

std::string left_out_summary(const LeftOut& left_out) {
  std::string out;
  if (!left_out.skipped.empty()) {
    out += fmt::format("\n  skipped {} input entr{}, not read:", left_out.skipped.size(),
                       left_out.skipped.size() == 1 ? "y" : "ies");
    const std::size_t shown = std::min(left_out.skipped.size(), kSkippedInSummary);
    for (std::size_t i = 0; i < shown; ++i) {
      out += fmt::format("\n    {}: {}", left_out.skipped[i].input, left_out.skipped[i].reason);
    }
    if (shown < left_out.skipped.size()) {
      out += fmt::format("\n    ... and {} more (the report lists them all)",
                         left_out.skipped.size() - shown);
    }
  }
  if (left_out.in_output_folder > 0) {
    out += fmt::format(
        "\n  skipped {} object(s) under the output folder {}, which is never read as input",
        left_out.in_output_folder, left_out.output_folder);
  }
  return out;
}

}  // namespace

std::string_view to_string(ObjectStatus status) {
  switch (status) {
    case ObjectStatus::completed:
      return "Completed";
    case ObjectStatus::failed:
      return "Failed";
    case ObjectStatus::not_processed:
      return "NotProcessed";
  }
  return "?";
}

std::string_view to_string(JobStatus status) {
  switch (status) {
    case JobStatus::completed:
      return "Completed";
    case JobStatus::failed:
      return "Failed";
    case JobStatus::stopped:
      return "Stopped";
  }
  return "?";
}

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string describe(const ObjectFailure& f) {
  std::string where;
  if (f.first_record) {
    where = f.record_count > 1 ? fmt::format("records {}-{}", *f.first_record,
                                             *f.first_record + f.record_count - 1)
                               : fmt::format("record {}", *f.first_record);
    if (f.byte_offset) where += fmt::format(" (byte offset {})", *f.byte_offset);
    where += ": ";
  }
  std::string who;
  if (!f.stage.empty()) {
    who = fmt::format("stage '{}' ({}) ", f.stage, f.container);
    who += f.status != 0 ? fmt::format("answered {}", f.status) : std::string("gave no answer");
    if (f.attempts > 1) who += fmt::format(" after {} attempts", f.attempts);
    who += ": ";
  } else {
    who = std::string(f.error()) + ": ";
  }
  return where + who + f.message;
}

std::string error_line(const std::string& input_uri, const ObjectFailure& f,
                       std::optional<std::string_view> data) {
  nlohmann::ordered_json line;
  line["input"] = input_uri;
  if (f.first_record) {
    line["first_record"] = *f.first_record;
    line["record_count"] = f.record_count;
  }
  if (f.byte_offset) line["byte_offset"] = *f.byte_offset;
  if (!f.stage.empty()) {
    line["stage"] = f.stage;
    line["container"] = f.container;
    line["status"] = f.status;
  }
  line["error"] = std::string(f.error());
  line["message"] = f.message;
  if (f.attempts > 0) line["attempts"] = f.attempts;
  if (data) {
    if (valid_utf8(*data)) {
      line["data"] = std::string(*data);
    } else {
      line["data_base64"] = base64(*data);
    }
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string summary(const JobReport& r) {
  std::uint64_t records = 0, read = 0, written = 0;
  std::size_t completed = 0, failed = 0, not_processed = 0;
  for (const auto& o : r.objects) {
    records += o.records;
    read += o.bytes_read;
    written += o.bytes_written;
    if (o.status == ObjectStatus::completed) ++completed;
    if (o.status == ObjectStatus::failed) ++failed;
    if (o.status == ObjectStatus::not_processed) ++not_processed;
  }
  const double seconds = std::chrono::duration<double>(r.ended - r.started).count();
  std::string out = fmt::format("transform job '{}': {}", r.name, to_string(r.status));
  if (!r.failure_reason.empty()) out += ": " + r.failure_reason;
  out += fmt::format(
      "\n  {} of {} object(s) completed, {} failed, {} not processed; {} records; {} read, {} "
      "written in {:.1f} s ({}/s, {:.0f} records/s)",
      completed, r.objects.size(), failed, not_processed, records, human_bytes(read),
      human_bytes(written), seconds, human_bytes(static_cast<std::uint64_t>(rate(read, seconds))),
      rate(static_cast<double>(records), seconds));
  if (r.shard.count > 1 || r.other_shards > 0) {
    out += fmt::format("\n  shard {} of {}: {} of the {} listed object(s) belong to other shards",
                       r.shard.index, r.shard.count, r.other_shards, r.listed);
  }
  if (!r.resumed.empty()) {
    out += fmt::format("\n  --resume: {} object(s) already had their .out and were skipped",
                       r.resumed.size());
  }
  out += left_out_summary(r.left_out);
  for (const auto& o : r.objects) {
    if (o.status != ObjectStatus::failed || !o.failure) continue;
    out += fmt::format("\n  FAILED {}: {}", o.input, describe(*o.failure));
  }
  return out;
}

std::string progress_bar(const Progress& p, std::size_t width) {
  const double fraction =
      p.bytes_total > 0
          ? std::min(1.0, static_cast<double>(p.bytes_read) / static_cast<double>(p.bytes_total))
          : (p.objects_total ? static_cast<double>(p.objects_done) / p.objects_total : 0.0);
  const auto eta = eta_seconds(p);
  std::string text = fmt::format(
      " {}/{} objects{} · {} records · {} · {}/s · ETA {}", p.objects_done, p.objects_total,
      p.objects_failed ? fmt::format(" ({} failed)", p.objects_failed) : std::string(), p.records,
      read_text(p),
      human_bytes(static_cast<std::uint64_t>(rate(static_cast<double>(p.bytes_read), p.seconds))),
      eta ? duration_text(*eta) : std::string("?"));
  const std::size_t bar =
      width > text.size() + 12 ? std::min<std::size_t>(30, width - text.size() - 2) : 10;
  const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(bar));
  std::string out = "[" + std::string(filled, '#') + std::string(bar - filled, '.') + "]" + text;
  if (width > 0 && out.size() > width) out.resize(width);
  return out;
}

std::string progress_metrics(const Progress& p, std::string_view job_name, bool running,
                             std::optional<bool> succeeded, double started_unix_seconds) {
  std::string job;
  for (const char c : job_name) {
    if (c == '\\' || c == '"') job += '\\';
    if (c == '\n') {
      job += "\\n";
      continue;
    }
    job += c;
  }
  std::string out;
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("tandem_transform_objects", "gauge", "Objects of this host's share of the job, by state.");
  out += fmt::format("tandem_transform_objects{{job=\"{}\",state=\"total\"}} {}\n", job,
                     p.objects_total);
  out += fmt::format("tandem_transform_objects{{job=\"{}\",state=\"done\"}} {}\n", job,
                     p.objects_done);
  out += fmt::format("tandem_transform_objects{{job=\"{}\",state=\"failed\"}} {}\n", job,
                     p.objects_failed);
  metric("tandem_transform_records_total", "counter", "Records read from the input.");
  out += fmt::format("tandem_transform_records_total{{job=\"{}\"}} {}\n", job, p.records);
  metric("tandem_transform_read_bytes_total", "counter", "Bytes read from the input as stored.");
  out += fmt::format("tandem_transform_read_bytes_total{{job=\"{}\"}} {}\n", job, p.bytes_read);
  metric("tandem_transform_running", "gauge", "1 while the job runs.");
  out += fmt::format("tandem_transform_running{{job=\"{}\"}} {}\n", job, running ? 1 : 0);
  metric("tandem_transform_start_time_seconds", "gauge", "When the job started (Unix time).");
  out += fmt::format("tandem_transform_start_time_seconds{{job=\"{}\"}} {:.3f}\n", job,
                     started_unix_seconds);
  if (succeeded) {
    metric("tandem_transform_success", "gauge", "1 when every object completed, once ended.");
    out += fmt::format("tandem_transform_success{{job=\"{}\"}} {}\n", job, *succeeded ? 1 : 0);
  }
  return out;
}

std::string progress_line(const Progress& p) {
  const auto eta = eta_seconds(p);
  std::string read = human_bytes(p.bytes_read);
  if (p.bytes_total > 0) {
    read += fmt::format(" of {} read ({:.0f}%)", human_bytes(p.bytes_total),
                        100.0 * std::min(1.0, static_cast<double>(p.bytes_read) /
                                                  static_cast<double>(p.bytes_total)));
  } else {
    read += " read";
  }
  return fmt::format(
      "progress: {}/{} objects, {} failed, {} records, {}, {}/s, ETA {}", p.objects_done,
      p.objects_total, p.objects_failed, p.records, read,
      human_bytes(static_cast<std::uint64_t>(rate(static_cast<double>(p.bytes_read), p.seconds))),
      eta ? duration_text(*eta) : std::string("?"));
}

}  // namespace tandem::batch
