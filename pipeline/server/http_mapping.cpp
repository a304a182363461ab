#include "pipeline/server/http_mapping.h"

#include <fmt/core.h>

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <nlohmann/json.hpp>
#include <random>

#include "tandem/proto/headers.h"
#include "tandem/proto/json_depth.h"

namespace tandem::server {

namespace header = proto::header;
using proto::Error;

namespace {

// The path of an origin-form target ("/invocations?x") or of an absolute-form one
// ("http://host:8080/invocations"), which RFC 9112 section 3.2.2 says a server must accept.
std::string_view path_of(std::string_view target) {
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (boost::beast::iequals(target.substr(0, scheme.size()), scheme)) {
      const auto slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      break;
    }
  }
  const auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

std::optional<std::string> header_value(const Request& request, std::string_view name) {
  const auto it = request.find(name);
  if (it == request.end()) return std::nullopt;
  return std::string(it->value());
}

bool visible_ascii(std::string_view s, bool allow_space) {
  for (const unsigned char c : s) {
    if (c > 0x7e || c < 0x20 || (c == 0x20 && !allow_space)) return false;
  }
  return true;
}

double ms(std::chrono::microseconds us) {
  return static_cast<double>(us.count()) / 1000.0;
}

}  // namespace

proto::Result<Route> match_route(http::verb method, std::string_view target,
                                 const std::string& endpoint_name) {
  const auto path = path_of(target);
  auto require = [&](http::verb verb, Route route) -> proto::Result<Route> {
    if (method == verb) return route;
    const std::string allowed(http::to_string(verb));
    return Error::method_not_allowed(
        fmt::format("{} {} is not supported; use {}", std::string(http::to_string(method)),
                    std::string(path), allowed),
        allowed);
  };
  if (path == "/ping") return require(http::verb::get, Route::ping);
  if (path == "/invocations") return require(http::verb::post, Route::invocations);
  if (path == "/execution-parameters") return require(http::verb::get, Route::execution_parameters);
  if (path == "/metrics") return require(http::verb::get, Route::metrics);
  constexpr std::string_view prefix = "/endpoints/", suffix = "/invocations";
  if (path.starts_with(prefix) && path.ends_with(suffix) &&
      path.size() > prefix.size() + suffix.size()) {
    const auto name = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    if (name != endpoint_name) {
      return Error::not_found(fmt::format("Endpoint {} not found: this server serves endpoint '{}'",
                                          std::string(name), endpoint_name));
    }
    return require(http::verb::post, Route::invocations);
  }
  return Error::not_found(
      fmt::format("no route for {}; routes are GET /ping, POST /invocations, "
                  "POST /endpoints/{}/invocations, GET /execution-parameters, GET /metrics",
                  std::string(path), endpoint_name));
}

tandem::Status<Error> check_framing(const http::request_header<>& header) {
  if (const auto it = header.find(http::field::transfer_encoding); it != header.end()) {
    // RFC 9112 section 6.1: a server that does not understand a transfer coding answers 501.
    // Only "chunked" is understood; anything else would hand the stages encoded bytes as if
    // they were the body.
    bool only_chunked = header.count(http::field::transfer_encoding) == 1;
    std::size_t codings = 0;
    for (const auto& coding : http::token_list(it->value())) {
      ++codings;
      only_chunked = only_chunked && boost::beast::iequals(coding, "chunked");
    }
    if (!only_chunked || codings != 1) {
      return Error::not_implemented(fmt::format(
          "Transfer-Encoding '{}' is not supported: send the body as it is (with Content-Length) "
          "or chunked",
          proto::excerpt(std::string_view(it->value()), 100)));
    }
  }
  if (const auto it = header.find(http::field::expect);
      it != header.end() && !boost::beast::iequals(it->value(), "100-continue")) {
    // RFC 9110 section 10.1.1: an expectation the server cannot meet is 417.
    return Error::expectation_failed(
        fmt::format("Expect '{}' cannot be met; the only expectation understood is 100-continue",
                    proto::excerpt(std::string_view(it->value()), 100)));
  }
  return {};
}

proto::Result<chain::Invocation> parse_invocation(Request& request, std::string generated_id) {
  // Each of these has one value: sent twice, which one was meant is a guess.
  for (const std::string_view name :
       {std::string_view("Content-Type"), header::custom_attributes, header::inference_id,
        header::target_variant, header::target_container_hostname}) {
    if (request.count(name) > 1)
      return Error::validation(fmt::format("{} was sent {} times; send it once", std::string(name),
                                           request.count(name)));
  }
  chain::Invocation inv;
  inv.content_type = header_value(request, "Content-Type");
  inv.accept = header_value(request, "Accept");
  inv.custom_attributes = header_value(request, header::custom_attributes);
  if (inv.custom_attributes && (inv.custom_attributes->size() > header::max_custom_attributes ||
                                !visible_ascii(*inv.custom_attributes, true))) {
    return Error::validation(fmt::format(
        "{} must be at most {} visible ASCII characters (got {} bytes)", header::custom_attributes,
        header::max_custom_attributes, inv.custom_attributes->size()));
  }
  if (auto id = header_value(request, header::inference_id)) {
    // botocore's pattern: \A\S[\p{Print}]*\z (Beast has trimmed surrounding spaces).
    if (id->empty() || id->size() > header::max_inference_id || !visible_ascii(*id, true)) {
      return Error::validation(fmt::format("{} must be 1-{} printable ASCII characters",
                                           header::inference_id, header::max_inference_id));
    }
    inv.inference_id = std::move(*id);
  } else {
    inv.inference_id = std::move(generated_id);
  }
  if (auto variant = header_value(request, header::target_variant);
      variant && *variant != header::production_variant) {
    return Error::validation(
        fmt::format("{} '{}' names no variant of this endpoint; its only variant is {}",
                    header::target_variant, *variant, header::production_variant));
  }
  inv.target_container = header_value(request, header::target_container_hostname);
  if (request.count("traceparent") == 1) {
    if (auto trace = header_value(request, "traceparent"); trace && valid_traceparent(*trace))
      inv.traceparent = std::move(trace);
  }
  inv.body = std::move(request.body());
  return inv;
}

std::string server_timing(const chain::InvocationResult& result) {
  std::string out;
  std::chrono::microseconds stages{0};
  for (const auto& t : result.timings) {
    out += fmt::format("{}{};dur={:.3f}", out.empty() ? "" : ", ", t.stage, ms(t.duration));
    stages += t.duration;
  }
  const auto overhead = std::max(std::chrono::microseconds{0}, result.total - stages);
  out += fmt::format("{}overhead;dur={:.3f}, total;dur={:.3f}", out.empty() ? "" : ", ",
                     ms(overhead), ms(result.total));
  return out;
}

Response success_response(chain::InvocationResult& result, const std::string& request_id,
                          unsigned version) {
  Response res{http::status::ok, version};
  res.set(http::field::content_type, result.content_type);
  res.set(header::invoked_production_variant, header::production_variant);
  res.set(header::request_id, request_id);
  if (result.custom_attributes) res.set(header::custom_attributes, *result.custom_attributes);
  res.set(header::server_timing, server_timing(result));
  res.body() = std::move(result.body);
  res.prepare_payload();
  return res;
}

Response error_response(const Error& error, const std::string& request_id, unsigned version) {
  Response res{static_cast<http::status>(proto::to_http_status(error.type)), version};
  res.set(http::field::content_type, "application/json");
  res.set(header::error_type, proto::error_type_name(error.type));
  res.set(header::request_id, request_id);
  if (error.retry_after_s) res.set(header::retry_after, std::to_string(*error.retry_after_s));
  if (error.allow) res.set(http::field::allow, *error.allow);
  res.body() = proto::error_body(error);
  res.prepare_payload();
  return res;
}

std::string execution_parameters(const spec::ExecutionParameters& from_spec,
                                 const std::optional<std::string>& first_stage_answer) {
  nlohmann::json stage = nlohmann::json::object();
  if (first_stage_answer) {
    std::string ignored;  // a malformed answer is ignored, as if absent
    auto parsed = proto::json::parse_bounded<nlohmann::json>(*first_stage_answer, ignored);
    if (parsed.is_object()) stage = std::move(parsed);
  }
  nlohmann::json out;
  auto pick = [&](const char* key, const auto& spec_value, auto fallback, auto is_valid) {
    if (spec_value) {
      out[key] = *spec_value;
    } else if (stage.contains(key) && is_valid(stage[key])) {
      out[key] = stage[key];
    } else {
      out[key] = fallback;
    }
  };
  auto count = [](const nlohmann::json& v) { return v.is_number_unsigned(); };
  auto strategy = [](const nlohmann::json& v) {
    return v.is_string() && (v == "MULTI_RECORD" || v == "SINGLE_RECORD");
  };
  pick("MaxConcurrentTransforms", from_spec.max_concurrent_transforms, 1, count);
  pick("BatchStrategy", from_spec.batch_strategy, "MULTI_RECORD", strategy);
  pick("MaxPayloadInMB", from_spec.max_payload_mb, 6, count);
  return out.dump();
}

bool valid_traceparent(std::string_view value) {
  auto hex = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  auto zeros = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
  };
  constexpr std::size_t length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (value.size() < length || value[2] != '-' || value[35] != '-' || value[52] != '-')
    return false;
  const auto version = value.substr(0, 2), trace_id = value.substr(3, 32),
             parent_id = value.substr(36, 16), flags = value.substr(53, 2);
  if (!hex(version) || version == "ff" || !hex(trace_id) || !hex(parent_id) || !hex(flags))
    return false;
  if (zeros(trace_id) || zeros(parent_id)) return false;
  if (version == "00") return value.size() == length;
  return value.size() == length || value[length] == '-';  // a later version may append fields
}

std::string random_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const std::uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffull);
}

}  // namespace tandem::server
