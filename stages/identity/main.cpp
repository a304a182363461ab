// tandem-identity: a stage that answers each invocation with its own input. Environment
// variables make it slow, failing, crashing or unhealthy, for tests and benchmarks (see
// `usage` below). Invalid values stop it at start-up with a message naming the variable.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "stages/sdk/stage.h"

namespace {

using tandem::stage::Request;
using tandem::stage::Response;

constexpr std::string_view usage = R"(usage: tandem-identity [serve]

Answers POST /invocations with the request body and its Content-Type (application/octet-stream
if none). Environment:
  SAGEMAKER_BIND_TO_PORT               port (default 8080); TANDEM_STAGE_HOST, TANDEM_STAGE_THREADS
  TANDEM_IDENTITY_DELAY_MS             wait this long before answering
  TANDEM_IDENTITY_FAIL_STATUS          answer every invocation with this status (200-599)
  TANDEM_IDENTITY_CONTENT_TYPE         answer with this Content-Type
  TANDEM_IDENTITY_APPEND               append this text to the body
  TANDEM_IDENTITY_ECHO_HEADERS=1       answer a JSON object of what was received
  TANDEM_IDENTITY_CUSTOM_ATTRIBUTES    send this X-Amzn-SageMaker-Custom-Attributes
  TANDEM_IDENTITY_EXIT_AFTER=N         _exit(3) on receiving the Nth invocation
  TANDEM_IDENTITY_STARTUP_DELAY_MS     wait this long before listening
  TANDEM_IDENTITY_FAIL_START=1         exit 2 at start-up
  TANDEM_IDENTITY_PING_STATUS          status GET /ping answers (200-599)
)";

constexpr unsigned long max_delay_ms = 3'600'000;

struct Config {
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds startup_delay{0};
  std::optional<int> fail_status;
  std::optional<std::string> content_type;
  std::string append;
  bool echo_headers = false;
  std::optional<std::string> custom_attributes;
  std::optional<unsigned long> exit_after;
  std::optional<int> ping_status;
};

// Reads the TANDEM_IDENTITY_* variables, collecting every invalid one before failing.
// An empty variable counts as unset.
class Environment {
 public:
  std::optional<std::string_view> text(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string_view(value);
  }

  std::optional<unsigned long> number(const char* name, unsigned long min, unsigned long max,
                                      std::string_view meaning) {
    const auto value = text(name);
    if (!value) return std::nullopt;
    unsigned long result = 0;
    const auto [end, error] = std::from_chars(value->data(), value->data() + value->size(), result);
    if (error == std::errc{} && end == value->data() + value->size() && result >= min &&
        result <= max) {
      return result;
    }
    fail(name,
         max == std::numeric_limits<unsigned long>::max()
             ? fmt::format("{} of at least {}", meaning, min)
             : fmt::format("{} {}-{}", meaning, min, max),
         *value);
    return std::nullopt;
  }

  bool flag(const char* name) {
    const auto value = text(name);
    if (!value || *value == "0" || *value == "false") return false;
    if (*value == "1" || *value == "true") return true;
    fail(name, "1, true, 0 or false", *value);
    return false;
  }

  // A value sent as an HTTP header: CR or LF would corrupt the response.
  std::optional<std::string> header_value(const char* name) {
    const auto value = text(name);
    if (!value) return std::nullopt;
    if (value->find_first_of("\r\n") == std::string_view::npos) return std::string(*value);
    fail(name, "a header value without line breaks", *value);
    return std::nullopt;
  }

  void fail(std::string_view name, std::string_view expected, std::string_view got) {
    report(fmt::format("{}: expected {}, got \"{}\"", name, expected, got));
  }

  void report(std::string_view message) {
    errors_ += fmt::format("tandem-identity: {}\n", message);
  }

  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

std::optional<int> status(Environment& environment, const char* name) {
  const auto value = environment.number(name, 200, 599, "an HTTP status");
  return value ? std::optional<int>(static_cast<int>(*value)) : std::nullopt;
}

Config read_config(Environment& environment) {
  Config config;
  if (auto ms = environment.number("TANDEM_IDENTITY_DELAY_MS", 0, max_delay_ms, "milliseconds")) {
    config.delay = std::chrono::milliseconds(*ms);
  }
  if (auto ms =
          environment.number("TANDEM_IDENTITY_STARTUP_DELAY_MS", 0, max_delay_ms, "milliseconds")) {
    config.startup_delay = std::chrono::milliseconds(*ms);
  }
  config.fail_status = status(environment, "TANDEM_IDENTITY_FAIL_STATUS");
  config.ping_status = status(environment, "TANDEM_IDENTITY_PING_STATUS");
  config.content_type = environment.header_value("TANDEM_IDENTITY_CONTENT_TYPE");
  config.custom_attributes = environment.header_value("TANDEM_IDENTITY_CUSTOM_ATTRIBUTES");
  config.append = environment.text("TANDEM_IDENTITY_APPEND").value_or("");
  config.echo_headers = environment.flag("TANDEM_IDENTITY_ECHO_HEADERS");
  config.exit_after =
      environment.number("TANDEM_IDENTITY_EXIT_AFTER", 1, std::numeric_limits<unsigned long>::max(),
                         "an invocation count");
  // Appending to the JSON echo would make it invalid JSON: refuse rather than guess.
  if (config.echo_headers && !config.append.empty()) {
    environment.fail("TANDEM_IDENTITY_APPEND", "no value with TANDEM_IDENTITY_ECHO_HEADERS=1",
                     config.append);
  }
  return config;
}

// What the stage received, as JSON; bytes that are not UTF-8 become U+FFFD.
std::string echo_json(const Request& request) {
  const nlohmann::json echo = {{"body", request.body},
                               {"content_type", request.content_type},
                               {"accept", request.accept},
                               {"custom_attributes", request.custom_attributes},
                               {"inference_id", request.inference_id}};
  return echo.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response answer(const Config& config, const Request& request) {
  if (config.fail_status) {
    return Response{
        .status = *config.fail_status,
        .body = fmt::format("identity stage failing with status {}", *config.fail_status),
        .content_type = "text/plain"};
  }
  Response response;
  if (config.echo_headers) {
    response.body = echo_json(request);
    response.content_type = "application/json";
  } else {
    response.body = request.body + config.append;
    if (!request.content_type.empty()) response.content_type = request.content_type;
  }
  if (config.content_type) response.content_type = *config.content_type;
  response.custom_attributes = config.custom_attributes;
  return response;
}

tandem::stage::Handler make_handler(const Config& config) {
  auto received = std::make_shared<std::atomic<unsigned long>>(0);
  return [config, received](const Request& request) {
    // The crash comes before any answer, as a stage dying mid-request would.
    if (config.exit_after && ++*received == *config.exit_after) {
      fmt::print(stderr, "identity: exiting on invocation {} as asked\n", *config.exit_after);
      std::fflush(stderr);
      _exit(3);
    }
    if (config.delay.count() > 0) std::this_thread::sleep_for(config.delay);
    return answer(config, request);
  };
}

void apply_ping_status(const Config& config, tandem::stage::Options& options) {
  if (!config.ping_status || *config.ping_status == 200) return;
  options.ping = [] { return false; };
  options.unhealthy_status = *config.ping_status;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view argument = argc > 1 ? argv[1] : "serve";
  if (argument == "--help" || argument == "-h") {
    fmt::print("{}", usage);
    return 0;
  }
  if (argc > 2 || argument != "serve") {  // SageMaker starts containers as `<image> serve`.
    fmt::print(stderr, "{}", usage);
    return 2;
  }
  Environment environment;
  if (environment.flag("TANDEM_IDENTITY_FAIL_START")) {
    fmt::print(stderr, "identity: failing at start-up as asked\n");
    return 2;
  }
  const Config config = read_config(environment);
  tandem::stage::Options options;
  try {
    options = tandem::stage::from_environment();
  } catch (const std::invalid_argument& error) {
    environment.report(error.what());
  }
  if (!environment.errors().empty()) {
    fmt::print(stderr, "{}", environment.errors());
    return 2;
  }
  apply_ping_status(config, options);
  std::this_thread::sleep_for(config.startup_delay);
  return tandem::stage::serve(make_handler(config), std::move(options));
}
