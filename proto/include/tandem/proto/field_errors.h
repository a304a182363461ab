// Collecting every error found while reading a tree of configuration (pipeline.yaml, a batch
// job's JSON, a built-in stage's model file), each with the key path it is about, so that one
// run reports them all: `job.json: TransformInput.SplitType: expected one of None, Line,
// RecordIO, TFRecord, got "Lines"`. The readers over each tree library (yaml-cpp in
// pipeline/spec/yaml_reader.h, nlohmann in pipeline/transform/json_fields.h and
// stages/common/model_json.h) are thin adapters over this: they know the tree's types and how
// to show a value; the path-building, the wording and the list are here.
//
// Header-only and dependency-free (no fmt, no Boost), so the modules that link only
// tandem_result (transform, the built-in stages) use it too.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::proto {

// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
inline std::string child_path(std::string_view path, std::string_view key) {
  std::string child(path);
  if (!child.empty()) child += '.';
  child += key;
  return child;
}

// "labels" + 2 -> "labels[2]".
inline std::string element_path(std::string_view path, std::size_t index) {
  std::string element(path);
  element += '[';
  element += std::to_string(index);
  element += ']';
  return element;
}

// The wording of a type or value error: "expected a string, got 42".
inline std::string expected(std::string_view what, std::string_view got) {
  std::string message = "expected ";
  message += what;
  message += ", got ";
  message += got;
  return message;
}

// `text` cut to `max_length` characters, "..." marking the cut, for showing a value in a
// message: a whole document quoted back helps no one.
inline std::string shortened(std::string_view text, std::size_t max_length) {
  if (text.size() <= max_length) return std::string(text);
  std::string cut(text.substr(0, max_length));
  cut += "...";
  return cut;
}

// One problem, where it is. A tree with positions (YAML) gives the 1-based line and column;
// JSON has none and leaves them 0.
struct FieldError {
  std::string path;  // "stages[1].timeout_s"; empty when it is about the document itself
  std::string message;
  int line = 0;
  int column = 0;
};

// The errors found in one source (a file name, or a name such as "--data-processing"), in the
// order they were added. The reader owns it for one read and hands the errors on at the end.
class FieldErrors {
 public:
  explicit FieldErrors(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  void add(std::string path, std::string message, int line = 0, int column = 0) {
    errors_.push_back(FieldError{std::move(path), std::move(message), line, column});
  }

  bool empty() const { return errors_.empty(); }
  const std::vector<FieldError>& list() const { return errors_; }
  std::vector<FieldError> take() { return std::exchange(errors_, {}); }

  // "<source>: <path>: <message>", or "<source>: <message>" for an error without a path.
  std::vector<std::string> lines() const {
    std::vector<std::string> lines;
    lines.reserve(errors_.size());
    for (const FieldError& error : errors_) {
      std::string line = source_;
      line += ": ";
      if (!error.path.empty()) {
        line += error.path;
        line += ": ";
      }
      line += error.message;
      lines.push_back(std::move(line));
    }
    return lines;
  }

  // lines(), one per line.
  std::string text() const {
    std::string text;
    for (const std::string& line : lines()) {
      if (!text.empty()) text += '\n';
      text += line;
    }
    return text;
  }

 private:
  std::string source_;
  std::vector<FieldError> errors_;
};

}  // namespace tandem::proto
