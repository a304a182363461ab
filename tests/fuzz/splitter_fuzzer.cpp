// The record splitters, alone and behind the gzip inflater. Each input is split twice, in one
// chunk and in chunks of sizes drawn from the input, and both runs must find the same records
// and the same error (splitter.h: "feeding an object byte by byte or in one chunk yields the
// same records"). Every record is checked against the object it came from.
//
// fuzz_splitter: byte 0 picks the split type (bits 0-1), the mode (bits 2-3: plain, gzip
// bytes as given, the object gzipped here then inflated, plain), the record limit (bits 4-5)
// and the largest chunk (bits 6-7); byte 1 seeds the chunk sizes; the rest is the object.
// fuzz_recordio, fuzz_tfrecord (TANDEM_FUZZ_SPLIT_TYPE): the whole input is the object, so a
// RecordIO or TFRecord file is a seed as it is; the limit and chunk sizes come from a hash.
#include <zlib.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/transform/gzip.h"
#include "pipeline/transform/splitter.h"

namespace {

using tandem::transform::GzipInflater;
using tandem::transform::Record;
using tandem::transform::RecordSplitter;
using tandem::transform::SplitType;
using tandem::transform::Status;

void check(bool condition) {
  if (!condition) std::abort();
}

// Chunk sizes in [1, max_chunk], from a seed (splitmix64).
class ChunkSizes {
 public:
  ChunkSizes(std::uint64_t seed, std::size_t max_chunk) : state_(seed), max_chunk_(max_chunk) {}
  std::size_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return 1 + static_cast<std::size_t>(z % max_chunk_);
  }

 private:
  std::uint64_t state_;
  std::size_t max_chunk_;
};

struct Outcome {
  std::vector<Record> records;
  std::optional<std::string> error;
  std::string object;  // the bytes the splitter was fed (decompressed, with gzip)
};

// The message without the record's size, which a splitter can only state when the whole
// oversize record is in hand ("record 3 (byte offset 9): 70 bytes, larger than the limit" or
// "... : larger than the limit", depending on the chunks).
std::string without_size(std::string message) {
  const std::string marker = " bytes, larger than the limit";
  const auto at = message.find(marker);
  if (at == std::string::npos) return message;
  auto digits = at;
  while (digits > 0 && message[digits - 1] >= '0' && message[digits - 1] <= '9') --digits;
  message.erase(digits, at + std::strlen(" bytes, ") - digits);
  return message;
}

// Feeds `object` to a new splitter (through an inflater when `gzip`), in one chunk when
// `chunks` is null.
Outcome split(SplitType type, std::uint64_t limit, std::string_view object, bool gzip,
              ChunkSizes* chunks) {
  Outcome outcome;
  auto splitter = tandem::transform::make_splitter(type, limit);
  bool splitter_failed = false;
  auto take = [&](tandem::transform::Result<std::vector<Record>> records) -> Status {
    if (!records) {
      splitter_failed = true;
      return records.error();
    }
    for (auto& record : *records) outcome.records.push_back(std::move(record));
    return {};
  };
  auto feed_plain = [&](std::string_view piece) {
    outcome.object.append(piece);
    return take(splitter->feed(piece));
  };
  std::optional<GzipInflater> inflater;
  if (gzip) inflater.emplace();
  auto feed = [&](std::string_view chunk) {
    return inflater ? inflater->feed(chunk, feed_plain) : feed_plain(chunk);
  };

  Status status;
  while (status.ok() && !object.empty()) {
    const std::size_t size = chunks ? std::min(chunks->next(), object.size()) : object.size();
    status = feed(object.substr(0, size));
    object.remove_prefix(size);
  }
  if (status.ok() && inflater) status = inflater->finish();
  if (status.ok()) status = take(splitter->finish());
  if (!status.ok()) {
    outcome.error = status.error().message;
    // After an error, the splitter or inflater repeats it to every call.
    if (splitter_failed) {
      auto again = splitter->feed("x");
      check(!again.ok() && again.error().message == *outcome.error);
      auto at_end = splitter->finish();
      check(!at_end.ok() && at_end.error().message == *outcome.error);
    } else {
      const Status again = inflater->feed("x", feed_plain);
      check(!again.ok() && again.error().message == *outcome.error);
      const Status at_end = inflater->finish();
      check(!at_end.ok() && at_end.error().message == *outcome.error);
    }
  }
  return outcome;
}

// What every record of every split type promises about the object it came from.
void check_records(SplitType type, std::uint64_t limit, const Outcome& outcome) {
  const std::string_view object = outcome.object;
  std::uint64_t end_of_previous = 0;
  for (std::size_t i = 0; i < outcome.records.size(); ++i) {
    const Record& r = outcome.records[i];
    check(r.index == i);
    check(r.offset >= end_of_previous && r.offset <= object.size());
    check(object.substr(r.offset, r.framed.size()) == r.framed);
    check(r.content_begin + r.content_size <= r.framed.size());
    // Only empty lines may lie between Line records; nothing between the others.
    for (auto c : object.substr(end_of_previous, r.offset - end_of_previous)) {
      check(type == SplitType::line && (c == '\n' || c == '\r'));
    }
    end_of_previous = r.offset + r.framed.size();
    const std::string_view content = r.content();
    switch (type) {
      case SplitType::none:
        check(outcome.records.size() == 1 && r.framed == object && content == object);
        check(limit == 0 || r.framed.size() <= limit);
        break;
      case SplitType::line: {
        check(!content.empty() && content.find('\n') == std::string_view::npos);
        const auto lb = r.line_break();
        check(lb == "\n" || lb == "\r\n" || (lb.empty() && end_of_previous == object.size()));
        check(limit == 0 || r.framed.size() <= limit);
        break;
      }
      case SplitType::recordio:
        check(r.framed.size() >= 8 && r.framed.size() % 4 == 0 && r.single_record_sends_content);
        check(limit == 0 || content.size() <= limit);
        break;
      case SplitType::tfrecord:
        check(r.framed.size() == r.content_size + 16 && r.content_begin == 12);
        check(limit == 0 || content.size() <= limit);
        break;
    }
  }
  if (!outcome.error) {
    for (auto c : object.substr(end_of_previous)) {
      check(type == SplitType::line && (c == '\n' || c == '\r'));
    }
    if (type != SplitType::line) check(end_of_previous == object.size());
  }
}

bool same_record(const Record& a, const Record& b) {
  return a.index == b.index && a.offset == b.offset && a.framed == b.framed &&
         a.content() == b.content() &&
         a.single_record_sends_content == b.single_record_sends_content;
}

// `whole` was fed in one chunk, `pieces` in several. When the object fails, one chunk stops
// at the error with no records from that chunk, so its records are a prefix of the others.
void check_same(const Outcome& whole, const Outcome& pieces) {
  check(whole.error.has_value() == pieces.error.has_value());
  if (whole.error) {
    check(without_size(*whole.error) == without_size(*pieces.error));
    check(whole.records.size() <= pieces.records.size());
  } else {
    check(whole.records.size() == pieces.records.size());
  }
  for (std::size_t i = 0; i < whole.records.size(); ++i) {
    check(same_record(whole.records[i], pieces.records[i]));
  }
}

// `object` as gzip, in two members when `split_at` falls inside it (as `cat a.gz b.gz`).
std::string gzip(std::string_view object, std::size_t split_at) {
  std::string out;
  auto member = [&](std::string_view data) {
    z_stream z{};
    check(deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string buffer(deflateBound(&z, data.size()) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(buffer.data());
    z.avail_out = static_cast<uInt>(buffer.size());
    check(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.append(buffer.data(), buffer.size() - z.avail_out);
    deflateEnd(&z);
  };
  if (split_at > 0 && split_at < object.size()) {
    member(object.substr(0, split_at));
    member(object.substr(split_at));
  } else {
    member(object);
  }
  return out;
}

void run(SplitType type, std::uint64_t limit, std::string_view object, bool gzipped,
         ChunkSizes chunks) {
  const Outcome whole = split(type, limit, object, gzipped, nullptr);
  check_records(type, limit, whole);
  const Outcome pieces = split(type, limit, object, gzipped, &chunks);
  check_records(type, limit, pieces);
  if (gzipped) {
    // zlib may stop at a different byte of corrupt data when fed less of it at a time.
    check(whole.error.has_value() == pieces.error.has_value());
    const auto n = std::min(whole.records.size(), pieces.records.size());
    for (std::size_t i = 0; i < n; ++i) check(same_record(whole.records[i], pieces.records[i]));
  } else {
    check_same(whole, pieces);
  }
}

// The object compressed here, then inflated in chunks: exactly what splitting it plainly gives.
void run_round_trip(SplitType type, std::uint64_t limit, std::string_view object, ChunkSizes chunks,
                    std::size_t split_at) {
  const Outcome plain = split(type, limit, object, false, nullptr);
  const std::string compressed = gzip(object, split_at);
  const Outcome inflated = split(type, limit, compressed, true, &chunks);
  check_records(type, limit, inflated);
  if (object.empty()) {
    check(inflated.error.has_value() == false && inflated.records.empty());
    return;
  }
  check(inflated.object.size() <= object.size());
  check_same(plain, inflated);
}

constexpr std::array<std::uint64_t, 4> kLimits{0, 7, 64, 4096};
constexpr std::array<std::size_t, 4> kMaxChunks{1, 5, 64, 4096};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
#ifdef TANDEM_FUZZ_SPLIT_TYPE
  const std::string_view object(reinterpret_cast<const char*>(data), size);
  const std::uint64_t hash = std::hash<std::string_view>{}(object);
  const SplitType type = SplitType::TANDEM_FUZZ_SPLIT_TYPE;
  const std::uint64_t limit = kLimits[hash % kLimits.size()];
  const std::size_t max_chunk = kMaxChunks[(hash >> 2) % kMaxChunks.size()];
  run(type, 0, object, false, ChunkSizes(hash, max_chunk));
  if (limit != 0) run(type, limit, object, false, ChunkSizes(hash >> 8, max_chunk));
  run_round_trip(type, 0, object, ChunkSizes(hash >> 16, max_chunk), (hash >> 32) % (size + 1));
#else
  if (size < 2) return 0;
  const auto type = static_cast<SplitType>(data[0] & 3);
  const int mode = (data[0] >> 2) & 3;
  const std::uint64_t limit = kLimits[(data[0] >> 4) & 3];
  const ChunkSizes chunks(data[1], kMaxChunks[(data[0] >> 6) & 3]);
  const std::string_view object(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (mode == 2) {
    run_round_trip(type, limit, object, chunks, data[1] % (object.size() + 1));
  } else {
    run(type, limit, object, mode == 1, chunks);
  }
#endif
  return 0;
}
