#include "pipeline/spec/values.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "tandem/proto/headers.h"

namespace tandem::spec {
namespace {

constexpr std::string_view kNameRule =
    "letters, digits and hyphens, starting and ending with a letter or digit";
constexpr double kBytesPerMegabyte = 1024.0 * 1024.0;
constexpr int kLowestStagePort = 1024;
constexpr int kHighestPort = 65535;

bool is_alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

std::optional<int> parse_port(std::string_view text) {
  int port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return port;
}

}  // namespace

bool is_sagemaker_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  if (!is_alnum(name.front()) || !is_alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '-'; });
}

std::optional<std::string> read_sagemaker_name(Context& ctx, const Value& value) {
  auto name = read_string(ctx, value);
  if (!name || is_sagemaker_name(*name)) return name;
  if (name->size() > kMaxNameLength) {
    ctx.error(value.mark, value.path,
              fmt::format("{} is {} characters long; use at most {} {}", quote(*name), name->size(),
                          kMaxNameLength, kNameRule));
  } else {
    ctx.error(value.mark, value.path,
              fmt::format("{} is not a valid name; use 1 to {} {}", quote(*name), kMaxNameLength,
                          kNameRule));
  }
  return std::nullopt;
}

std::optional<std::string> read_header_value(Context& ctx, const Value& value) {
  auto text = read_string(ctx, value);
  if (!text) return std::nullopt;
  tandem::Status<std::string> checked = proto::header::check_value(*text);
  if (checked) return text;
  ctx.error(value.mark, value.path, std::move(checked).error());
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> read_seconds(Context& ctx, const Value& value,
                                                      bool allow_zero) {
  const NumberRule rule{
      .expected = allow_zero ? "a number of seconds" : "a positive number of seconds",
      .unit = "seconds",
      .allow_zero = allow_zero,
      .max = kMaxSeconds,
  };
  auto seconds = read_number(ctx, value, rule);
  if (!seconds) return std::nullopt;
  // Rounding up keeps a tiny positive timeout from becoming 0 ms.
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(*seconds * 1000)));
}

std::optional<std::uint64_t> read_megabytes(Context& ctx, const Value& value) {
  const NumberRule rule{
      .expected = "a positive number of megabytes",
      .unit = "MB",
      .allow_zero = false,
      .max = kMaxPayloadMegabytes,
  };
  auto megabytes = read_number(ctx, value, rule);
  if (!megabytes) return std::nullopt;
  return static_cast<std::uint64_t>(std::ceil(*megabytes * kBytesPerMegabyte));
}

std::optional<PortRange> read_port_range(Context& ctx, const Value& value) {
  auto text = read_scalar(ctx, value, "a port range \"LOW-HIGH\"");
  if (!text) return std::nullopt;
  const std::size_t dash = text->find('-');
  std::optional<int> low, high;
  if (dash != std::string::npos) {
    low = parse_port(std::string_view(*text).substr(0, dash));
    high = parse_port(std::string_view(*text).substr(dash + 1));
  }
  if (!low || !high) {
    ctx.error(value.mark, value.path,
              proto::expected("a port range \"LOW-HIGH\" such as \"9000-9999\"", quote(*text)));
    return std::nullopt;
  }
  if (*low < kLowestStagePort || *low > *high || *high > kHighestPort) {
    ctx.error(value.mark, value.path,
              fmt::format("must satisfy {} <= LOW <= HIGH <= {}, got {}", kLowestStagePort,
                          kHighestPort, quote(*text)));
    return std::nullopt;
  }
  return PortRange{static_cast<std::uint16_t>(*low), static_cast<std::uint16_t>(*high)};
}

std::string resolve_path(const std::filesystem::path& base_dir, const std::string& path) {
  std::filesystem::path resolved = (base_dir / path).lexically_normal();
  // "models/" and "." normalise with a trailing separator; drop it.
  if (!resolved.has_filename() && resolved != resolved.root_path()) {
    resolved = resolved.parent_path();
  }
  return resolved.string();
}

std::optional<std::string> read_path(Context& ctx, const Value& value,
                                     const std::filesystem::path& base_dir) {
  auto path = read_string(ctx, value);
  if (!path) return std::nullopt;
  return resolve_path(base_dir, *path);
}

}  // namespace tandem::spec
