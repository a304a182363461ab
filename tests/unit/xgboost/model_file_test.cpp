// Which file in the model folder is the model: SageMaker's XGBoost container's rules.
#include "stages/xgboost/model_file.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "temp_dir.h"

namespace tandem::builtin::xgboost {
namespace {

using testing::TempDir;

TEST_CASE("xgboost-model wins over any other candidate") {
  const TempDir dir;
  dir.write("model.json", "{}");
  dir.write("other.bst", "");
  const auto named = dir.write("xgboost-model", "");
  CHECK(find_model_file(dir.path()) == named);
}

TEST_CASE("else the only *.json, *.ubj, *.model or *.bst file") {
  for (const char* name : {"m.json", "m.ubj", "m.model", "m.bst"}) {
    INFO(name);
    const TempDir dir;
    dir.write("README.txt", "");
    dir.write("model.json.bak", "");
    const auto file = dir.write(name, "");
    CHECK(find_model_file(dir.path()) == file);
  }
}

TEST_CASE("folders named like models are not candidates") {
  const TempDir dir;
  std::filesystem::create_directory(dir.path() / "checkpoints.model");
  const auto file = dir.write("m.ubj", "");
  CHECK(find_model_file(dir.path()) == file);
}

TEST_CASE("no candidate") {
  const TempDir dir;
  dir.write("featurize.txt", "");
  CHECK_THROWS_WITH(find_model_file(dir.path()),
                    dir.path().string() +
                        ": no XGBoost model: expected a file named xgboost-model, or one *.json, "
                        "*.ubj, *.model or *.bst file");
}

TEST_CASE("several candidates are listed, sorted") {
  const TempDir dir;
  dir.write("b.json", "");
  dir.write("a.bst", "");
  dir.write("c.ubj", "");
  CHECK_THROWS_WITH(find_model_file(dir.path()),
                    dir.path().string() +
                        ": more than one XGBoost model file (a.bst, b.json, c.ubj): keep one, or "
                        "name the one to serve xgboost-model");
}

TEST_CASE("the folder must exist and be a folder, xgboost-model must be a file") {
  const TempDir dir;
  CHECK_THROWS_WITH(find_model_file(dir.path() / "missing"),
                    (dir.path() / "missing").string() + ": the model directory does not exist");
  const auto file = dir.write("plain", "");
  CHECK_THROWS_WITH(find_model_file(file),
                    file.string() + ": the model directory is a file, not a directory");
  std::filesystem::create_directory(dir.path() / "xgboost-model");
  CHECK_THROWS_WITH(find_model_file(dir.path()),
                    (dir.path() / "xgboost-model").string() + ": not a regular file");
}

}  // namespace
}  // namespace tandem::builtin::xgboost
