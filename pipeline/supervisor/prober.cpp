#include "pipeline/supervisor/prober.h"

#include <boost/asio/ip/address_v4.hpp>

namespace tandem::supervisor {

namespace asio = boost::asio;

namespace {

class HttpProber final : public Prober {
 public:
  asio::awaitable<Result<int, common::HttpGetError>> ping(
      std::uint16_t port, std::chrono::milliseconds timeout) override {
    const asio::ip::tcp::endpoint endpoint(asio::ip::address_v4::loopback(), port);
    auto response = co_await common::one_shot_get(endpoint, "/ping", timeout);
    if (!response) co_return std::move(response).error();
    co_return response->status;
  }
};

}  // namespace

std::unique_ptr<Prober> make_http_prober() {
  return std::make_unique<HttpProber>();
}

}  // namespace tandem::supervisor
