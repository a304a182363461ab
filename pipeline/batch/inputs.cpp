#include "pipeline/batch/inputs.h"

#include <fmt/format.h>

#include <map>
#include <stdexcept>

#include "pipeline/common/log.h"
#include "pipeline/transform/manifest.h"

namespace tandem::batch {

namespace {

constexpr std::size_t kMaxManifestBytes = 64ull * 1024 * 1024;

std::string read_small_object(storage::ObjectStore& store, const std::string& key,
                              const std::string& uri) {
  auto stream = store.open(key);
  std::string text;
  char buffer[64 * 1024];
  while (const std::size_t n = stream->read(buffer, sizeof buffer)) {
    text.append(buffer, n);
    if (text.size() > kMaxManifestBytes) {
      throw std::runtime_error(
          fmt::format("{}: the manifest is larger than {} MiB", uri, kMaxManifestBytes >> 20));
    }
  }
  return text;
}

std::string with_trailing_slash(std::string uri) {
  if (!uri.ends_with('/')) uri += '/';
  return uri;
}

struct Listed {
  storage::ObjectStore* store;
  std::string key;
  std::string uri;
  std::string relative;
  std::uint64_t size;
};

std::vector<Listed> list_prefix(const transform::TransformJob& job, InputPlan& plan) {
  auto location = storage::open_location(job.input.uri);
  log::debug("input {}: {}", job.input.uri, location.description);
  auto* store = location.store.get();
  plan.input_stores.push_back(std::move(location.store));
  std::vector<Listed> listed;
  for (const auto& object : store->list(location.prefix)) {
    if (object.key.ends_with('/')) continue;  // a "folder" marker, not data
    auto relative = transform::relative_key(object.key, location.prefix);
    if (!relative) throw std::runtime_error(job.input.uri + ": " + relative.error().message);
    listed.push_back(
        {store, object.key,
         transform::join_location(
             job.input.uri.substr(0, job.input.uri.size() - location.prefix.size()), object.key),
         std::move(*relative), object.size});
  }
  if (listed.empty()) {
    throw std::runtime_error(fmt::format("{}: no objects under this prefix", job.input.uri));
  }
  return listed;
}

std::vector<Listed> list_manifest(const transform::TransformJob& job, InputPlan& plan) {
  auto manifest_location = storage::open_location(job.input.uri);
  if (manifest_location.prefix.empty()) {
    throw std::runtime_error(fmt::format(
        "{}: S3DataType ManifestFile needs the manifest file's URI, not a folder", job.input.uri));
  }
  const std::string text =
      read_small_object(*manifest_location.store, manifest_location.prefix, job.input.uri);
  auto entries = transform::parse_manifest(text, job.input.uri);
  if (!entries) throw std::runtime_error(entries.error().message);
  // One store per folder the entries live in.
  std::map<std::string, storage::Location> folders;
  std::vector<Listed> listed;
  for (const auto& entry : *entries) {
    const std::size_t slash = entry.uri.rfind('/');
    const std::string folder = slash == std::string::npos ? "./" : entry.uri.substr(0, slash + 1);
    const std::string name = slash == std::string::npos ? entry.uri : entry.uri.substr(slash + 1);
    auto it = folders.find(folder);
    if (it == folders.end()) it = folders.emplace(folder, storage::open_location(folder)).first;
    listed.push_back(
        {it->second.store.get(), it->second.prefix + name, entry.uri, entry.relative_key, 0});
  }
  for (auto& [folder, location] : folders) plan.input_stores.push_back(std::move(location.store));
  return listed;
}

}  // namespace

InputPlan plan_inputs(const transform::TransformJob& job, const transform::Shard& shard,
                      bool resume) {
  InputPlan plan;
  std::vector<Listed> listed = job.input.data_type == transform::S3DataType::manifest_file
                                   ? list_manifest(job, plan)
                                   : list_prefix(job, plan);
  plan.listed = listed.size();
  plan.output_uri = with_trailing_slash(job.output.path);
  auto output = storage::open_location(plan.output_uri);
  log::debug("output {}: {}", plan.output_uri, output.description);
  plan.output_store = std::move(output.store);
  for (auto& object : listed) {
    if (!shard.owns(object.relative)) {
      ++plan.other_shards;
      continue;
    }
    auto keys = transform::output_keys(object.relative);
    if (!keys) throw std::runtime_error(object.uri + ": " + keys.error().message);
    InputObject input;
    input.store = object.store;
    input.key = std::move(object.key);
    input.uri = std::move(object.uri);
    input.relative = std::move(object.relative);
    input.size = object.size;
    input.output_key = output.prefix + keys->output;
    input.errors_key = output.prefix + keys->errors;
    input.output_uri = plan.output_uri + keys->output;
    if (resume && plan.output_store->exists(input.output_key)) {
      plan.resumed.push_back(input.relative);
      continue;
    }
    plan.objects.push_back(std::move(input));
  }
  return plan;
}

}  // namespace tandem::batch
