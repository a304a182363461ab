// tandem-xgboost: serves the XGBoost model in the model folder (found as SageMaker's XGBoost
// container finds it): text/csv or text/libsvm rows in, one text/csv line of predictions per
// row out.
#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "stages/common/builtin_main.h"
#include "stages/xgboost/model_file.h"
#include "stages/xgboost/predictor.h"

namespace {

using tandem::builtin::xgboost::Booster;
using tandem::builtin::xgboost::Predictor;

constexpr std::string_view usage = R"(usage: tandem-xgboost [serve]

Serves the XGBoost model in $SM_MODEL_DIR (default /opt/ml/model): the file xgboost-model, else
the only *.json, *.ubj, *.model or *.bst file there. POST /invocations with text/csv or
text/libsvm rows answers one text/csv line of predictions per row. Environment:
  TANDEM_XGBOOST_THREADS   threads per prediction (default 1: requests run in parallel instead)
  SAGEMAKER_BIND_TO_PORT   port (default 8080); TANDEM_STAGE_HOST, TANDEM_STAGE_THREADS
)";

constexpr int max_threads = 1024;

// One thread per prediction by default: the SDK already serves requests on several threads,
// and OpenMP threads inside each would make latency depend on how many arrive at once.
int threads_from_environment() {
  const char* value = std::getenv("TANDEM_XGBOOST_THREADS");
  if (value == nullptr || *value == '\0') return 1;
  const std::string_view text(value);
  int threads = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), threads);
  if (error != std::errc{} || end != text.data() + text.size() || threads < 1 ||
      threads > max_threads) {
    throw std::invalid_argument(
        fmt::format("TANDEM_XGBOOST_THREADS: expected a number of threads 1-{}, got \"{}\"",
                    max_threads, text));
  }
  return threads;
}

tandem::builtin::LoadedStage load(const std::filesystem::path& model_dir) {
  const int threads = threads_from_environment();
  const auto file = tandem::builtin::xgboost::find_model_file(model_dir);
  auto predictor = std::make_shared<const Predictor>(Booster::load(file, threads));
  const auto& booster = predictor->booster();
  const auto summary =
      fmt::format("{} ({} features, {} output{} per row, {} thread{} per prediction)",
                  file.string(), booster.num_features(), booster.outputs_per_row(),
                  booster.outputs_per_row() == 1 ? "" : "s", threads, threads == 1 ? "" : "s");
  return {[predictor](const tandem::stage::Request& request) {
            return tandem::builtin::respond(
                predictor->invoke(request.body, request.content_type, request.accept));
          },
          summary};
}

}  // namespace

int main(int argc, char** argv) {
  return tandem::builtin::run_builtin_stage({"tandem-xgboost", usage, load}, argc, argv);
}
