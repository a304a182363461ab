// Reading one input object of a transform job: its bytes from the store, inflated (Gzip),
// split into records (or passed through unsplit), filtered (InputFilter) and batched, each
// mini-batch handed to a ReadSink; or, with MaxPayloadInMB 0, streamed as one request. Runs
// on the job's reader thread and blocks (store reads, waiting for a free slot).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/batch/chunk_stream.h"
#include "pipeline/batch/failure.h"
#include "pipeline/batch/inputs.h"
#include "pipeline/transform/batcher.h"
#include "pipeline/transform/data_processing.h"
#include "pipeline/transform/gzip.h"
#include "pipeline/transform/splitter.h"
#include "tandem/proto/result.h"

namespace tandem::batch {

// What the job's parameters say about reading; the processor must outlive the readers.
struct ReadSettings {
  transform::SplitType split_type = transform::SplitType::none;
  transform::CompressionType compression = transform::CompressionType::none;
  transform::ReadingPlan reading;
  transform::BatchStrategy batch_strategy = transform::BatchStrategy::multi_record;
  std::uint64_t payload_limit = 0;  // bytes; 0: no limit
  const transform::DataProcessor* processor = nullptr;
};

// Where one object's requests go (JobRunner's, or a test's recording sink). Called on the
// reader thread.
class ReadSink {
 public:
  virtual ~ReadSink() = default;
  // Nothing more of the object is wanted: an earlier request of it failed, or the job is
  // stopping.
  virtual bool abandoned() const = 0;
  // The job is stopping (a streamed request's pushes give up on it).
  virtual const std::atomic<bool>& stopping() const = 0;
  // Counted as they are read: records split and bytes of the object as stored.
  virtual void records_read(std::uint64_t count) = 0;
  virtual void bytes_read(std::uint64_t count) = 0;
  // A mini-batch; waits for a free slot. False: abandoned, read no further.
  virtual bool submit(transform::Batch batch) = 0;
  // The object as one streamed request, starting at this record; its body is pushed to the
  // returned stream. nullptr: abandoned.
  virtual std::shared_ptr<ChunkStream> start_stream(std::uint64_t first_record_index,
                                                    std::uint64_t first_offset) = 0;
  // The streamed request's input is over: `counts` holds its records (not its bytes),
  // `complete` says whether the whole object was sent, `failure` why it could not be. The sink
  // closes the stream.
  virtual void end_stream(transform::Batch counts, bool complete,
                          std::optional<std::string> failure) = 0;
};

// Reads one object into its sink. It stops, quietly, as soon as the sink has abandoned the
// object or the streamed request is over, checking between any two pieces of input (a read
// chunk, an inflated piece); an error in the input (InputError) or the store (StorageError)
// is the object's failure. Lives for one object.
class ObjectReader {
 public:
  static constexpr std::size_t kReadChunkBytes = 1024 * 1024;

  ObjectReader(const ReadSettings& settings, const InputObject& input, ReadSink& sink);
  // Whatever stopped the reading, a streamed request is ended.
  ~ObjectReader() { end_stream(false, "reading the object failed"); }
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;

  // Success also when the object was abandoned: the failure is then another's to report.
  tandem::Status<ObjectFailure> read();

 private:
  transform::Status split(std::string_view bytes);
  transform::Status split_end();
  transform::Status take(transform::Result<std::vector<transform::Record>> records);
  transform::Status passed(std::uint64_t records_before);
  bool stream_record(const transform::Record& record);
  bool start_stream(std::uint64_t first_index, std::uint64_t first_offset);
  bool send_piece();
  void end_stream(bool complete, std::optional<std::string> failure);
  bool moot() const;
  transform::Status abandon();
  tandem::Status<ObjectFailure> input_failure(const transform::Error& error);

  const ReadSettings& settings_;
  const InputObject& input_;
  ReadSink& sink_;
  std::unique_ptr<transform::RecordSplitter> splitter_;
  std::optional<transform::PassThroughSplitter> pass_through_;
  transform::Batcher batcher_;
  std::optional<transform::GzipInflater> inflater_;
  bool abandoned_ = false;  // the sink abandoned the object or the stream is over
  // MaxPayloadInMB 0 with MultiRecord or SplitType None: the object as one streamed request.
  std::shared_ptr<ChunkStream> stream_;
  std::string piece_;        // its next piece, sent at kReadChunkBytes
  transform::Batch counts_;  // its records, handed over at the end
  bool stream_ended_ = false;
};

}  // namespace tandem::batch
