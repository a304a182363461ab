// The one place errors become HTTP: statuses, x-amzn-ErrorType names, JSON bodies in the
// SageMaker runtime shapes (contract section 3), and the excerpt of a stage's body.
#include "tandem/proto/errors.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace tandem::proto {
namespace {

using nlohmann::json;

StageFailure featurize_failure(int status) {
  StageFailure f;
  f.stage = "featurize";
  f.container = "container-2";
  f.original_status = status;
  f.original_message = "unsupported content type text/plain";
  f.log_stream = "/var/log/tandem/featurize.log";
  return f;
}

TEST_CASE("every error type maps to its HTTP status and x-amzn-ErrorType", "[errors]") {
  struct Row {
    ErrorType type;
    int status;
    std::string_view name;
  };
  const Row rows[] = {
      {ErrorType::validation, 400, "ValidationError"},
      {ErrorType::not_found, 404, "ValidationError"},
      {ErrorType::method_not_allowed, 405, "ValidationError"},
      {ErrorType::payload_too_large, 413, "ValidationError"},
      {ErrorType::model, 424, "ModelError"},
      {ErrorType::model_not_ready, 429, "ModelNotReadyException"},
      {ErrorType::internal, 500, "InternalFailure"},
      {ErrorType::unavailable, 503, "ServiceUnavailable"},
  };
  for (const auto& row : rows) {
    INFO("status " << row.status);
    CHECK(to_http_status(row.type) == row.status);
    CHECK(error_type_name(row.type) == row.name);
  }
}

TEST_CASE("named constructors set the type, the message and Retry-After", "[errors]") {
  const Error v = Error::validation("bad header");
  CHECK(v.type == ErrorType::validation);
  CHECK(v.message == "bad header");
  CHECK_FALSE(v.stage.has_value());
  CHECK_FALSE(v.retry_after_s.has_value());

  CHECK(Error::not_found("x").type == ErrorType::not_found);
  CHECK(Error::method_not_allowed("x", "GET").type == ErrorType::method_not_allowed);
  CHECK(Error::payload_too_large("x").type == ErrorType::payload_too_large);
  CHECK(Error::internal("x").type == ErrorType::internal);
  CHECK_FALSE(Error::internal("x").retry_after_s.has_value());

  const Error busy = Error::unavailable("too many requests in flight");
  CHECK(busy.type == ErrorType::unavailable);
  CHECK(busy.retry_after_s == std::optional<int>(1));
  CHECK(Error::unavailable("draining", 5).retry_after_s == std::optional<int>(5));

  const Error starting = Error::model_not_ready("stages are starting", 3);
  CHECK(starting.type == ErrorType::model_not_ready);
  CHECK(starting.retry_after_s == std::optional<int>(3));
  CHECK(Error::model_not_ready("x").retry_after_s == std::optional<int>(1));
}

TEST_CASE("stage_status names the container, the stage and the log", "[errors]") {
  SECTION("a 4xx is a client error") {
    const Error e = Error::stage_status(featurize_failure(415));
    CHECK(e.type == ErrorType::model);
    CHECK(e.message ==
          "Received client error (415) from container-2 (stage 'featurize') with message "
          "\"unsupported content type text/plain\". See /var/log/tandem/featurize.log for more "
          "information.");
    REQUIRE(e.stage.has_value());
    CHECK(e.stage->original_status == 415);
    CHECK(e.stage->original_message == "unsupported content type text/plain");
    CHECK_FALSE(e.retry_after_s.has_value());
  }
  SECTION("a 5xx is a server error") {
    const Error e = Error::stage_status(featurize_failure(503));
    CHECK(e.message ==
          "Received server error (503) from container-2 (stage 'featurize') with message "
          "\"unsupported content type text/plain\". See /var/log/tandem/featurize.log for more "
          "information.");
  }
}

TEST_CASE("stage_failed reports status 0 and carries what happened as the message", "[errors]") {
  StageFailure f = featurize_failure(0);
  f.original_message = "ignored";
  const Error e = Error::stage_failed(f, "connection refused");
  CHECK(e.type == ErrorType::model);
  CHECK(e.message ==
        "Received server error (0) from container-2 (stage 'featurize') with message "
        "\"connection refused\". See /var/log/tandem/featurize.log for more information.");
  REQUIRE(e.stage.has_value());
  CHECK(e.stage->original_status == 0);
  CHECK(e.stage->original_message == "connection refused");
  CHECK(e.stage->stage == "featurize");
  CHECK(e.stage->container == "container-2");
}

TEST_CASE("error_body of a plain error has ErrorCode and Message only", "[errors]") {
  const json body = json::parse(error_body(Error::validation("Endpoint x not found")));
  CHECK(body == json{{"ErrorCode", "ValidationError"}, {"Message", "Endpoint x not found"}});
  CHECK(json::parse(error_body(Error::unavailable("busy"))) ==
        json{{"ErrorCode", "ServiceUnavailable"}, {"Message", "busy"}});
}

TEST_CASE("error_body of a ModelError has the fields boto3 reads", "[errors]") {
  SECTION("client error from the model") {
    const Error e = Error::stage_status(featurize_failure(415));
    const json body = json::parse(error_body(e));
    CHECK(body == json{{"ErrorCode", "CLIENT_ERROR_FROM_MODEL"},
                       {"Message", e.message},
                       {"OriginalStatusCode", 415},
                       {"OriginalMessage", "unsupported content type text/plain"},
                       {"LogStreamArn", "/var/log/tandem/featurize.log"},
                       {"Stage", "featurize"},
                       {"Container", "container-2"}});
    CHECK(body["OriginalStatusCode"].is_number_integer());
  }
  SECTION("server error from the model") {
    const json body = json::parse(error_body(Error::stage_status(featurize_failure(500))));
    CHECK(body["ErrorCode"] == "SERVER_ERROR_FROM_MODEL");
    CHECK(body["OriginalStatusCode"] == 500);
  }
  SECTION("a stage that never answered") {
    const json body = json::parse(error_body(Error::stage_failed(featurize_failure(0), "timeout")));
    CHECK(body["ErrorCode"] == "SERVER_ERROR_FROM_MODEL");
    CHECK(body["OriginalStatusCode"] == 0);
    CHECK(body["OriginalMessage"] == "timeout");
  }
}

TEST_CASE("error_body stays valid JSON when a message is not UTF-8", "[errors]") {
  StageFailure f = featurize_failure(400);
  f.original_message = "bad \xff byte";
  const std::string text = error_body(Error::stage_status(f));
  const json body = json::parse(text);  // throws on invalid UTF-8
  CHECK(body["OriginalMessage"] == "bad \xEF\xBF\xBD byte");
}

TEST_CASE("excerpt makes a body printable and bounds it", "[errors][excerpt]") {
  CHECK(excerpt("") == "");
  CHECK(excerpt("plain text") == "plain text");
  CHECK(excerpt("line one\nline two\r\n\tend") == "line one line two   end");
  CHECK(excerpt(std::string("a\0b\x01"
                            "c\x7f",
                            6)) == "a?b?c?");
  CHECK(excerpt("trailing newline\n\n") == "trailing newline");
  CHECK(excerpt("caf\xc3\xa9") == "caf\xc3\xa9");  // bytes over 0x7f pass through

  CHECK(excerpt("abcdef", 6) == "abcdef");
  CHECK(excerpt("abcdefg", 6) == "abcdef...");
  CHECK(excerpt("ab   cdefg", 4) == "ab...");
  CHECK(excerpt("abc", 0) == "...");

  const std::string big(600, 'x');
  CHECK(excerpt(big) == std::string(512, 'x') + "...");
  CHECK(excerpt(std::string(512, 'y')) == std::string(512, 'y'));
}

TEST_CASE("Result holds either a value or an error", "[errors][result]") {
  Result<int> good = 42;
  CHECK(good.ok());
  CHECK(static_cast<bool>(good));
  CHECK(good.value() == 42);
  CHECK(*good == 42);

  Result<std::string> text = std::string("abc");
  CHECK(text->size() == 3);

  const Result<int> bad = Error::not_found("no such route");
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.error().type == ErrorType::not_found);
  CHECK(bad.error().message == "no such route");
}

}  // namespace
}  // namespace tandem::proto
