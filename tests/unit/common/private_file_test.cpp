// write_private_file: the operator's report and metrics files, mode 0640 whatever the umask,
// never written through a symbolic link, with the system's reason when it cannot write.
#include "pipeline/common/private_file.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tandem::common {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system's temporary folder, removed at the end of the test.
struct TempDir {
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tandem-private-file-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
};

std::string contents(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST_CASE("a private file is written, replaced, and readable only by owner and group",
          "[private_file]") {
  const TempDir dir;
  const auto path = (dir.path / "report.json").string();
  { std::ofstream(path) << "an older file, open to everyone"; }
  fs::permissions(path, fs::perms::all);
  REQUIRE(write_private_file(path, "first, longer text").ok());
  REQUIRE(write_private_file(path, "second").ok());
  CHECK(contents(path) == "second");
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == kPrivateFileMode);
}

TEST_CASE("a private file is never written through a symbolic link", "[private_file]") {
  const TempDir dir;
  const auto target = dir.path / "elsewhere";
  { std::ofstream(target) << "untouched"; }
  const auto link = dir.path / "report.json";
  fs::create_symlink(target, link);
  const auto written = write_private_file(link.string(), "text");
  REQUIRE_FALSE(written.ok());
  CHECK(written.error() == "Too many levels of symbolic links");
  CHECK(contents(target) == "untouched");
}

TEST_CASE("a private file that cannot be created fails with the system's reason",
          "[private_file]") {
  const TempDir dir;
  const auto written = write_private_file((dir.path / "missing" / "report.json").string(), "x");
  REQUIRE_FALSE(written.ok());
  CHECK(written.error() == "No such file or directory");
}

}  // namespace
}  // namespace tandem::common
