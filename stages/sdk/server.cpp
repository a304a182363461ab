// The stage server: an io_context run by a pool of threads, one coroutine per connection on
// its own strand, and a control strand that owns the acceptor and the signals. The drain is
// bounded by run()'s own thread, which serves nothing, so handlers blocking every server
// thread cannot keep it from giving up.
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "stages/sdk/connection.h"
#include "stages/sdk/shm_server.h"
#include "stages/sdk/stage.h"

namespace tandem::stage {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

tcp::acceptor listen_on(asio::io_context& io, const std::string& host, std::uint16_t port,
                        bool reuse_port) {
  boost::system::error_code error;
  const auto address = asio::ip::make_address(host, error);
  if (error) throw std::runtime_error(fmt::format("invalid host address \"{}\"", host));
  const tcp::endpoint endpoint{address, port};
  tcp::acceptor acceptor{io};
  acceptor.open(endpoint.protocol(), error);
  // A restarted stage must bind the port at once, despite connections in TIME_WAIT.
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  // Several worker processes of one stage (the C ABI's reuse_port) share the port.
  const int on = 1;
  if (!error && reuse_port &&
      setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    error.assign(errno, boost::system::system_category());
  }
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    throw std::runtime_error(
        fmt::format("cannot listen on {}:{}: {}", host, port, error.message()));
  }
  return acceptor;
}

}  // namespace

class Server::Impl {
 public:
  Impl(Handler handler, Options options)
      : handler_(std::move(handler)),
        options_(std::move(options)),
        acceptor_(listen_on(io_, options_.host, options_.port, options_.reuse_port)),
        port_(acceptor_.local_endpoint().port()) {
    if (options_.shm) shm_.emplace(*options_.shm, handler_);
  }

  ~Impl() {
    io_.stop();
    for (auto& worker : workers_) worker.join();
    shm_.reset();
  }

  std::uint16_t port() const { return port_; }

  void stop_on_signals() {
    signals_.emplace(control_, SIGTERM, SIGINT);
    signals_->async_wait([this](const boost::system::error_code& error, int signal) {
      if (error) return;
      fmt::print(stderr, "stage: received {}, draining\n",
                 signal == SIGTERM ? "SIGTERM" : "SIGINT");
      stop();
    });
  }

  bool run() {
    fmt::print(stderr, "stage listening on {}:{}\n", options_.host, port_);
    if (options_.on_listening) options_.on_listening(port_);
    asio::co_spawn(control_, accept_loop(), asio::detached);
    if (shm_) start_shm();
    const unsigned threads = std::max(1u, options_.threads);
    running_ = threads;
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
    std::unique_lock lock(run_mutex_);
    // Workers return once no work is left: acceptor closed, every connection done.
    const auto finished = [this] { return running_ == 0; };
    run_done_.wait(lock, [&] { return finished() || drain_deadline_; });
    if (!finished() && !run_done_.wait_until(lock, *drain_deadline_, finished)) {
      lock.unlock();
      give_up_drain();
      return false;
    }
    lock.unlock();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
    return true;
  }

  void stop() {
    if (stopping_.exchange(true)) return;
    {
      std::lock_guard lock(run_mutex_);
      drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
    }
    run_done_.notify_all();
    asio::post(control_, [this] { begin_drain(); });
  }

 private:
  void work() {
    try {
      io_.run();
    } catch (const std::exception& error) {
      // Unexpected: connection coroutines report their own errors.
      fmt::print(stderr, "stage: server thread failed: {}\n", error.what());
      io_.stop();
    }
    std::lock_guard lock(run_mutex_);
    --running_;
    run_done_.notify_all();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code error;
      tcp::socket socket = co_await acceptor_.async_accept(
          asio::make_strand(io_), asio::redirect_error(asio::use_awaitable, error));
      if (stopping_) co_return;
      if (error) {
        co_await pause_after(error);
        continue;
      }
      start_connection(std::move(socket));
    }
  }

  // Accept fails when the process runs out of descriptors; retrying at once would spin.
  asio::awaitable<void> pause_after(const boost::system::error_code& error) {
    fmt::print(stderr, "stage: accept failed: {}\n", error.message());
    asio::steady_timer pause{control_, std::chrono::milliseconds(100)};
    boost::system::error_code ignored;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

  void start_connection(tcp::socket socket) {
    boost::system::error_code ignored;
    // Without it, keep-alive answers wait ~40 ms for the client's delayed ACK (Nagle).
    socket.set_option(tcp::no_delay(true), ignored);
    auto connection = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(connections_mutex_);
      if (connections_.size() >= options_.max_connections) {
        fmt::print(stderr, "stage: refusing a connection over the limit of {}\n",
                   options_.max_connections);
        return;
      }
      connections_.insert(connection);
    }
    asio::co_spawn(connection->stream.get_executor(), serve(connection),
                   [this, connection](std::exception_ptr failure) {
                     report(failure);
                     forget(connection);
                   });
  }

  // Takes the shared pointer by value so the coroutine frame keeps the connection alive.
  asio::awaitable<void> serve(std::shared_ptr<Connection> connection) {
    co_await serve_connection(*connection, context_);
  }

  static void report(const std::exception_ptr& failure) {
    if (!failure) return;
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& error) {
      fmt::print(stderr, "stage: connection failed: {}\n", error.what());
    } catch (...) {
      fmt::print(stderr, "stage: connection failed with a non-standard exception\n");
    }
  }

  void forget(const std::shared_ptr<Connection>& connection) {
    std::lock_guard lock(connections_mutex_);
    connections_.erase(connection);
  }

  // Shared-memory requests run on the channel's own threads (shm_threads, else as many as the
  // server has).
  void start_shm() {
    fmt::print(stderr, "stage serving shared memory ({} slots)\n", shm_->slot_count());
    shm_->start(std::max(1u, options_.shm_threads != 0 ? options_.shm_threads : options_.threads));
  }

  // On the control strand. Idle connections are cancelled on their own strands; busy ones
  // see `stopping_` after their response and close.
  void begin_drain() {
    // Returns once every shared-memory request claimed has been answered.
    if (shm_) shm_->stop();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    if (signals_) {
      signals_->clear(ignored);  // A second signal now ends the process.
      // When stop() came from elsewhere, the wait for a signal would keep the workers busy.
      signals_->cancel(ignored);
    }
    std::lock_guard lock(connections_mutex_);
    for (const auto& connection : connections_) {
      asio::post(connection->stream.get_executor(), [connection] {
        if (connection->idle) connection->stream.cancel();
      });
    }
  }

  void give_up_drain() {
    {
      std::lock_guard lock(connections_mutex_);
      fmt::print(stderr, "stage: {} connection(s) still busy after the {} ms drain, stopping\n",
                 connections_.size(), options_.drain_timeout.count());
    }
    io_.stop();
  }

  Handler handler_;
  Options options_;
  std::atomic<bool> stopping_{false};
  ConnectionContext context_{handler_, options_, stopping_};

  // Declared before everything bound to it, so that it is destroyed after them.
  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> control_{asio::make_strand(io_)};
  tcp::acceptor acceptor_;
  std::uint16_t port_;
  std::optional<asio::signal_set> signals_;
  std::optional<ShmServer> shm_;

  std::mutex connections_mutex_;
  std::set<std::shared_ptr<Connection>> connections_;

  std::mutex run_mutex_;
  std::condition_variable run_done_;
  unsigned running_ = 0;
  std::optional<std::chrono::steady_clock::time_point> drain_deadline_;  // Set by stop().
  std::vector<std::thread> workers_;
};

Server::Server(Handler handler, Options options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(options))) {}
Server::~Server() = default;
std::uint16_t Server::port() const {
  return impl_->port();
}
void Server::stop_on_signals() {
  impl_->stop_on_signals();
}
bool Server::run() {
  return impl_->run();
}
void Server::stop() {
  impl_->stop();
}

int serve(Handler handler, Options options) {
  try {
    Server server(std::move(handler), std::move(options));
    server.stop_on_signals();
    if (server.run()) return 0;
    // A handler still runs: the Server cannot be destroyed under it, so leave at once.
    std::fflush(stderr);
    std::_Exit(1);
  } catch (const std::exception& error) {
    fmt::print(stderr, "stage: {}\n", error.what());
    return 1;
  }
}

int serve(Handler handler) {
  Options options;
  try {
    options = from_environment();
  } catch (const std::invalid_argument& error) {
    fmt::print(stderr, "stage: {}\n", error.what());
    return 2;
  }
  return serve(std::move(handler), std::move(options));
}

}  // namespace tandem::stage
