// Options read from the environment.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <string>

#include "stages/sdk/stage.h"

using tandem::stage::from_environment;

namespace {

// Sets (or unsets) a variable for one test and restores its previous value.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) previous_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedVariable() {
    if (previous_) {
      ::setenv(name_, previous_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  const char* name_;
  std::optional<std::string> previous_;
};

}  // namespace

TEST_CASE("from_environment defaults to 127.0.0.1:8080") {
  ScopedVariable port("SAGEMAKER_BIND_TO_PORT", nullptr);
  ScopedVariable host("TANDEM_STAGE_HOST", nullptr);
  ScopedVariable threads("TANDEM_STAGE_THREADS", nullptr);
  const auto options = from_environment();
  CHECK(options.port == 8080);
  CHECK(options.host == "127.0.0.1");
  CHECK(options.threads == 16);
}

TEST_CASE("from_environment reads the port, host and threads") {
  ScopedVariable port("SAGEMAKER_BIND_TO_PORT", "9123");
  ScopedVariable host("TANDEM_STAGE_HOST", "0.0.0.0");
  ScopedVariable threads("TANDEM_STAGE_THREADS", "3");
  const auto options = from_environment();
  CHECK(options.port == 9123);
  CHECK(options.host == "0.0.0.0");
  CHECK(options.threads == 3);
}

TEST_CASE("from_environment reads the shared-memory threads apart from the HTTP ones") {
  ScopedVariable threads("TANDEM_STAGE_THREADS", "6");
  {
    ScopedVariable shm_threads("TANDEM_STAGE_SHM_THREADS", nullptr);
    CHECK(from_environment().shm_threads == 0);  // as many as `threads`
  }
  ScopedVariable shm_threads("TANDEM_STAGE_SHM_THREADS", "1");
  const auto options = from_environment();
  CHECK(options.threads == 6);
  CHECK(options.shm_threads == 1);
  ScopedVariable bad("TANDEM_STAGE_SHM_THREADS", "0");
  CHECK_THROWS_WITH(from_environment(),
                    "TANDEM_STAGE_SHM_THREADS: expected a number of threads 1-1024, got \"0\"");
}

TEST_CASE("from_environment treats an empty variable as unset") {
  ScopedVariable port("SAGEMAKER_BIND_TO_PORT", "");
  CHECK(from_environment().port == 8080);
}

TEST_CASE("from_environment names every invalid variable") {
  ScopedVariable port("SAGEMAKER_BIND_TO_PORT", "80a");
  ScopedVariable host("TANDEM_STAGE_HOST", "localhost");
  ScopedVariable threads("TANDEM_STAGE_THREADS", "0");
  CHECK_THROWS_WITH(
      from_environment(),
      "SAGEMAKER_BIND_TO_PORT: expected a port number 0-65535, got \"80a\"; "
      "TANDEM_STAGE_HOST: expected an IP address such as 127.0.0.1 or 0.0.0.0, got "
      "\"localhost\"; TANDEM_STAGE_THREADS: expected a number of threads 1-1024, got \"0\"");
}

TEST_CASE("from_environment rejects a port out of range") {
  ScopedVariable port("SAGEMAKER_BIND_TO_PORT", "65536");
  CHECK_THROWS_AS(from_environment(), std::invalid_argument);
}
