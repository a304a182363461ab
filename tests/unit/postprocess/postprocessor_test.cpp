// Scores to labels: both modes, every Accept, every error with its exact text.
#include "stages/postprocess/postprocessor.h"

#include <catch2/catch.hpp>
#include <string>

namespace tandem::builtin::postprocess {
namespace {

Postprocessor threshold(double value = 0.5) {
  return Postprocessor({PostprocessSpec::Mode::threshold, value, {"benign", "malignant"}});
}

Postprocessor argmax() {
  return Postprocessor({PostprocessSpec::Mode::argmax, 0.5, {"class_0", "class_1", "class_2"}});
}

// "<content type>|<body>", or "<status>: <message>".
std::string invoke(const Postprocessor& postprocessor, std::string_view body,
                   std::string_view accept = "", std::string_view content_type = "text/csv") {
  const auto reply = postprocessor.invoke(body, content_type, accept);
  if (!reply) return std::to_string(reply.error().status) + ": " + reply.error().message;
  return reply->content_type + "|" + reply->body;
}

TEST_CASE("threshold: labels[1] at or above it, else labels[0] with 1 - score") {
  CHECK(invoke(threshold(), "0.97\n0.2\n0.5\n0\n1\n") ==
        "application/json|{\"predictions\":[{\"label\":\"malignant\",\"score\":0.97},"
        "{\"label\":\"benign\",\"score\":0.8},{\"label\":\"malignant\",\"score\":0.5},"
        "{\"label\":\"benign\",\"score\":1},{\"label\":\"malignant\",\"score\":1}]}");
  CHECK(invoke(threshold(0.9), "0.89999\n0.9", "text/csv") ==
        "text/csv|benign,0.10001\nmalignant,0.9\n");
}

TEST_CASE("argmax: the highest score, the first on ties") {
  CHECK(invoke(argmax(), "0.1,0.7,0.2\n0.4,0.2,0.4\n0.3,0.3,0.4\n", "text/csv") ==
        "text/csv|class_1,0.7\nclass_0,0.4\nclass_2,0.4\n");
  CHECK(invoke(argmax(), "-1,-3,-2\n", "text/csv") == "text/csv|class_0,-1\n");  // margins too
}

TEST_CASE("every Accept the stage answers") {
  const auto postprocessor = threshold();
  const std::string json =
      "application/json|{\"predictions\":[{\"label\":\"malignant\",\"score\":0.97},"
      "{\"label\":\"benign\",\"score\":0.8}]}";
  const std::string csv = "text/csv|malignant,0.97\nbenign,0.8\n";
  const std::string jsonlines =
      "application/jsonlines|{\"label\":\"malignant\",\"score\":0.97}\n"
      "{\"label\":\"benign\",\"score\":0.8}\n";
  const std::string body = "0.97\n0.2\n";
  CHECK(invoke(postprocessor, body) == json);
  CHECK(invoke(postprocessor, body, "*/*") == json);
  CHECK(invoke(postprocessor, body, "application/json") == json);
  CHECK(invoke(postprocessor, body, "application/*") == json);
  CHECK(invoke(postprocessor, body, "text/csv") == csv);
  CHECK(invoke(postprocessor, body, "text/csv; charset=utf-8") == csv);
  CHECK(invoke(postprocessor, body, "application/jsonlines") == jsonlines);
  CHECK(invoke(postprocessor, body, "application/jsonlines, application/json;q=0.9") == jsonlines);
  CHECK(invoke(postprocessor, body, "application/xml") ==
        "406: unsupported Accept \"application/xml\": use application/json, text/csv or "
        "application/jsonlines");
}

TEST_CASE("labels are escaped for JSON and quoted for CSV") {
  const Postprocessor postprocessor(
      {PostprocessSpec::Mode::threshold, 0.5, {"no, \"never\"", "yes\nreally"}});
  CHECK(invoke(postprocessor, "0.25\n0.75\n", "text/csv") ==
        "text/csv|\"no, \"\"never\"\"\",0.75\n\"yes\nreally\",0.75\n");
  CHECK(invoke(postprocessor, "0.25\n", "application/jsonlines") ==
        "application/jsonlines|{\"label\":\"no, \\\"never\\\"\",\"score\":0.75}\n");
}

TEST_CASE("the request's Content-Type must be text/csv, none means text/csv") {
  CHECK(invoke(threshold(), "0.97", "text/csv", "") == "text/csv|malignant,0.97\n");
  CHECK(invoke(threshold(), "0.97", "text/csv", "Text/CSV; charset=utf-8") ==
        "text/csv|malignant,0.97\n");
  CHECK(invoke(threshold(), "[0.97]", "", "application/json") ==
        "415: unsupported Content-Type \"application/json\": send text/csv");
}

TEST_CASE("bad scores name the row") {
  CHECK(invoke(threshold(), "0.9\n0.1,0.9\n") == "400: row 2: expected 1 score, got 2");
  CHECK(invoke(argmax(), "0.1,0.9\n") == "400: row 1: expected 3 scores, got 2");
  CHECK(invoke(threshold(), "0.9\n\nabc\n") ==
        "400: row 2, column 0: expected a finite number, got \"abc\"");
  CHECK(invoke(argmax(), "0.1,,0.9\n") ==
        "400: row 1, column 1: expected a finite number, got \"\"");
  CHECK(invoke(threshold(), "nan\n") ==
        "400: row 1, column 0: expected a finite number, got \"nan\"");
  CHECK(invoke(threshold(), "inf\n") ==
        "400: row 1, column 0: expected a finite number, got \"inf\"");
  CHECK(invoke(threshold(), "") == "400: the request has no rows");
  CHECK(invoke(threshold(), "\"0.5\n") == "400: row 1: unterminated quoted field");
}

TEST_CASE("decide returns the label and its probability") {
  const auto postprocessor = threshold();  // labels view into its spec: it must outlive them
  const auto decisions = postprocessor.decide("0.97\n0.25\n");
  REQUIRE(decisions.ok());
  REQUIRE(decisions->size() == 2);
  CHECK((*decisions)[0].label == "malignant");
  CHECK((*decisions)[0].score == 0.97);
  CHECK((*decisions)[1].label == "benign");
  CHECK((*decisions)[1].score == 0.75);
}

}  // namespace
}  // namespace tandem::builtin::postprocess
