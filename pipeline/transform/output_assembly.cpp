#include "pipeline/transform/output_assembly.h"

namespace tandem::transform {
namespace {

OutputLine cut_line_break(std::string_view line) {
  if (line.ends_with("\r\n"))
    return {line.substr(0, line.size() - 2), line.substr(line.size() - 2)};
  if (line.ends_with('\n')) return {line.substr(0, line.size() - 1), line.substr(line.size() - 1)};
  return {line, line.substr(line.size())};
}

}  // namespace

std::vector<OutputLine> split_response(std::string_view response, std::uint64_t record_count) {
  if (record_count <= 1) return {cut_line_break(response)};
  std::vector<OutputLine> lines;
  while (!response.empty()) {
    const std::size_t newline = response.find('\n');
    const std::size_t take = newline == std::string_view::npos ? response.size() : newline + 1;
    lines.push_back(cut_line_break(response.substr(0, take)));
    response.remove_prefix(take);
  }
  return lines;
}

std::string assemble_response(AssembleWith assemble_with, std::string_view response) {
  std::string out(response);
  if (assemble_with == AssembleWith::line && !response.ends_with('\n')) out.push_back('\n');
  return out;
}

void append_output_record(std::string& out, AssembleWith assemble_with, std::string_view content,
                          std::string_view original_line_break) {
  out.append(content);
  if (assemble_with == AssembleWith::line) {
    out.push_back('\n');
  } else {
    out.append(original_line_break);
  }
}

}  // namespace tandem::transform
