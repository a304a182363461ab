// The start-up every built-in stage shares: the command line (`serve` or nothing), the model
// folder from SM_MODEL_DIR, loading the model before listening (a model that cannot be
// loaded stops the stage with exit status 2 and a message naming the file), then the SDK's
// serve(). Each stage's main.cpp only says how to load its model into a handler.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "stages/common/result.h"
#include "stages/sdk/stage.h"

namespace tandem::builtin {

// A loaded model, ready to serve.
struct LoadedStage {
  tandem::stage::Handler handler;
  std::string summary;  // one line for the log: what was loaded, e.g. "3 classes, 30 features"
};

struct BuiltinStage {
  std::string_view name;   // "tandem-featurize", the prefix of every message
  std::string_view usage;  // printed for --help and for a wrong command line
  // Loads the model found in `model_dir`; any exception's what() is reported as the reason the
  // stage cannot start.
  std::function<LoadedStage(const std::filesystem::path& model_dir)> load;
};

// SM_MODEL_DIR, or /opt/ml/model when it is unset or empty.
std::filesystem::path model_dir_from_environment();

// Runs `stage` as a process: returns the exit status for main().
int run_builtin_stage(const BuiltinStage& stage, int argc, char** argv);

// The SDK's answer for a result: the reply, or an HttpError carrying the Failure.
tandem::stage::Response respond(Result<Reply> result);

}  // namespace tandem::builtin
