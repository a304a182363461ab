#include "pipeline/supervisor/launcher.h"

#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>
#include <utility>

namespace tandem::supervisor {

namespace asio = boost::asio;

namespace {

class ProcessHandle final : public StageProcess {
 public:
  explicit ProcessHandle(std::unique_ptr<ChildProcess> child) : child_(std::move(child)) {}

  pid_t pid() const override { return child_->pid(); }

  asio::awaitable<std::optional<std::string>> read_line() override {
    constexpr std::size_t max_line = 16 * 1024;
    if (closed_) {
      if (buffer_.empty()) co_return std::nullopt;
      co_return std::exchange(buffer_, {});
    }
    boost::system::error_code ec;
    const std::size_t n =
        co_await asio::async_read_until(child_->output(), asio::dynamic_buffer(buffer_, max_line),
                                        '\n', asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::not_found) co_return std::exchange(buffer_, {});  // a piece
    if (ec) {
      closed_ = true;
      if (buffer_.empty()) co_return std::nullopt;
      co_return std::exchange(buffer_, {});
    }
    std::string line = buffer_.substr(0, n - 1);
    buffer_.erase(0, n);
    co_return line;
  }

  asio::awaitable<ExitStatus> wait() override { co_return co_await child_->wait(); }
  const std::optional<ExitStatus>& exit_status() const override { return child_->exit_status(); }
  void signal(int sig) override { child_->signal(sig); }

  // Everything below the stage's shim counts: its workers, and a daemon that left its session.
  std::vector<ListeningSocket> exposed_listeners() const override {
    return supervisor::exposed_listeners(child_->shim_pid());
  }

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string buffer_;   // read but not yet returned
  bool closed_ = false;  // the output reached its end (or failed)
};

class ProcessLauncher final : public Launcher {
 public:
  explicit ProcessLauncher(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  Result<std::shared_ptr<StageProcess>, std::string> launch(const LaunchSpec& spec) override {
    try {
      return std::shared_ptr<StageProcess>(
          std::make_shared<ProcessHandle>(ChildProcess::launch(executor_, spec)));
    } catch (const std::exception& e) {  // ChildProcess::launch's way of saying it
      return Err{std::string(e.what())};
    }
  }

 private:
  asio::any_io_executor executor_;
};

}  // namespace

std::unique_ptr<Launcher> make_process_launcher(asio::any_io_executor executor) {
  return std::make_unique<ProcessLauncher>(std::move(executor));
}

}  // namespace tandem::supervisor
