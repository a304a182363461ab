// open_location and the URI parsing behind it.
#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "pipeline/storage/aws_config.h"
#include "pipeline/storage/local_store.h"
#include "pipeline/storage/object_store.h"
#include "pipeline/storage/s3_store.h"
#include "pipeline/storage/s3_url.h"
#include "pipeline/storage/uri.h"

namespace tandem::storage {
namespace {

[[noreturn]] void bad_uri(const std::string& uri, std::string_view why) {
  throw StorageError(fmt::format("\"{}\": {}", uri, why));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& uri, std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = high >= 0 ? hex_value(text[i + 2]) : -1;
    if (low < 0) bad_uri(uri, "malformed percent-escape");
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// A URI scheme: letters, digits, + - . before "://".
std::string scheme_of(const std::string& uri) {
  std::size_t end = uri.find("://");
  if (end == std::string::npos || end == 0) return "";
  std::string scheme = uri.substr(0, end);
  bool valid =
      scheme.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") == std::string::npos;
  return valid ? scheme : "";
}

// The folder a local path names, links resolved, without a trailing separator.
std::optional<std::filesystem::path> resolved_folder(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path resolved = std::filesystem::weakly_canonical(path, ec);
  if (ec) return std::nullopt;
  if (!resolved.has_filename() && resolved.has_parent_path()) resolved = resolved.parent_path();
  return resolved;
}

// A prefix's folder part: up to and including its last '/'.
std::string folder_of(const std::string& prefix) {
  const std::size_t slash = prefix.rfind('/');
  return slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
}

Location open_local(const std::string& uri, const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // A folder is the store itself; anything else (a file, or an output not yet written) is a
  // name in its parent folder, listed as a prefix there.
  if (path.string().ends_with('/') || fs::is_directory(path, ec)) {
    return {std::make_unique<LocalStore>(path), "", uri, "local folder " + path.string()};
  }
  fs::path named = path;
  // The file the URI names may itself be a link (a Kubernetes ConfigMap or Secret mount, a
  // manifest kept elsewhere): it is read where it points, since links below a store's root
  // are never followed (the operator named this one; an input folder's contents they did not).
  if (fs::is_symlink(path, ec) && fs::is_regular_file(path, ec)) {
    if (auto resolved = fs::canonical(path, ec); !ec) named = resolved;
  }
  fs::path parent = named.has_parent_path() ? named.parent_path() : fs::path(".");
  return {std::make_unique<LocalStore>(parent), named.filename().string(), uri,
          "local folder " + parent.string()};
}

}  // namespace

StorageUri parse_storage_uri(const std::string& uri) {
  if (uri.empty()) bad_uri(uri, "empty storage URI");
  std::string scheme = scheme_of(uri);
  if (scheme.empty()) return {StorageUri::Scheme::kLocal, "", uri};
  std::string rest = uri.substr(scheme.size() + 3);
  if (scheme == "s3") {
    std::size_t slash = rest.find('/');
    StorageUri parsed{StorageUri::Scheme::kS3, rest.substr(0, slash), ""};
    if (slash != std::string::npos) parsed.path = rest.substr(slash + 1);
    if (!is_valid_bucket_name(parsed.bucket))
      bad_uri(uri, fmt::format("\"{}\" is not a valid S3 bucket name", parsed.bucket));
    return parsed;
  }
  if (scheme == "file") {
    std::size_t slash = rest.find('/');
    std::string host = rest.substr(0, slash);
    if (slash == std::string::npos || (!host.empty() && host != "localhost")) {
      bad_uri(uri, "a file URI needs an absolute path on this host: file:///path");
    }
    return {StorageUri::Scheme::kLocal, "", percent_decode(uri, rest.substr(slash))};
  }
  bad_uri(uri, fmt::format("unsupported scheme \"{}\" (use s3://, file:// or a path)", scheme));
}

Location open_location(const std::string& uri) {
  StorageUri parsed = parse_storage_uri(uri);
  if (parsed.scheme == StorageUri::Scheme::kLocal) return open_local(uri, parsed.path);
  try {
    S3Config config = resolve_s3_config(process_environment(), read_file_from_disk());
    std::string description =
        fmt::format("S3 bucket {} at {}, region {}, credentials from {}", parsed.bucket,
                    config.endpoint.empty() ? "AWS" : config.endpoint, config.region,
                    config.credentials_source);
    return {std::make_unique<S3Store>(std::move(config), parsed.bucket), parsed.path, uri,
            std::move(description)};
  } catch (const StorageError& error) {
    throw StorageError(fmt::format("{}: {}", uri, error.what()));
  }
}

std::optional<std::string> folder_within(const Location& outer, const Location& inner) {
  const auto* outer_local = dynamic_cast<const LocalStore*>(outer.store.get());
  const auto* inner_local = dynamic_cast<const LocalStore*>(inner.store.get());
  std::string key;
  if (outer_local && inner_local) {
    const auto outer_root = resolved_folder(outer_local->root());
    const auto inner_root = resolved_folder(inner_local->root());
    if (!outer_root || !inner_root) return std::nullopt;
    const std::filesystem::path relative = inner_root->lexically_relative(*outer_root);
    if (relative.empty() || *relative.begin() == "..") return std::nullopt;
    if (relative != ".") key = relative.generic_string() + "/";
  } else if (!outer_local && !inner_local) {
    if (parse_storage_uri(outer.uri).bucket != parse_storage_uri(inner.uri).bucket)
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  key += folder_of(inner.prefix);
  if (!key.starts_with(folder_of(outer.prefix))) return std::nullopt;
  return key;
}

}  // namespace tandem::storage
