// The S3 input stream (ranged GETs) and output object (multipart upload).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "pipeline/storage/s3_store.h"
#include "pipeline/storage/s3_xml.h"

namespace tandem::storage {
namespace {

constexpr std::size_t kMaxParts = 10'000;  // S3's limit per multipart upload

// Reads an object as successive `Range: bytes=a-b` GETs of read_chunk_size bytes, rather
// than one GET paused between reads (a curl multi handle): each chunk is a complete request
// that the blocking, retrying client handles as is; a dropped connection is retried from the
// exact offset instead of failing the stream; and memory stays at one chunk however slowly
// the caller reads, with no connection held open meanwhile. The price, one request per 8 MiB,
// is a few milliseconds of S3 latency per 8 MiB. If-Match on the first chunk's ETag turns an
// object replaced mid-read into an error instead of a silent mix of two versions.
class S3InputStream final : public InputStream {
 public:
  S3InputStream(std::shared_ptr<S3Context> context, std::string key)
      : client_(std::move(context)), key_(std::move(key)) {
    fetch();  // a missing object fails open(), not the first read()
  }

  std::size_t read(char* out, std::size_t size) override {
    if (size == 0) return 0;
    if (position_ == chunk_.size()) {
      if (offset_ >= total_) return 0;
      fetch();
    }
    std::size_t n = std::min(size, chunk_.size() - position_);
    std::memcpy(out, chunk_.data() + position_, n);
    position_ += n;
    return n;
  }

 private:
  void fetch() {
    const std::size_t chunk_size = client_.options().read_chunk_size;
    S3Call call{.operation = "GET", .method = "GET", .key = key_};
    call.headers.push_back(fmt::format("Range: bytes={}-{}", offset_, offset_ + chunk_size - 1));
    if (!etag_.empty()) call.headers.push_back("If-Match: " + etag_);
    call.max_response_body = chunk_size;
    chunk_.clear();  // consumed; dropped before the next chunk arrives
    position_ = 0;
    HttpResponse response = client_.send(call);
    if (response.status == 416 && offset_ == 0) {  // an empty object has no byte 0 to range over
      total_ = 0;
      return;
    }
    if (response.status == 200 && offset_ == 0) {
      // A server that ignores Range sends the whole object; it fit in one chunk, or the body
      // bound would have failed the request.
      total_ = response.body.size();
    } else if (response.status == 206) {
      check_range(call, response);
    } else {
      client_.fail(call, response);
    }
    if (etag_.empty()) etag_ = response.header("etag").value_or("");
    chunk_ = std::move(response.body);
    offset_ += chunk_.size();
  }

  void check_range(const S3Call& call, const HttpResponse& response) {
    std::string range = response.header("content-range").value_or("");
    unsigned long long first = 0, last = 0, total = 0;
    if (std::sscanf(range.c_str(), "bytes %llu-%llu/%llu", &first, &last, &total) != 3 ||
        first != offset_ || last < first || response.body.size() != last - first + 1) {
      throw StorageError(fmt::format(
          "{}: {} failed: asked for bytes from {}, got Content-Range \"{}\" and {} bytes",
          client_.uri(key_), call.operation, offset_, range, response.body.size()));
    }
    total_ = total;
  }

  S3Client client_;
  std::string key_;
  std::string etag_;
  std::string chunk_;
  std::size_t position_ = 0;
  std::uint64_t offset_ = 0;  // of the byte after chunk_
  std::uint64_t total_ = 0;
};

// Buffers one part. The first full part starts a multipart upload, and each later full part
// is uploaded once more data arrives, so an object of up to one part is a single PUT at
// commit. Nothing exists under the key until PUT or CompleteMultipartUpload succeeds.
class S3OutputObject final : public OutputObject {
 public:
  S3OutputObject(std::shared_ptr<S3Context> context, std::string key)
      : client_(std::move(context)), key_(std::move(key)) {}
  ~S3OutputObject() override { abort(); }

  void write(std::string_view data) override {
    check_open("write");
    const std::size_t part_size = client_.options().part_size;
    while (!data.empty()) {
      if (buffer_.size() == part_size) upload_part();
      std::size_t n = std::min(part_size - buffer_.size(), data.size());
      buffer_.append(data.substr(0, n));
      data.remove_prefix(n);
    }
  }

  void commit() override {
    check_open("commit");
    try {
      if (upload_id_.empty()) {
        client_.send_ok({.operation = "PUT", .method = "PUT", .key = key_, .body = buffer_});
      } else {
        if (!buffer_.empty()) upload_part();
        complete();
      }
    } catch (...) {
      abort();
      throw;
    }
    finished_ = true;
    buffer_ = std::string();
  }

  // A failed AbortMultipartUpload leaves a pending upload, billed until a bucket lifecycle
  // rule (AbortIncompleteMultipartUpload) removes it: nothing more can be done from here.
  void abort() noexcept override {
    if (finished_) return;
    finished_ = true;
    buffer_ = std::string();
    if (upload_id_.empty()) return;
    try {
      S3Call call{.operation = "AbortMultipartUpload", .method = "DELETE", .key = key_};
      call.query = {{"uploadId", upload_id_}};
      client_.send(call);
    } catch (...) {
    }
  }

 private:
  void check_open(const char* what) const {
    if (finished_)
      throw StorageError(fmt::format("{}: {} after commit or abort", client_.uri(key_), what));
  }

  void upload_part() {
    if (upload_id_.empty()) start();
    if (part_etags_.size() == kMaxParts) {
      throw StorageError(fmt::format("{}: more than {} parts of {} bytes; raise the part size",
                                     client_.uri(key_), kMaxParts, client_.options().part_size));
    }
    std::size_t number = part_etags_.size() + 1;
    S3Call call{.operation = fmt::format("UploadPart {}", number),
                .method = "PUT",
                .key = key_,
                .body = buffer_};
    call.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}};
    HttpResponse response = client_.send_ok(call);
    std::optional<std::string> etag = response.header("etag");
    if (!etag)
      throw StorageError(
          fmt::format("{}: {} failed: no ETag in the response", client_.uri(key_), call.operation));
    part_etags_.push_back(*etag);
    buffer_.clear();
  }

  void start() {
    S3Call call{.operation = "CreateMultipartUpload", .method = "POST", .key = key_};
    call.query = {{"uploads", ""}};
    upload_id_ = parse_upload_id(client_.send_ok(call).body, client_.uri(key_));
  }

  void complete() {
    std::string body = complete_upload_body(part_etags_);
    S3Call call{
        .operation = "CompleteMultipartUpload", .method = "POST", .key = key_, .body = body};
    call.query = {{"uploadId", upload_id_}};
    call.headers = {"Content-Type: application/xml"};
    call.error_in_ok_body = true;
    client_.send_ok(call);
  }

  S3Client client_;
  std::string key_;
  std::string buffer_;
  std::string upload_id_;
  std::vector<std::string> part_etags_;
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<InputStream> open_s3_object(std::shared_ptr<S3Context> context, std::string key) {
  return std::make_unique<S3InputStream>(std::move(context), std::move(key));
}

std::unique_ptr<OutputObject> create_s3_object(std::shared_ptr<S3Context> context,
                                               std::string key) {
  return std::make_unique<S3OutputObject>(std::move(context), std::move(key));
}

}  // namespace tandem::storage
