// LocalStore: listing, streaming reads, atomic writes, and the errors that name paths.
#include "pipeline/storage/local_store.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/unit/storage/test_support.h"

namespace tandem::storage {
namespace {

using testing::read_all;
using testing::read_file;
using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

std::vector<std::string> keys_of(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const ObjectInfo& object : objects) keys.push_back(object.key);
  return keys;
}

// Every file (hidden ones included) under `folder`, relative to it.
std::vector<std::string> files_under(const fs::path& folder) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file())
      files.push_back(entry.path().lexically_relative(folder).generic_string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct Tree {
  TempDir dir;
  LocalStore store{dir.path()};
  Tree() {
    for (const char* name :
         {"b.csv", "a.csv", "a/z.csv", "a/b/c.csv", "a b.csv", "ab/x.csv", "é.csv"}) {
      write_file(dir.path() / name, name);
    }
  }
};

TEST_CASE("local list walks the whole tree, keys relative to the root, sorted bytewise",
          "[local]") {
  Tree tree;
  std::vector<ObjectInfo> objects = tree.store.list("");
  CHECK(keys_of(objects) == std::vector<std::string>{"a b.csv", "a.csv", "a/b/c.csv", "a/z.csv",
                                                     "ab/x.csv", "b.csv", "é.csv"});
  CHECK(objects[2] == ObjectInfo{"a/b/c.csv", 9});
}

TEST_CASE("local list takes a string prefix, as S3 does", "[local]") {
  Tree tree;
  CHECK(keys_of(tree.store.list("a/")) == std::vector<std::string>{"a/b/c.csv", "a/z.csv"});
  CHECK(keys_of(tree.store.list("a/b")) == std::vector<std::string>{"a/b/c.csv"});
  CHECK(keys_of(tree.store.list("a")) ==
        std::vector<std::string>{"a b.csv", "a.csv", "a/b/c.csv", "a/z.csv", "ab/x.csv"});
  CHECK(keys_of(tree.store.list("a.csv")) == std::vector<std::string>{"a.csv"});  // a single file
  CHECK(tree.store.list("nothing").empty());
  CHECK(tree.store.list("no/such/folder/").empty());
  CHECK(tree.store.list("a.csv/under-a-file").empty());
}

TEST_CASE("local list skips temporary files and anything not a regular file", "[local]") {
  Tree tree;
  write_file(tree.dir.path() / "a" / ".z.csv.tmp-0123456789abcdef", "partial");
  fs::create_directories(tree.dir.path() / "empty-folder");
  REQUIRE(::mkfifo((tree.dir.path() / "a" / "fifo").c_str(), 0600) == 0);
  CHECK(keys_of(tree.store.list("a/")) == std::vector<std::string>{"a/b/c.csv", "a/z.csv"});
  CHECK(is_local_temp_name(".z.csv.tmp-0123456789abcdef"));
  CHECK_FALSE(is_local_temp_name("z.csv.tmp-1"));
}

TEST_CASE("local reads are byte-identical whatever the read size", "[local]") {
  TempDir dir;
  std::string data = testing::random_bytes(1'000'003, 7);
  write_file(dir.path() / "big.bin", data);
  LocalStore store(dir.path());
  for (std::size_t piece :
       {std::size_t{1}, std::size_t{4096}, std::size_t{65'537}, std::size_t{2'000'000}}) {
    if (piece == 1) {  // byte by byte on a prefix only: a million reads is slow under ASan
      auto stream = store.open("big.bin");
      std::string head(1000, '\0');
      for (char& c : head) REQUIRE(stream->read(&c, 1) == 1);
      CHECK(head == data.substr(0, 1000));
      continue;
    }
    auto stream = store.open("big.bin");
    CHECK(read_all(*stream, piece) == data);
    char byte;
    CHECK(stream->read(&byte, 1) == 0);  // stays at the end
  }
}

TEST_CASE("a local object is invisible until commit, then appears whole", "[local][atomic]") {
  TempDir dir;
  LocalStore store(dir.path());
  auto output = store.create("out/sub/a.csv.out");
  output->write("first,");
  output->write(std::string(200'000, 'x'));  // more than the write buffer: reaches the file
  CHECK_FALSE(store.exists("out/sub/a.csv.out"));
  CHECK_FALSE(fs::exists(dir.path() / "out/sub/a.csv.out"));
  CHECK(store.list("").empty());
  std::vector<std::string> partial = files_under(dir.path());
  REQUIRE(partial.size() == 1);
  CHECK_THAT(partial[0], Catch::StartsWith("out/sub/.a.csv.out.tmp-"));

  output->commit();
  CHECK(store.exists("out/sub/a.csv.out"));
  CHECK(files_under(dir.path()) == std::vector<std::string>{"out/sub/a.csv.out"});
  CHECK(read_all(*store.open("out/sub/a.csv.out")) == "first," + std::string(200'000, 'x'));
  CHECK_THROWS_WITH(output->write("more"),
                    Catch::EndsWith("out/sub/a.csv.out: write after commit or abort"));
}

TEST_CASE("commit replaces an existing local object", "[local][atomic]") {
  TempDir dir;
  write_file(dir.path() / "a.out", "old contents");
  LocalStore store(dir.path());
  auto output = store.create("a.out");
  output->write("new");
  CHECK(testing::read_file(dir.path() / "a.out") == "old contents");
  output->commit();
  CHECK(testing::read_file(dir.path() / "a.out") == "new");
}

TEST_CASE("abort, or dropping an uncommitted output, leaves nothing", "[local][atomic]") {
  TempDir dir;
  LocalStore store(dir.path());
  {
    auto output = store.create("x/a.out");
    output->write("data");
    output->abort();
    output->abort();  // idempotent
    CHECK_THROWS_AS(output->commit(), StorageError);
  }
  { store.create("x/b.out")->write("data"); }
  CHECK(files_under(dir.path()).empty());
  CHECK(store.list("").empty());
}

TEST_CASE("local errors name the path and the system's reason", "[local][errors]") {
  TempDir dir;
  LocalStore store(dir.path());
  std::string root = dir.path().string();
  CHECK_THROWS_WITH(store.open("missing.csv"),
                    root + "/missing.csv: open failed: No such file or directory");
  fs::create_directories(dir.path() / "folder");
  CHECK_THROWS_WITH(store.open("folder"), root + "/folder: open failed: Is a directory");
  write_file(dir.path() / "file", "x");
  CHECK_THROWS_WITH(store.create("file/below"),
                    Catch::StartsWith(root + "/file: cannot create folder: "));
}

TEST_CASE("local keys cannot leave the root", "[local][errors]") {
  TempDir dir;
  LocalStore store(dir.path());
  for (const char* key : {"", "../escape", "/etc/passwd", "a//b", "a/./b", "a/"}) {
    CHECK_THROWS_WITH(store.open(key), "\"" + std::string(key) + "\": not a valid object key");
    CHECK_THROWS_AS(store.create(key), StorageError);
  }
  CHECK_THROWS_AS(store.list("../"), StorageError);
}

TEST_CASE("local exists and remove", "[local]") {
  TempDir dir;
  write_file(dir.path() / "a/b.csv", "x");
  LocalStore store(dir.path());
  CHECK(store.exists("a/b.csv"));
  CHECK_FALSE(store.exists("a"));  // a folder is not an object
  CHECK_FALSE(store.exists("a/b.csv/c"));
  store.remove("a/b.csv");
  CHECK_FALSE(store.exists("a/b.csv"));
  CHECK_NOTHROW(store.remove("a/b.csv"));
  CHECK_NOTHROW(store.remove("never/there"));
}

TEST_CASE("local writes never follow a symbolic link inside the root", "[local][security]") {
  TempDir dir, outside;
  fs::create_directories(dir.path() / "root");
  fs::create_symlink(outside.path(), dir.path() / "root/link");
  fs::create_directories(dir.path() / "root/a");
  fs::create_symlink(outside.path(), dir.path() / "root/a/deeper");
  write_file(outside.path() / "victim.out", "kept");
  LocalStore store(dir.path() / "root");
  const std::string root = (dir.path() / "root").string();
  CHECK_THROWS_WITH(store.create("link/x.out"),
                    root +
                        "/link: is a symbolic link; tandem never writes through a link inside "
                        "an output folder");
  CHECK_THROWS_WITH(store.create("a/deeper/b/x.out"),
                    root +
                        "/a/deeper: is a symbolic link; tandem never writes through a link "
                        "inside an output folder");
  CHECK_THROWS_WITH(store.remove("link/victim.out"),
                    root +
                        "/link: is a symbolic link; tandem never writes through a link inside "
                        "an output folder");
  // A link at the final name is replaced, not written through.
  fs::create_symlink(outside.path() / "victim.out", dir.path() / "root/a/victim.out");
  auto out = store.create("a/victim.out");
  out->write("new");
  out->commit();
  CHECK(read_file(outside.path() / "victim.out") == "kept");
  CHECK(read_file(dir.path() / "root/a/victim.out") == "new");
  CHECK_FALSE(fs::is_symlink(dir.path() / "root/a/victim.out"));
  CHECK(files_under(outside.path()) == std::vector<std::string>{"victim.out"});
}

// A root holding every kind of entry a listing must not take for data.
struct HostileTree {
  TempDir dir, outside;
  fs::path root = dir.path() / "root";
  LocalStore store{root};
  HostileTree() {
    write_file(root / "a.csv", "a");
    write_file(root / "sub/b.csv", "bb");
    write_file(outside.path() / "secret.csv", "secret");
    write_file(outside.path() / "deeper/secret.csv", "secret");
    fs::create_directory_symlink(outside.path(), root / "etclink");
    fs::create_directory_symlink(outside.path(), root / "sub/deeplink");
    fs::create_symlink(outside.path() / "secret.csv", root / "file.csv");
    fs::create_directory_symlink("sub", root / "inside");  // stays inside the root
    fs::create_symlink("a.csv", root / "same.csv");
    fs::create_symlink("nowhere", root / "dangling");
    REQUIRE(::mkfifo((root / "fifo").c_str(), 0600) == 0);
  }
};

std::string link_reason(const std::string& target) {
  return "a symbolic link (to " + target + "); tandem does not follow links in an input folder";
}

TEST_CASE("local list never follows a symbolic link and says what it left out",
          "[local][security]") {
  HostileTree tree;
  const std::string outside = tree.outside.path().string();
  Listing listing = tree.store.list_with_skipped("");
  CHECK(listing.objects == std::vector<ObjectInfo>{{"a.csv", 1}, {"sub/b.csv", 2}});
  CHECK(listing.skipped == std::vector<SkippedEntry>{
                               {"dangling", link_reason("nowhere")},
                               {"etclink", link_reason(outside)},
                               {"fifo", "a FIFO, not a regular file"},
                               {"file.csv", link_reason(outside + "/secret.csv")},
                               {"inside", link_reason("sub")},
                               {"same.csv", link_reason("a.csv")},
                               {"sub/deeplink", link_reason(outside)},
                           });
  CHECK(tree.store.list("") == listing.objects);
  // A prefix through a link: the link is named, nothing below it listed.
  CHECK(tree.store.list_with_skipped("etclink/").objects.empty());
  CHECK(tree.store.list_with_skipped("etclink/").skipped ==
        std::vector<SkippedEntry>{{"etclink", link_reason(outside)}});
  CHECK(tree.store.list_with_skipped("sub/deep").skipped ==
        std::vector<SkippedEntry>{{"sub/deeplink", link_reason(outside)}});
  CHECK(tree.store.list_with_skipped("sub/b").skipped.empty());
}

TEST_CASE("a link's target is shown without its control characters", "[local][security]") {
  TempDir dir;
  fs::create_symlink("a\nb\x1b[31m", dir.path() / "odd");
  LocalStore store(dir.path());
  CHECK(store.list_with_skipped("").skipped ==
        std::vector<SkippedEntry>{{"odd", link_reason("a\\x0ab\\x1b[31m")}});
}

TEST_CASE("local reads never go through a symbolic link below the root", "[local][security]") {
  HostileTree tree;
  const std::string root = tree.root.string();
  const std::string refusal =
      ": is a symbolic link; tandem never reads through a link inside an input folder";
  CHECK_THROWS_WITH(tree.store.open("etclink/secret.csv"), root + "/etclink" + refusal);
  CHECK_THROWS_WITH(tree.store.open("sub/deeplink/deeper/secret.csv"),
                    root + "/sub/deeplink" + refusal);
  CHECK_THROWS_WITH(tree.store.open("file.csv"), root + "/file.csv" + refusal);
  CHECK_THROWS_WITH(tree.store.open("inside/b.csv"), root + "/inside" + refusal);
  CHECK_THROWS_WITH(tree.store.open("dangling"), root + "/dangling" + refusal);
  // A FIFO fails at once rather than waiting for a writer.
  CHECK_THROWS_WITH(tree.store.open("fifo"),
                    root + "/fifo: open failed: a FIFO, not a regular file");
  CHECK_THROWS_WITH(tree.store.open("sub/missing/x.csv"),
                    root + "/sub/missing/x.csv: open failed: No such file or directory");
  CHECK(read_all(*tree.store.open("sub/b.csv")) == "bb");
}

TEST_CASE("local exists sees no object behind a link", "[local][security]") {
  HostileTree tree;
  CHECK(tree.store.exists("a.csv"));
  CHECK_FALSE(tree.store.exists("file.csv"));
  CHECK_FALSE(tree.store.exists("etclink/secret.csv"));
  CHECK_FALSE(tree.store.exists("inside/b.csv"));
  CHECK_FALSE(tree.store.exists("fifo"));
  CHECK_FALSE(LocalStore(tree.dir.path() / "missing").exists("a.csv"));
}

TEST_CASE("the root itself may be a symbolic link", "[local][security]") {
  TempDir dir;
  fs::create_directories(dir.path() / "real");
  fs::create_symlink(dir.path() / "real", dir.path() / "alias");
  LocalStore store(dir.path() / "alias");
  auto out = store.create("sub/a.out");
  out->write("x");
  out->commit();
  CHECK(read_file(dir.path() / "real/sub/a.out") == "x");
  CHECK(store.list("") == std::vector<ObjectInfo>{{"sub/a.out", 1}});
  CHECK(read_all(*store.open("sub/a.out")) == "x");
  CHECK(store.exists("sub/a.out"));
}

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("local outputs are 0640 and the folders created 0750, whatever the umask",
          "[local][security]") {
  for (const mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    CAPTURE(mask);
    TempDir dir;
    const mode_t previous = ::umask(mask);
    {
      LocalStore store(dir.path() / "new/root");
      auto out = store.create("a/b/c.out");
      out->write("x");
      out->commit();
    }
    ::umask(previous);
    CHECK(mode_of(dir.path() / "new/root/a/b/c.out") == 0640);
    for (const char* folder : {"new", "new/root", "new/root/a", "new/root/a/b"}) {
      CAPTURE(folder);
      CHECK(mode_of(dir.path() / folder) == 0750);
    }
  }
}

TEST_CASE("existing folders keep their mode", "[local][security]") {
  TempDir dir;
  fs::create_directories(dir.path() / "shared");
  fs::permissions(dir.path() / "shared", static_cast<fs::perms>(0775));
  LocalStore store(dir.path());
  auto out = store.create("shared/x.out");
  out->commit();
  CHECK(mode_of(dir.path() / "shared") == 0775);
  CHECK(mode_of(dir.path() / "shared/x.out") == 0640);
}

}  // namespace
}  // namespace tandem::storage
