// The front server's request handling without sockets: Beast's request parser with the front
// server's limits, then http_mapping (route, invocation headers, the answers). Every answer
// must serialise to HTTP that parses back to the same headers and body (no header injection),
// and every JSON body must parse.
//
// Byte 0, bit 0 clear: the rest is raw request bytes, fed to the parser in two pieces split
// where byte 1 says. Bit 0 set: byte 1 picks the method, the next line is the target, the
// lines up to an empty one are "Name: value" headers, the rest is the body.
//
// Byte 0, bit 1 set (and bit 0 clear): the wire as tandem reads it from a peer, through
// Beast's http::read into the capped buffer of proto/http_framing.h: a request as the front
// door reads it (bit 2 clear) or a stage's answer as the stage transport and the pings read it
// (bit 2 set), delivered in reads of byte 1's size. The bytes are expanded first (0xff N C
// stands for N KiB of C), so a short input can send a 64 KiB chunk extension or trailer field:
// no input may throw, or make the buffer exceed its cap.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>

#include "pipeline/server/http_mapping.h"
#include "pipeline/server/session_limits.h"
#include "tandem/proto/headers.h"
#include "tandem/proto/http_framing.h"

namespace {

namespace http = boost::beast::http;
namespace server = tandem::server;
namespace proto = tandem::proto;

const std::size_t kHeaderLimit = server::SessionLimits{}.header_bytes;
constexpr std::size_t kBodyLimit = 1024 * 1024;
const std::string kEndpoint = "fuzz-endpoint";

void check(bool condition) {
  if (!condition) std::abort();
}

// Feeds `pieces` to `parser` as a socket would deliver them; true when a message is complete.
template <class Parser>
bool parse(Parser& parser, std::string_view first, std::string_view second) {
  boost::beast::error_code ec;
  std::string pending;
  for (const std::string_view piece : {first, second}) {
    pending.append(piece);
    while (!pending.empty() && !parser.is_done()) {
      const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec == http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return false;
      pending.erase(0, used);
    }
  }
  if (!parser.got_some()) return false;
  if (!parser.is_done()) {
    parser.put_eof(ec);
    if (ec) return false;
  }
  return parser.is_done();
}

// The answer as bytes on the wire, parsed back: the same fields and body.
void check_wire(const server::Response& response) {
  std::ostringstream wire;
  wire << response;
  const std::string bytes = wire.str();
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 * 1024 * 1024);
  check(parse(parser, bytes, {}));
  const auto& back = parser.get();
  check(back.result_int() == response.result_int());
  check(back.body() == response.body());
  check(std::distance(back.begin(), back.end()) == std::distance(response.begin(), response.end()));
  for (const auto& field : response) {
    const auto found = back.find(field.name_string());
    check(found != back.end());
  }
}

void check_json_body(const server::Response& response) {
  check(nlohmann::json::accept(response.body()));
}

void answer_error(const proto::Error& error, unsigned version) {
  auto response = server::error_response(error, "request-id", version);
  check(static_cast<int>(response.result_int()) == proto::to_http_status(error.type));
  check_json_body(response);
  check_wire(response);
}

// Answers `request` as the front server does, with an echo stage behind it; `selector` varies
// what the stage does.
void handle(server::Request request, std::uint8_t selector) {
  const unsigned version = request.version();
  auto route = server::match_route(request.method(), request.target(), kEndpoint);
  if (!route) return answer_error(route.error(), version);
  switch (*route) {
    case server::Route::ping:
    case server::Route::metrics:
      return;
    case server::Route::execution_parameters: {
      tandem::spec::ExecutionParameters from_spec;
      if (selector & 1) from_spec.max_payload_mb = 3;
      const auto text = server::execution_parameters(from_spec, request.body());
      const auto parsed = nlohmann::json::parse(text, nullptr, false);
      check(parsed.is_object() && parsed.size() == 3);
      return;
    }
    case server::Route::invocations:
      break;
  }
  auto invocation = server::parse_invocation(request, "generated-id");
  if (!invocation) return answer_error(invocation.error(), version);
  check(!invocation->inference_id.empty());
  if (selector & 1) {
    // The stage failed; its body is quoted in the error.
    proto::StageFailure failure{"model", "container-2", 400 + selector,
                                proto::excerpt(invocation->body),
                                "/aws/sagemaker/Endpoints/" + kEndpoint};
    return answer_error(proto::Error::stage_status(std::move(failure)), version);
  }
  tandem::chain::InvocationResult result;
  result.body = invocation->body;
  result.content_type = invocation->content_type.value_or("application/octet-stream");
  result.custom_attributes = invocation->custom_attributes;
  result.timings.push_back({"model", std::chrono::microseconds(selector * 997), 200});
  result.total = std::chrono::microseconds(selector * 1009);
  auto response = server::success_response(result, "request-id", version);
  check(response.body() == invocation->body);
  check_wire(response);
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (const unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("\"(),/:;<=>?@[\\]{}").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// A value Beast's parser could have produced: no control characters but tab, trimmed.
bool is_field_value(std::string_view s) {
  for (const unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return s.empty() ||
         (s.front() != ' ' && s.front() != '\t' && s.back() != ' ' && s.back() != '\t');
}

std::string_view next_line(std::string_view& input) {
  const auto newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  input.remove_prefix(newline == std::string_view::npos ? input.size() : newline + 1);
  return line;
}

void structured(std::uint8_t method, std::string_view input) {
  server::Request request;
  request.method(static_cast<http::verb>(1 + method % static_cast<int>(http::verb::unlink)));
  request.version(11);
  request.target(next_line(input));
  for (std::string_view line = next_line(input); !line.empty(); line = next_line(input)) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto name = line.substr(0, colon);
    auto value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (is_token(name) && is_field_value(value)) request.insert(name, value);
  }
  request.body() = std::string(input);
  handle(std::move(request), method);
}

void raw(std::uint8_t split, std::string_view bytes) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  const std::size_t at = bytes.empty() ? 0 : split % (bytes.size() + 1);
  if (!parse(parser, bytes.substr(0, at), bytes.substr(at))) return;
  handle(parser.release(), split);
}

// A SyncReadStream over fixed bytes, `step` bytes per read, then end of file.
class WireStream {
 public:
  WireStream(std::string_view bytes, std::size_t step) : bytes_(bytes), step_(step) {}
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers, boost::beast::error_code& ec) {
    if (bytes_.empty()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    const auto n = boost::asio::buffer_copy(
        buffers, boost::asio::buffer(bytes_.data(), std::min(step_, bytes_.size())));
    bytes_.remove_prefix(n);
    ec = {};
    return n;
  }
  template <class Buffers>
  std::size_t read_some(const Buffers& buffers) {
    boost::beast::error_code ec;
    const auto n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view bytes_;
  std::size_t step_;
};

std::string expand(std::string_view input) {
  std::string out;
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (static_cast<unsigned char>(input[i]) == 0xff && i + 2 < input.size()) {
      out.append(static_cast<unsigned char>(input[i + 1]) * std::size_t{1024}, input[i + 2]);
      i += 2;
    } else {
      out += input[i];
    }
  }
  return out;
}

template <class Parser>
void read_wire(Parser& parser, std::string_view bytes, std::size_t step) {
  WireStream stream(bytes, step);
  auto buffer = proto::http_framing::make_read_buffer();
  boost::beast::error_code ec;
  // Reads messages until one fails, as a keep-alive connection would; none may throw.
  http::read(stream, buffer, parser, ec);
  check(buffer.size() <= proto::http_framing::kReadBufferLimit);
  if (!ec) check(parser.is_done());
}

void wire(std::uint8_t flags, std::uint8_t step, std::string_view input) {
  const std::string bytes = expand(input);
  const std::size_t read_size = 1 + step * std::size_t{257};
  if (flags & 4) {
    http::response_parser<http::string_body> parser;  // as http_transport.cpp and http_client.cpp
    parser.header_limit(proto::http_framing::kReadBufferLimit);
    parser.body_limit(kBodyLimit);
    read_wire(parser, bytes, read_size);
  } else {
    http::request_parser<http::string_body> parser;  // as the front server's session
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    read_wire(parser, bytes, read_size);
    if (parser.is_done() && server::check_framing(parser.get()).ok())
      handle(parser.release(), step);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (data[0] & 1) {
    structured(data[1], input);
  } else if (data[0] & 2) {
    wire(data[0], data[1], input);
  } else {
    raw(data[1], input);
  }
  return 0;
}
