// The pure request handling of the stage SDK: routing, header mapping, error mapping.
#include "stages/sdk/http.h"

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>
#include <catch2/catch.hpp>
#include <stdexcept>

namespace http = boost::beast::http;
using namespace tandem::stage;

namespace {

HttpRequest make_request(http::verb method, std::string target, std::string body = "") {
  HttpRequest request{method, target, 11};
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

Handler echo_handler() {
  return [](const Request& request) {
    return Response{.body = request.body, .content_type = request.content_type};
  };
}

HttpResponse invoke_with(const Handler& handler) {
  return handle_request(make_request(http::verb::post, "/invocations", "x"), handler, Options{});
}

}  // namespace

TEST_CASE("to_request takes the body and the SageMaker headers") {
  auto request = make_request(http::verb::post, "/invocations", "1,2,3");
  request.set(http::field::content_type, "text/csv; charset=utf-8");
  request.set(http::field::accept, "application/json");
  request.set("x-amzn-sagemaker-custom-attributes", "trace=1");  // case-insensitive
  request.set("X-Amzn-SageMaker-Inference-Id", "id-42");
  request.set("X-Unknown", "ignored");

  const Request mapped = to_request(std::move(request));
  CHECK(mapped.body == "1,2,3");
  CHECK(mapped.content_type == "text/csv; charset=utf-8");
  CHECK(mapped.accept == "application/json");
  CHECK(mapped.custom_attributes == "trace=1");
  CHECK(mapped.inference_id == "id-42");
}

TEST_CASE("to_request leaves absent headers empty") {
  const Request mapped = to_request(make_request(http::verb::post, "/invocations", ""));
  CHECK(mapped.body.empty());
  CHECK(mapped.content_type.empty());
  CHECK(mapped.accept.empty());
  CHECK(mapped.custom_attributes.empty());
  CHECK(mapped.inference_id.empty());
}

TEST_CASE("to_http_response sends status, body, content type and custom attributes") {
  auto response = to_http_response(
      Response{.status = 201, .body = "ok", .content_type = "text/csv", .custom_attributes = "a=b"},
      11);
  CHECK(response.result_int() == 201);
  CHECK(response.body() == "ok");
  CHECK(response[http::field::content_type] == "text/csv");
  CHECK(response["X-Amzn-SageMaker-Custom-Attributes"] == "a=b");
  CHECK(response[http::field::content_length] == "2");
  CHECK(response.version() == 11);
}

TEST_CASE("to_http_response omits headers that are not set") {
  auto response = to_http_response(Response{.body = "b", .content_type = ""}, 11);
  CHECK(response.result_int() == 200);
  CHECK(response.find(http::field::content_type) == response.end());
  CHECK(response.find("X-Amzn-SageMaker-Custom-Attributes") == response.end());
}

TEST_CASE("to_http_response turns an answer that cannot be sent into a 500") {
  SECTION("status out of range") {
    auto response = to_http_response(Response{.status = 99}, 11);
    CHECK(response.result_int() == 500);
    CHECK(response.body() == "stage handler returned invalid HTTP status 99");
  }
  SECTION("header injection") {
    auto response = to_http_response(Response{.content_type = "text/csv\r\nX-Evil: 1"}, 11);
    CHECK(response.result_int() == 500);
    CHECK(response.body() == "stage handler returned a header value with control characters");
  }
  SECTION("a 204 drops its body") {
    auto response = to_http_response(Response{.status = 204, .body = "dropped"}, 11);
    CHECK(response.result_int() == 204);
    CHECK(response.body().empty());
  }
}

TEST_CASE("invoke maps handler exceptions to statuses") {
  SECTION("HttpError keeps its status and message") {
    auto response =
        invoke_with([](const Request&) -> Response { throw HttpError(415, "expected text/csv"); });
    CHECK(response.result_int() == 415);
    CHECK(response.body() == "expected text/csv");
    CHECK(response[http::field::content_type] == "text/plain; charset=utf-8");
  }
  SECTION("any other exception is a 500 with its text") {
    auto response =
        invoke_with([](const Request&) -> Response { throw std::runtime_error("model exploded"); });
    CHECK(response.result_int() == 500);
    CHECK(response.body() == "model exploded");
  }
  SECTION("a non-standard exception is a 500 too") {
    auto response = invoke_with([](const Request&) -> Response { throw 42; });
    CHECK(response.result_int() == 500);
    CHECK(response.body() == "stage handler threw a non-standard exception");
  }
  SECTION("an HttpError with an invalid status is a 500") {
    auto response = invoke_with([](const Request&) -> Response { throw HttpError(42, "odd"); });
    CHECK(response.result_int() == 500);
    CHECK(response.body() == "odd");
  }
}

TEST_CASE("handle_request routes the container contract") {
  const Handler handler = echo_handler();
  Options options;

  SECTION("POST /invocations reaches the handler") {
    auto request = make_request(http::verb::post, "/invocations", "payload");
    request.set(http::field::content_type, "text/csv");
    auto response = handle_request(std::move(request), handler, options);
    CHECK(response.result_int() == 200);
    CHECK(response.body() == "payload");
    CHECK(response[http::field::content_type] == "text/csv");
  }
  SECTION("a query string does not change the route") {
    auto response =
        handle_request(make_request(http::verb::post, "/invocations?a=1", "q"), handler, options);
    CHECK(response.result_int() == 200);
    CHECK(response.body() == "q");
  }
  SECTION("GET /ping is healthy by default, with an empty body") {
    auto response = handle_request(make_request(http::verb::get, "/ping"), handler, options);
    CHECK(response.result_int() == 200);
    CHECK(response.body().empty());
  }
  SECTION("GET /ping answers unhealthy_status when the ping handler says no") {
    options.ping = [] { return false; };
    options.unhealthy_status = 500;
    auto response = handle_request(make_request(http::verb::get, "/ping"), handler, options);
    CHECK(response.result_int() == 500);
    CHECK(response.body() == "stage is not healthy");
  }
  SECTION("a throwing ping handler is unhealthy") {
    options.ping = []() -> bool { throw std::runtime_error("no model"); };
    auto response = handle_request(make_request(http::verb::get, "/ping"), handler, options);
    CHECK(response.result_int() == 503);
    CHECK(response.body() == "stage health check failed: no model");
  }
  SECTION("wrong methods are 405 with Allow") {
    auto get = handle_request(make_request(http::verb::get, "/invocations"), handler, options);
    CHECK(get.result_int() == 405);
    CHECK(get[http::field::allow] == "POST");
    auto post = handle_request(make_request(http::verb::post, "/ping"), handler, options);
    CHECK(post.result_int() == 405);
    CHECK(post[http::field::allow] == "GET");
  }
  SECTION("other paths are 404") {
    auto response = handle_request(make_request(http::verb::get, "/models"), handler, options);
    CHECK(response.result_int() == 404);
    CHECK(response.body() ==
          "no route for /models: a stage serves GET /ping and POST /invocations");
  }
  SECTION("the response keeps the request's HTTP version") {
    auto request = make_request(http::verb::get, "/ping");
    request.version(10);
    CHECK(handle_request(std::move(request), handler, options).version() == 10);
  }
}

TEST_CASE("read_error_response answers what the client can still read") {
  Options options;
  options.max_body_bytes = 10;

  auto too_large = read_error_response(http::error::body_limit, options);
  REQUIRE(too_large);
  CHECK(too_large->result_int() == 413);
  CHECK(too_large->body() == "request body exceeds the stage's limit of 10 bytes");

  auto headers = read_error_response(http::error::header_limit, options);
  REQUIRE(headers);
  CHECK(headers->result_int() == 431);

  auto malformed = read_error_response(http::error::bad_method, options);
  REQUIRE(malformed);
  CHECK(malformed->result_int() == 400);

  CHECK_FALSE(read_error_response(http::error::end_of_stream, options));
  CHECK_FALSE(read_error_response(http::error::partial_message, options));
  CHECK_FALSE(read_error_response(boost::beast::error::timeout, options));
  CHECK_FALSE(read_error_response(boost::asio::error::connection_reset, options));
}
