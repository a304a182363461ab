#include "pipeline/common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

namespace tandem::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::text};
std::mutex g_mutex;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "DEBUG";
    case Level::info:
      return "INFO ";
    case Level::warn:
      return "WARN ";
    case Level::error:
      return "ERROR";
  }
  return "INFO ";
}

std::string_view json_level(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms);
}

// A stage name as the spec allows it (SageMaker's container hostname rule).
bool is_stage_name(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (const char c : s) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '-') return false;
  }
  return true;
}

// The stage a supervisor line is about: its output ("<stage> | <line>", the message becomes
// the stage's line) or an event ("stage '<stage>' (container-N) ...").
struct StageOfLine {
  std::string_view stage;
  std::string_view container;
  std::string_view message;
};

std::optional<StageOfLine> stage_of(std::string_view message) {
  if (const auto bar = message.find(" | "); bar != std::string_view::npos) {
    const auto name = message.substr(0, bar);
    if (is_stage_name(name)) return StageOfLine{name, {}, message.substr(bar + 3)};
  }
  constexpr std::string_view prefix = "stage '";
  if (!message.starts_with(prefix)) return std::nullopt;
  const auto quote = message.find("' (", prefix.size());
  if (quote == std::string_view::npos) return std::nullopt;
  const auto name = message.substr(prefix.size(), quote - prefix.size());
  const auto close = message.find(')', quote + 3);
  if (!is_stage_name(name) || close == std::string_view::npos) return std::nullopt;
  return StageOfLine{name, message.substr(quote + 3, close - quote - 3), message};
}

}  // namespace

std::string quoted(std::string_view value) {
  const auto plain = [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-_.:/@+").find(static_cast<char>(c)) != std::string_view::npos;
  };
  if (!value.empty() && std::all_of(value.begin(), value.end(), plain)) return std::string(value);
  std::string out = "\"";
  for (const unsigned char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::size_t Throttle::admit(std::chrono::steady_clock::time_point now) {
  ++pending_;
  if (written_ && now - last_ < interval_) return 0;
  written_ = true;
  last_ = now;
  return std::exchange(pending_, 0);
}

void set_level(Level level) {
  g_level = level;
}

void set_format(Format format) {
  g_format = format;
}

Format format() {
  return g_format.load();
}

std::optional<Level> parse_level(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn") return Level::warn;
  if (name == "error") return Level::error;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view name) {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  if (name == "auto") return ::isatty(STDERR_FILENO) ? Format::text : Format::json;
  return std::nullopt;
}

std::string format_line(Format format, std::string_view time, Level level, std::string_view message,
                        std::initializer_list<Field> fields) {
  if (format == Format::text) return fmt::format("{} {} {}", time, level_name(level), message);
  nlohmann::ordered_json line;
  line["time"] = time;
  line["level"] = json_level(level);
  if (const auto stage = stage_of(message)) {
    line["msg"] = stage->message;
    line["stage"] = stage->stage;
    if (!stage->container.empty()) line["container"] = stage->container;
  } else {
    line["msg"] = message;
  }
  for (const auto& f : fields) {
    auto& value = line[std::string(f.key)];
    if (const auto* raw = std::get_if<RawJson>(&f.value)) {
      value = nlohmann::ordered_json::parse(raw->text, nullptr, false);
      if (value.is_discarded()) value = raw->text;
    } else {
      std::visit(
          [&](const auto& v) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(v)>, RawJson>) value = v;
          },
          f.value);
    }
  }
  // Stage output is arbitrary bytes: invalid UTF-8 becomes U+FFFD rather than an exception.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (level < g_level.load()) return;
  auto line = format_line(g_format.load(), timestamp(), level, message, fields);
  line += '\n';
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tandem::log
