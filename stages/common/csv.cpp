#include "stages/common/csv.h"

#include <fmt/format.h>

namespace tandem::builtin {

// A lone `\r` at the very end counts as a line end too: some clients strip only the `\n`.
bool CsvReader::at_line_end() const {
  if (pos_ >= body_.size()) return true;
  const char c = body_[pos_];
  if (c == '\n') return true;
  return c == '\r' && (pos_ + 1 == body_.size() || body_[pos_ + 1] == '\n');
}

void CsvReader::skip_line_end() {
  if (pos_ < body_.size() && body_[pos_] == '\r') ++pos_;
  if (pos_ < body_.size() && body_[pos_] == '\n') ++pos_;
}

Result<bool> CsvReader::next(std::vector<std::string_view>& fields) {
  fields.clear();
  unescaped_.clear();
  while (pos_ < body_.size() && at_line_end()) skip_line_end();
  if (pos_ >= body_.size()) return false;
  ++row_;
  for (;;) {
    if (pos_ < body_.size() && body_[pos_] == '"') {
      auto field = read_quoted();
      if (!field) return field.error();
      fields.push_back(*field);
    } else {
      fields.push_back(read_unquoted());
    }
    if (at_line_end()) {
      skip_line_end();
      return true;
    }
    if (body_[pos_] != ',') {
      return Failure::bad_request(fmt::format(
          "row {}: expected a comma or the end of the line after a quoted field, got '{}'", row_,
          body_[pos_]));
    }
    ++pos_;
  }
}

std::string_view CsvReader::read_unquoted() {
  const std::size_t start = pos_;
  while (pos_ < body_.size() && body_[pos_] != ',' && !at_line_end()) ++pos_;
  return body_.substr(start, pos_ - start);
}

// Most quoted fields hold no `""`: those stay views into the body, without a copy.
Result<std::string_view> CsvReader::read_quoted() {
  const std::size_t start = ++pos_;
  std::string* copy = nullptr;
  std::size_t segment = start;
  for (;;) {
    const std::size_t quote = body_.find('"', pos_);
    if (quote == std::string_view::npos) {
      return Failure::bad_request(fmt::format("row {}: unterminated quoted field", row_));
    }
    pos_ = quote + 1;
    if (pos_ < body_.size() && body_[pos_] == '"') {  // `""`: one literal quote
      if (copy == nullptr) copy = &unescaped_.emplace_back();
      copy->append(body_.substr(segment, quote + 1 - segment));
      segment = ++pos_;
      continue;
    }
    if (copy == nullptr) return body_.substr(start, quote - start);
    copy->append(body_.substr(segment, quote - segment));
    return std::string_view(*copy);
  }
}

void append_csv_field(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(text);
    return;
  }
  out.push_back('"');
  for (const char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace tandem::builtin
