// Blocking HTTP exchanges over one libcurl easy handle, with every response bounded, and the
// retry rule S3 clients follow. Used by the S3 client and the container credentials fetch.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

typedef void CURL;

namespace tandem::storage {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;             // "Name: value"
  std::string_view body;                        // sent as is; must outlive the exchange
  std::size_t max_response_body = 1024 * 1024;  // a longer body fails the exchange
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer slower than 1 KiB/s for this long is abandoned (and retried): bounds a stalled
  // connection without capping how long a large, healthy transfer may take.
  std::chrono::seconds stall_timeout{60};
  // SigV4 signing by libcurl, e.g. "aws:amz:us-east-1:s3"; empty: unsigned.
  std::string sigv4_scope;
  std::string access_key_id, secret_access_key;
};

struct HttpResponse {
  long status = 0;     // 0: no HTTP response, see `error`
  std::string reason;  // the status line's reason phrase
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string error;                                         // what failed when status == 0
  bool transient_error = false;  // status == 0 and worth retrying (connect, timeout, reset)
  int tries = 1;

  std::optional<std::string> header(std::string_view lower_case_name) const;
};

// One easy handle: kept across requests so connections are reused. Use from one thread at a
// time.
class CurlEasy {
 public:
  CurlEasy();
  CurlEasy(const CurlEasy&) = delete;
  CurlEasy& operator=(const CurlEasy&) = delete;
  ~CurlEasy();

  HttpResponse perform(const HttpRequest& request);

 private:
  CURL* handle_;
};

struct RetryPolicy {
  int max_tries = 3;
  std::chrono::milliseconds base_delay{200};
};

// 5xx, 429 and transport failures are worth another try; other 4xx never are.
bool is_retryable(const HttpResponse& response);

// The wait after `failed_tries` failures: base * 4^(failed_tries-1), between half and all of
// it (`jitter` in [0, 1)), so workers that failed together do not retry together.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int failed_tries, double jitter);

// Runs `attempt` until it returns a response that is not retryable, or max_tries is reached.
// `retryable` decides, defaulting to is_retryable.
HttpResponse with_retries(const RetryPolicy& policy, const std::function<HttpResponse()>& attempt,
                          const std::function<bool(const HttpResponse&)>& retryable = is_retryable);

}  // namespace tandem::storage
