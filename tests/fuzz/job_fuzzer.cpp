// The job definition (job.json, a create_transform_job request) and the manifest
// (S3DataType ManifestFile) on arbitrary text. Both either parse or return every problem as
// an error; a job that parses is valid as a whole, and stays valid with no overrides.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "pipeline/transform/job.h"
#include "pipeline/transform/manifest.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tandem::transform;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto job = parse_transform_job(text, "job.json");
  if (job) {
    check(validate_job(job->job, "job.json").empty());
    auto same = apply_overrides(job->job, JobOverrides{}, "job.json");
    check(same.ok());
    check(same->environment == job->job.environment);
    for (const auto& note : job->notes) check(note.starts_with("job.json: "));
  } else {
    check(job.error().message.starts_with("job.json"));
  }

  auto manifest = parse_manifest(text, "manifest.json");
  if (manifest) {
    for (const auto& entry : *manifest) {
      check(!entry.relative_key.empty() && entry.uri.ends_with(entry.relative_key));
    }
  } else {
    check(manifest.error().message.starts_with("manifest.json"));
  }
  return 0;
}
