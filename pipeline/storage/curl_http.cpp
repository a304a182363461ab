#include "pipeline/storage/curl_http.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace tandem::storage {
namespace {

// Response headers beyond this are a broken or hostile server, not S3.
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

// What one exchange collects; the callbacks abort the transfer when a bound is crossed.
struct Exchange {
  HttpResponse response;
  std::size_t max_body = 0;
  std::size_t header_bytes = 0;
  std::string overflow;  // which bound was crossed
};

std::size_t on_body(char* data, std::size_t, std::size_t size, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  if (exchange->response.body.size() + size > exchange->max_body) {
    exchange->overflow = fmt::format("response body exceeds {} bytes", exchange->max_body);
    return 0;  // makes curl fail with CURLE_WRITE_ERROR
  }
  exchange->response.body.append(data, size);
  return size;
}

std::size_t on_header(char* data, std::size_t, std::size_t size, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  exchange->header_bytes += size;
  if (exchange->header_bytes > kMaxHeaderBytes) {
    exchange->overflow = fmt::format("response headers exceed {} bytes", kMaxHeaderBytes);
    return 0;
  }
  std::string_view line(data, size);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  auto& response = exchange->response;
  if (line.starts_with("HTTP/")) {  // a new response (after 100 Continue): start over
    response.headers.clear();
    std::size_t code_end = line.find(' ', line.find(' ') + 1);
    response.reason =
        code_end == std::string_view::npos ? "" : std::string(line.substr(code_end + 1));
    return size;
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  response.headers.emplace_back(std::move(name), std::string(value));
  return size;
}

bool is_transient(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

void set_method_and_body(CURL* handle, const HttpRequest& request) {
  if (request.method == "GET") return;
  if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (request.method == "DELETE" && request.body.empty()) {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    // POSTFIELDS rather than a read callback: libcurl can only sign (and resend on a retry) a
    // body it holds whole. The custom method turns curl's POST into PUT. A null pointer
    // would make curl read stdin, hence "" for an empty body.
    const char* data = request.body.empty() ? "" : request.body.data();
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return std::nullopt;
}

CurlEasy::CurlEasy() {
  // curl_global_init is not thread-safe; the first handle made in the process runs it.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  handle_ = curl_easy_init();
  if (handle_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

CurlEasy::~CurlEasy() {
  curl_easy_cleanup(handle_);
}

HttpResponse CurlEasy::perform(const HttpRequest& request) {
  curl_easy_reset(handle_);  // keeps the connection cache, drops every option
  Exchange exchange;
  exchange.max_body = request.max_response_body;
  char error_text[CURL_ERROR_SIZE] = "";

  curl_slist* headers = nullptr;
  // Only headers to send: libcurl 7.88 signs every header in this list, including a removal
  // like "Expect:" that it then does not send, which breaks the signature.
  for (const std::string& header : request.headers)
    headers = curl_slist_append(headers, header.c_str());

  curl_easy_setopt(handle_, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts in threads
  // Keys like "a/../b" are legal in S3: send (and sign) the path exactly as built.
  curl_easy_setopt(handle_, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(handle_, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(handle_, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(request.stall_timeout.count()));
  curl_easy_setopt(handle_, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(handle_, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &exchange);
  if (!request.sigv4_scope.empty()) {
    curl_easy_setopt(handle_, CURLOPT_AWS_SIGV4, request.sigv4_scope.c_str());
    curl_easy_setopt(handle_, CURLOPT_USERNAME, request.access_key_id.c_str());
    curl_easy_setopt(handle_, CURLOPT_PASSWORD, request.secret_access_key.c_str());
  }
  set_method_and_body(handle_, request);

  CURLcode code = curl_easy_perform(handle_);
  curl_slist_free_all(headers);
  HttpResponse& response = exchange.response;
  if (code != CURLE_OK) {
    response.status = 0;
    response.error = !exchange.overflow.empty() ? exchange.overflow
                     : error_text[0] != '\0'    ? std::string(error_text)
                                                : curl_easy_strerror(code);
    response.transient_error = exchange.overflow.empty() && is_transient(code);
    return std::move(response);
  }
  curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &response.status);
  return std::move(response);
}

bool is_retryable(const HttpResponse& response) {
  if (response.status == 0) return response.transient_error;
  return response.status >= 500 || response.status == 429;
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int failed_tries,
                                        double jitter) {
  long long full = policy.base_delay.count();
  for (int i = 1; i < failed_tries; ++i) full *= 4;
  return std::chrono::milliseconds(full / 2 +
                                   static_cast<long long>(static_cast<double>(full / 2) * jitter));
}

HttpResponse with_retries(const RetryPolicy& policy, const std::function<HttpResponse()>& attempt,
                          const std::function<bool(const HttpResponse&)>& retryable) {
  thread_local std::mt19937 random{std::random_device{}()};
  for (int tries = 1;; ++tries) {
    HttpResponse response = attempt();
    response.tries = tries;
    if (tries >= policy.max_tries || !retryable(response)) return response;
    double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(random);
    std::this_thread::sleep_for(backoff_delay(policy, tries, jitter));
  }
}

}  // namespace tandem::storage
