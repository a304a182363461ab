#include "stages/common/builtin_main.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <utility>

namespace tandem::builtin {

std::filesystem::path model_dir_from_environment() {
  const char* dir = std::getenv("SM_MODEL_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/opt/ml/model";
}

int run_builtin_stage(const BuiltinStage& stage, int argc, char** argv) {
  const std::string_view argument = argc > 1 ? argv[1] : "serve";
  if (argument == "--help" || argument == "-h") {
    fmt::print("{}", stage.usage);
    return 0;
  }
  if (argc > 2 || argument != "serve") {  // SageMaker starts containers as `<image> serve`.
    fmt::print(stderr, "{}", stage.usage);
    return 2;
  }
  tandem::stage::Options options;
  try {
    options = tandem::stage::from_environment();
  } catch (const std::invalid_argument& error) {
    fmt::print(stderr, "{}: {}\n", stage.name, error.what());
    return 2;
  }
  const auto model_dir = model_dir_from_environment();
  LoadedStage loaded;
  try {
    loaded = stage.load(model_dir);
  } catch (const std::exception& error) {
    // One line per problem (a model file may have several), each saying whose it is.
    std::string_view lines = error.what();
    while (!lines.empty()) {
      const auto end = std::min(lines.find('\n'), lines.size());
      fmt::print(stderr, "{}: cannot start: {}\n", stage.name, lines.substr(0, end));
      lines.remove_prefix(std::min(end + 1, lines.size()));
    }
    return 2;
  }
  fmt::print(stderr, "{}: loaded {}\n", stage.name, loaded.summary);
  std::fflush(stderr);
  return tandem::stage::serve(std::move(loaded.handler), std::move(options));
}

tandem::stage::Response respond(Result<Reply> result) {
  if (!result) throw tandem::stage::HttpError(result.error().status, result.error().message);
  return tandem::stage::Response{.body = std::move(result->body),
                                 .content_type = std::move(result->content_type)};
}

}  // namespace tandem::builtin
