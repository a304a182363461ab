// Real models through libxgboost: predictions equal Python's (within 1e-6) for every model kind
// and file format, CSV and LIBSVM input, the output format, request errors, load errors, and
// predictions from many threads at once.
#include "stages/xgboost/predictor.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "python_models.h"
#include "stages/common/numbers.h"
#include "stages/xgboost/model_file.h"

namespace tandem::builtin::xgboost {
namespace {

using testing::python_models;
using testing::TempDir;

Predictor predictor_for(const std::string& model) {
  return Predictor(Booster::load(find_model_file(python_models().folder(model)), 1));
}

std::vector<std::vector<double>> parse_lines(const std::string& csv) {
  std::vector<std::vector<double>> rows;
  std::size_t start = 0;
  while (start < csv.size()) {
    const auto end = csv.find('\n', start);
    REQUIRE(end != std::string::npos);  // every line ends with \n
    std::vector<double> row;
    std::size_t field = start;
    while (field <= end) {
      auto comma = csv.find(',', field);
      if (comma == std::string::npos || comma > end) comma = end;
      const auto value = parse_number(std::string_view(csv).substr(field, comma - field));
      REQUIRE(value.has_value());
      row.push_back(*value);
      field = comma + 1;
    }
    rows.push_back(row);
    start = end + 1;
  }
  return rows;
}

// Python's predictions as rows: [p] for one value per row, the list for multi:softprob.
std::vector<std::vector<double>> expected_rows(const std::string& model) {
  std::vector<std::vector<double>> rows;
  for (const auto& row : python_models().expected(model)) {
    rows.push_back(row.is_array() ? row.get<std::vector<double>>()
                                  : std::vector<double>{row.get<double>()});
  }
  return rows;
}

void check_close(const std::vector<std::vector<double>>& actual,
                 const std::vector<std::vector<double>>& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t row = 0; row < actual.size(); ++row) {
    REQUIRE(actual[row].size() == expected[row].size());
    for (std::size_t i = 0; i < actual[row].size(); ++i) {
      INFO("row " << row + 1 << ", value " << i);
      CHECK(std::abs(actual[row][i] - expected[row][i]) <= 1e-6);
    }
  }
}

std::string invoke_ok(const Predictor& predictor, const std::string& body,
                      std::string_view content_type) {
  const auto reply = predictor.invoke(body, content_type, "");
  if (!reply) FAIL(reply.error().status << ": " << reply.error().message);
  CHECK(reply->content_type == "text/csv");
  return reply->body;
}

std::string invoke_error(const Predictor& predictor, std::string_view body,
                         std::string_view content_type, std::string_view accept = "") {
  const auto reply = predictor.invoke(body, content_type, accept);
  REQUIRE_FALSE(reply.ok());
  return std::to_string(reply.error().status) + ": " + reply.error().message;
}

TEST_CASE("every model kind and file format predicts what Python predicts") {
  const auto csv = python_models().read("input.csv");
  const auto libsvm = python_models().read("input.libsvm");
  for (const char* model : {"binary", "softprob", "softmax", "regression"}) {
    INFO(model);
    const auto predictor = predictor_for(model);
    CHECK(predictor.booster().num_features() == 5);
    CHECK(predictor.booster().outputs_per_row() == (std::string(model) == "softprob" ? 3 : 1));
    check_close(parse_lines(invoke_ok(predictor, csv, "text/csv")), expected_rows(model));
    check_close(parse_lines(invoke_ok(predictor, libsvm, "text/libsvm")), expected_rows(model));
    check_close(parse_lines(invoke_ok(predictor, libsvm, "text/x-libsvm")), expected_rows(model));
  }
}

TEST_CASE("softmax answers the class index, softprob one probability per class") {
  const auto softmax =
      parse_lines(invoke_ok(predictor_for("softmax"), "0,0,-2,0,0\n0,0,2,0,0\n", "text/csv"));
  CHECK(softmax == std::vector<std::vector<double>>{{0}, {2}});
  const auto softprob =
      parse_lines(invoke_ok(predictor_for("softprob"), "0,0,-2,0,0\n", "text/csv; charset=utf-8"));
  REQUIRE(softprob.size() == 1);
  REQUIRE(softprob[0].size() == 3);
  CHECK(std::abs(softprob[0][0] + softprob[0][1] + softprob[0][2] - 1) < 1e-6);
  CHECK(softprob[0][0] > 0.5);
}

TEST_CASE("format_predictions: shortest float32 text, commas between classes") {
  CHECK(format_predictions({2, 1, {0.5f, 0.7310586f}}) == "0.5\n0.7310586\n");
  CHECK(format_predictions({1, 3, {0.1f, 0.2f, 0.7f}}) == "0.1,0.2,0.7\n");
  CHECK(format_predictions({1, 1, {1e-7f}}) == "1e-07\n");
}

TEST_CASE("request errors") {
  const auto predictor = predictor_for("binary");
  CHECK(invoke_error(predictor, "1,2,3,4,5\n1,2,3,4\n", "text/csv") ==
        "400: row 2: expected 5 features, got 4");
  CHECK(invoke_error(predictor, "1,2,3,4,5\n1,2,x,4,5\n", "text/csv") ==
        "400: row 2, column 2: expected a number, got \"x\"");
  CHECK(invoke_error(predictor, "1 5:1\n", "text/libsvm") ==
        "400: row 1: feature index 5 is out of range: the model has 5 features (indexes 0 to 4)");
  CHECK(invoke_error(predictor, "", "text/csv") == "400: the request has no rows");
  CHECK(invoke_error(predictor, "\n", "text/libsvm") == "400: the request has no rows");
  CHECK(invoke_error(predictor, "[1,2,3,4,5]", "application/json") ==
        "415: unsupported Content-Type \"application/json\": send text/csv or text/libsvm");
  CHECK(invoke_error(predictor, "1,2,3,4,5", "text/csv", "application/json") ==
        "406: unsupported Accept \"application/json\": use text/csv");
}

TEST_CASE("a request without Content-Type is read as text/csv, as SageMaker's container does") {
  const auto predictor = predictor_for("binary");
  CHECK(invoke_ok(predictor, "1,2,3,4,5", "") == invoke_ok(predictor, "1,2,3,4,5", "text/csv"));
}

TEST_CASE("a file that is not a model fails to load, naming the file") {
  const TempDir dir;
  const auto file = dir.write("model.json", "{\"learner\": 1}");
  try {
    (void)Booster::load(file, 1);
    FAIL("loaded");
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    INFO(message);
    CHECK(message.starts_with(file.string() + ": cannot load the XGBoost model: "));
    CHECK(message.find("Stack trace") == std::string::npos);
  }
  const auto garbage = dir.write("model.bst", "not a model at all");
  CHECK_THROWS_WITH(Booster::load(garbage, 1),
                    Catch::StartsWith(garbage.string() + ": cannot load the XGBoost model: "));
}

TEST_CASE("threads predict at once on one booster and get the same answers") {
  const auto predictor = predictor_for("softprob");
  const auto csv = python_models().read("input.csv");
  const auto expected = invoke_ok(predictor, csv, "text/csv");
  constexpr int threads = 8;
  constexpr int rounds = 25;
  std::vector<int> mismatches(threads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        const auto reply = predictor.invoke(csv, "text/csv", "");
        if (!reply || reply->body != expected) ++mismatches[t];
      }
    });
  }
  for (auto& worker : workers) worker.join();
  CHECK(mismatches == std::vector<int>(threads, 0));
}

}  // namespace
}  // namespace tandem::builtin::xgboost
