// The DataProcessing JSONPath subset: parse the first line of the input as a path and, when it
// parses, evaluate it on the rest as a JSON document. Errors must be values with the message
// shapes json_path.h documents; a crash, an exception or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pipeline/transform/json.h"
#include "pipeline/transform/json_path.h"

namespace {

using tandem::transform::JsonPath;

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view text = input.substr(0, newline);
  const std::string_view document =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  auto path = JsonPath::parse(text, "InputFilter");
  if (!path) {
    const std::string prefix = "InputFilter \"" + std::string(text) + "\": position ";
    check(path.error().message.starts_with(prefix));
    return 0;
  }
  check(text.size() <= tandem::transform::kMaxJsonPathLength && text.starts_with('$'));
  check(path->text() == text);
  check(path->is_root() == (text == "$"));

  auto root = tandem::transform::parse_json(document);
  if (!root) return 0;
  auto selected = path->evaluate(*root);
  if (!selected) {
    check(!selected.error().message.empty());
    return 0;
  }
  if (path->is_root()) check(*selected == *root);
  // What DataProcessing writes back: any selection serialises.
  (void)selected->dump(-1, ' ', false, tandem::transform::Json::error_handler_t::replace);
  return 0;
}
