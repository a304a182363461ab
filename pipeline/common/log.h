// The process-wide log: one line per event on stderr. Two formats: text for people (a
// timestamp, the level, the message) and JSON, one object per line, for log collectors
// (CloudWatch, Loki, journald's JSON export, kubectl logs piped into jq). Stage output is
// forwarded here prefixed with the stage name (see supervisor); in JSON that prefix becomes
// the "stage" field. A line about one invocation carries its inference id: in the text of the
// message and, in JSON, as "inference_id" with the other fields given to write().
#pragma once

#include <fmt/core.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace tandem::log {

enum class Level { debug, info, warn, error };
enum class Format { text, json };

void set_level(Level level);
void set_format(Format format);
Format format();

// "debug", "info", "warn" or "error"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);

// "text", "json", or "auto" (json unless stderr is a terminal); nullopt for anything else.
std::optional<Format> parse_format(std::string_view name);

// JSON text to embed as it is (an object or array built by the caller).
struct RawJson {
  std::string text;
};

// A structured value of a JSON line (the text format leaves fields out: its message says it).
struct Field {
  std::string_view key;
  std::variant<std::string, std::int64_t, double, RawJson> value;
};

// A value from outside (a client's header, a stage's words) as it goes into a text line: bare
// when it is one token of letters, digits and "-_.:/@+", otherwise in double quotes with '"',
// '\\' and control bytes escaped, so it can neither end the line nor pass for another field.
std::string quoted(std::string_view value);

// A line repeated for every occurrence of an event (a refused connection, a stage's stray
// bytes) written at most once per interval: admit() counts an occurrence and answers how many
// the line written now stands for, or 0 when no line is due. Pure (the time is given): for
// tests.
class Throttle {
 public:
  explicit Throttle(std::chrono::steady_clock::duration interval) : interval_(interval) {}
  std::size_t admit(std::chrono::steady_clock::time_point now);

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_{};
  bool written_ = false;
  std::size_t pending_ = 0;
};

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

// One line in `format`, without the trailing newline; `time` is ISO 8601 UTC. Pure: for tests.
std::string format_line(Format format, std::string_view time, Level level, std::string_view message,
                        std::initializer_list<Field> fields = {});

template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace tandem::log
