// Shared by the batch module's tests: a temporary folder served by the local object store, and
// the InputObject a job would make for a file in it.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "pipeline/batch/inputs.h"
#include "pipeline/storage/local_store.h"
#include "pipeline/transform/data_processing.h"

namespace tandem::batch::testing {

namespace fs = std::filesystem;

// in/ holds the inputs, out/ the outputs, each with its store.
struct Folder {
  fs::path path;
  std::unique_ptr<storage::LocalStore> in;
  std::unique_ptr<storage::LocalStore> out;

  Folder() {
    path = fs::temp_directory_path() / ("tandem-batch-" + std::to_string(std::random_device{}()));
    fs::create_directories(path / "in");
    fs::create_directories(path / "out");
    in = std::make_unique<storage::LocalStore>(path / "in");
    out = std::make_unique<storage::LocalStore>(path / "out");
  }
  ~Folder() { fs::remove_all(path); }

  InputObject input(const std::string& name, const std::string& data) const {
    std::ofstream(path / "in" / name, std::ios::binary) << data;
    InputObject object;
    object.store = in.get();
    object.key = name;
    object.uri = (path / "in" / name).string();
    object.relative = name;
    object.size = data.size();
    object.output_key = name + ".out";
    object.errors_key = name + ".out.errors";
    object.output_uri = (path / "out" / object.output_key).string();
    return object;
  }

  bool exists(const std::string& name) const { return fs::exists(path / "out" / name); }
  std::string read(const std::string& name) const {
    std::ifstream file(path / "out" / name, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }
  // Every file in out/, temporary ones included.
  std::vector<std::string> outputs() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path / "out"))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

// A processor with no filter and no join, for CSV input.
inline transform::DataProcessor plain_processor() {
  return std::move(*transform::DataProcessor::create({}, transform::data_format_of("text/csv")));
}

}  // namespace tandem::batch::testing
