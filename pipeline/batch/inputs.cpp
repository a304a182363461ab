#include "pipeline/batch/inputs.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "pipeline/common/log.h"
#include "pipeline/storage/uri.h"
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

// A name for a message: quoted, control characters escaped, invalid UTF-8 replaced.
std::string quoted(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct Listed {
  storage::ObjectStore* store;
  std::string key;
  std::string uri;
  std::string relative;
  std::uint64_t size;
};

// Every object under the input prefix but the output folder's, when the output folder lies
// inside the input: a second run must not read the first one's outputs back as input.
// Links and special files are left out by the store; each is logged and kept for the report.
std::vector<Listed> list_prefix(const transform::TransformJob& job, const storage::Location& output,
                                InputPlan& plan) {
  auto location = storage::open_location(job.input.uri);
  log::debug("input {}: {}", job.input.uri, location.description);
  const std::string base_uri =
      job.input.uri.substr(0, job.input.uri.size() - location.prefix.size());
  const std::optional<std::string> output_folder = storage::folder_within(location, output);
  auto* store = location.store.get();
  plan.input_stores.push_back(std::move(location.store));
  storage::Listing listing = store->list_with_skipped(location.prefix);
  for (auto& entry : listing.skipped) {
    SkippedInput skipped{transform::join_location(base_uri, entry.key), std::move(entry.reason)};
    log::warn("{}: not read: {}", log::quoted(skipped.input), skipped.reason);
    plan.left_out.skipped.push_back(std::move(skipped));
  }
  std::vector<Listed> listed;
  for (const auto& object : listing.objects) {
    if (object.key.ends_with('/')) continue;  // a "folder" marker, not data
    if (output_folder && object.key.starts_with(*output_folder)) {
      ++plan.left_out.in_output_folder;
      continue;
    }
    auto relative = transform::relative_key(object.key, location.prefix);
    if (!relative) throw std::runtime_error(job.input.uri + ": " + relative.error().message);
    listed.push_back({store, object.key, transform::join_location(base_uri, object.key),
                      std::move(*relative), object.size});
  }
  if (plan.left_out.in_output_folder > 0) {
    plan.left_out.output_folder = plan.output_uri;
    log::info("{}: {} object(s) under the output folder {} not read: it is never read as input",
              job.input.uri, plan.left_out.in_output_folder, plan.output_uri);
  }
  if (listed.empty()) {
    std::string why;
    if (!plan.left_out.skipped.empty())
      why += fmt::format("; {} entr(ies) skipped, not regular files", plan.left_out.skipped.size());
    if (plan.left_out.in_output_folder > 0) {
      why += fmt::format("; {} object(s) under the output folder {}, which is never read as input",
                         plan.left_out.in_output_folder, plan.output_uri);
    }
    throw std::runtime_error(fmt::format("{}: no objects under this prefix{}", job.input.uri, why));
  }
  return listed;
}

// Why a manifest entry is refused, naming the manifest, the entry's place and the entry.
std::string refused_entry(const std::string& manifest, const transform::ManifestEntry& entry,
                          const std::string& folder_uri, const std::string& relative) {
  const std::string names = relative == entry.relative_key
                                ? std::string()
                                : fmt::format(" (it names {} there)", quoted(relative));
  return fmt::format(
      "{}: [{}]: {} leads outside the prefix's folder {}{}; an entry may not be absolute or have "
      "a \".\" or \"..\" segment",
      manifest, entry.index, quoted(entry.relative_key), folder_uri, names);
}

// The objects a manifest names, all read through one store: the prefix's folder (the prefix
// up to its last '/'). Each entry's key below that folder is the path the store reads, once
// the URI's own decoding is applied (a file:// URI is percent-decoded), so "%2e%2e/" is
// checked as the ".." it is. Any entry that would lead outside fails the job before anything
// is read, every such entry named. An entry's output is named as a listed key's would be: its
// URI relative to the manifest's prefix (the entry as written when the prefix ends in '/').
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
  if (entries->empty()) return {};
  const auto& first = entries->front();
  const std::string prefix = first.uri.substr(0, first.uri.size() - first.relative_key.size());
  const std::size_t slash = prefix.rfind('/');
  const std::string folder_uri = slash == std::string::npos ? "./" : prefix.substr(0, slash + 1);
  auto folder = storage::open_location(folder_uri);
  const std::string folder_path =
      slash == std::string::npos ? "" : storage::parse_storage_uri(folder_uri).path;
  std::vector<Listed> listed;
  std::string refused;
  for (const auto& entry : *entries) {
    std::string path;
    try {
      path = storage::parse_storage_uri(entry.uri).path;
    } catch (const storage::StorageError& e) {
      refused += fmt::format("{}{}: [{}]: {}", refused.empty() ? "" : "\n", job.input.uri,
                             entry.index, e.what());
      continue;
    }
    const std::string relative =
        path.starts_with(folder_path) ? path.substr(folder_path.size()) : path;
    if (!path.starts_with(folder_path) || !transform::stays_below(relative)) {
      refused +=
          (refused.empty() ? "" : "\n") + refused_entry(job.input.uri, entry, folder_uri, relative);
      continue;
    }
    auto output_name = transform::relative_key(entry.uri, prefix);
    if (!output_name) {
      refused += fmt::format("{}{}: [{}]: {}", refused.empty() ? "" : "\n", job.input.uri,
                             entry.index, output_name.error().message);
      continue;
    }
    listed.push_back(
        {folder.store.get(), folder.prefix + relative, entry.uri, std::move(*output_name), 0});
  }
  if (!refused.empty()) throw std::runtime_error(refused);
  plan.input_stores.push_back(std::move(folder.store));
  return listed;
}

// Two inputs with one relative key would write one output, whichever hosts take them.
void refuse_clashing_outputs(const transform::TransformJob& job,
                             const std::vector<Listed>& listed) {
  std::vector<transform::NamedInput> named;
  named.reserve(listed.size());
  for (const auto& object : listed) named.push_back({object.uri, object.relative});
  const transform::Status distinct = transform::check_distinct_outputs(named);
  if (distinct) return;
  const bool manifest = job.input.data_type == transform::S3DataType::manifest_file;
  throw std::runtime_error(fmt::format(
      "{}: two inputs would write one output:\n{}\n{}", job.input.uri, distinct.error().message,
      manifest ? "list each object once in the manifest"
               : "end the prefix with '/' to name its folder only, or list the objects in a "
                 "manifest"));
}

// The temporary files a killed run left for these outputs. Each output belongs to one shard,
// so none of them is another live shard's; a failure to remove one does not stop the job.
std::vector<std::string> remove_leftovers(storage::ObjectStore& output,
                                          const std::vector<std::string>& keys,
                                          const std::string& output_uri) {
  std::vector<std::string> removed;
  try {
    removed = output.remove_unfinished(keys);
  } catch (const storage::StorageError& e) {
    log::warn("{}: temporary files of an earlier run not removed: {}", output_uri, e.what());
  }
  for (const auto& path : removed) log::debug("removed {}", log::quoted(path));
  if (!removed.empty()) {
    log::info("{}: removed {} temporary file(s) an interrupted run left (--resume)", output_uri,
              removed.size());
  }
  return removed;
}

}  // namespace

InputPlan plan_inputs(const transform::TransformJob& job, const transform::Shard& shard,
                      bool resume) {
  InputPlan plan;
  plan.output_uri = with_trailing_slash(job.output.path);
  auto output = storage::open_location(plan.output_uri);
  log::debug("output {}: {}", plan.output_uri, output.description);
  std::vector<Listed> listed = job.input.data_type == transform::S3DataType::manifest_file
                                   ? list_manifest(job, plan)
                                   : list_prefix(job, output, plan);
  plan.listed = listed.size();
  refuse_clashing_outputs(job, listed);
  plan.output_store = std::move(output.store);
  std::vector<std::string> owned_keys;  // this shard's outputs and error reports
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
    if (resume) {
      owned_keys.push_back(input.output_key);
      owned_keys.push_back(input.errors_key);
      if (plan.output_store->exists(input.output_key)) {
        plan.resumed.push_back(input.relative);
        continue;
      }
    }
    plan.objects.push_back(std::move(input));
  }
  if (resume) {
    plan.removed_leftovers = remove_leftovers(*plan.output_store, owned_keys, plan.output_uri);
  }
  return plan;
}

}  // namespace tandem::batch
