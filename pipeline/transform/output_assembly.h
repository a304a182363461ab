// What one batch's response adds to the object's `.out`, per AssembleWith.
//
//   None  the responses are concatenated as they are ("concatenate the results in binary
//         format").
//   Line  every record's output ends with a newline ("add a newline character at the end of
//         every transformed record"). A response to a MultiRecord batch already holds one
//         line per record, separated by newlines: it gets a newline only if it does not end
//         with one, so the `.out` has one line per record and no blank lines in between.
//
// When DataProcessing rewrites outputs (OutputFilter, JoinSource), the response is first cut
// into its records' outputs: a batch of one record → the whole response (one final line break
// set apart); several records → one output per line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/options.h"

namespace tandem::transform {

struct OutputLine {
  std::string_view content;     // without its line break
  std::string_view line_break;  // "\n", "\r\n", or "" at the end of the response
};

// Views into `response`, which must outlive them.
std::vector<OutputLine> split_response(std::string_view response, std::uint64_t record_count);

// The bytes a response adds to the `.out` when no DataProcessing rewrites it.
std::string assemble_response(AssembleWith assemble_with, std::string_view response);

// Appends one rewritten record output: with Line, content + "\n"; with None, content followed
// by the line break the response had there.
void append_output_record(std::string& out, AssembleWith assemble_with, std::string_view content,
                          std::string_view original_line_break);

}  // namespace tandem::transform
