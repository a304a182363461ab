// Options read from the environment a stage is started with.
#include <fmt/format.h>

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/sdk/stage.h"
#include "tandem/proto/shm_ring.h"

namespace tandem::stage {

namespace {

// An unset or empty variable counts as absent, so `VAR= stage` means "use the default".
std::optional<std::string_view> variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string_view(value);
}

std::optional<unsigned long> parse_number(std::string_view text, unsigned long min,
                                          unsigned long max) {
  unsigned long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

// Every invalid variable is reported, not only the first.
class Errors {
 public:
  void add(const char* name, std::string_view expected, std::string_view got) {
    messages_ += fmt::format("{}{}: expected {}, got \"{}\"", messages_.empty() ? "" : "; ", name,
                             expected, got);
  }
  void throw_if_any() const {
    if (!messages_.empty()) throw std::invalid_argument(messages_);
  }

 private:
  std::string messages_;
};

std::optional<ShmChannel> read_shm_channel(Errors& errors) {
  using namespace proto::shm;
  const char* names[] = {env_segment_fd, env_submit_fd, env_complete_fd};
  int fds[3] = {-1, -1, -1};
  int given = 0;
  for (int i = 0; i < 3; ++i) {
    const auto text = variable(names[i]);
    if (!text) continue;
    ++given;
    if (const auto fd = parse_number(*text, 3, 1 << 20)) {
      fds[i] = static_cast<int>(*fd);
    } else {
      errors.add(names[i], "a descriptor number of at least 3", *text);
    }
  }
  if (given != 0 && given != 3) {
    errors.add(env_segment_fd, fmt::format("{}, {} and {} together", names[0], names[1], names[2]),
               fmt::format("{} of them", given));
  } else if (given == 3 && fds[0] >= 0 && fds[1] >= 0 && fds[2] >= 0) {
    return ShmChannel{fds[0], fds[1], fds[2]};
  }
  return std::nullopt;
}

}  // namespace

Options from_environment() {
  Options options;
  Errors errors;
  if (const auto text = variable("SAGEMAKER_BIND_TO_PORT")) {
    if (const auto port = parse_number(*text, 0, 65535)) {
      options.port = static_cast<std::uint16_t>(*port);
    } else {
      errors.add("SAGEMAKER_BIND_TO_PORT", "a port number 0-65535", *text);
    }
  }
  if (const auto host = variable("TANDEM_STAGE_HOST")) {
    boost::system::error_code invalid;
    boost::asio::ip::make_address(*host, invalid);
    if (invalid) {
      errors.add("TANDEM_STAGE_HOST", "an IP address such as 127.0.0.1 or 0.0.0.0", *host);
    } else {
      options.host = *host;
    }
  }
  if (const auto text = variable("TANDEM_STAGE_THREADS")) {
    if (const auto threads = parse_number(*text, 1, 1024)) {
      options.threads = static_cast<unsigned>(*threads);
    } else {
      errors.add("TANDEM_STAGE_THREADS", "a number of threads 1-1024", *text);
    }
  }
  if (const auto text = variable("TANDEM_STAGE_SHM_THREADS")) {
    if (const auto threads = parse_number(*text, 1, 1024)) {
      options.shm_threads = static_cast<unsigned>(*threads);
    } else {
      errors.add("TANDEM_STAGE_SHM_THREADS", "a number of threads 1-1024", *text);
    }
  }
  options.shm = read_shm_channel(errors);
  errors.throw_if_any();
  return options;
}

std::optional<ShmChannel> shm_channel_from_environment() {
  Errors errors;
  auto channel = read_shm_channel(errors);
  errors.throw_if_any();
  return channel;
}

}  // namespace tandem::stage
