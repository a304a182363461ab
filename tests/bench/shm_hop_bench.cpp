// One shared-memory hop in isolation (Google Benchmark), between this process and a forked
// stage process that answers each request with its body, through the real ring (shm_ring.h):
//   BM_PipeHandshake  tandem's wake-ups (layout version 2): a pipe each way, written only
//                     to a side that said it sleeps (waited for with poll, as tandem's loop
//                     waits with epoll);
//   BM_EventfdPipe    version 1's: an eventfd there, a pipe back, written every time;
//   BM_FutexSpin      the alternative: spin briefly, then futex-wait, on a word in the
//                     segment.
// They are what docs/shm.md's choice of wake-up rests on.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <optional>
#include <string>

#include "tandem/proto/shm_segment.h"

namespace {

namespace shm = tandem::proto::shm;

// The raw ring in a shared anonymous mapping, a child process answering every slot-0 request
// with its own body.
struct RawRing {
  explicit RawRing(std::size_t size)
      : layout(
            shm::layout_of({.slot_count = 1, .request_capacity = size, .response_capacity = size})),
        memory(mmap(nullptr, layout.segment_size, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0)),
        ring(shm::Ring::initialize(
            memory, layout.segment_size,
            {.slot_count = 1, .request_capacity = size, .response_capacity = size})) {}
  ~RawRing() { munmap(memory, layout.segment_size); }
  void answer() {
    ring.take(0);
    const auto request = ring.read_request(0);
    ring.complete(0, shm::ResponseView{.status = 200, .body = request.body});
  }
  shm::Layout layout;
  void* memory;
  shm::Ring ring;
};

// Waits on `fd` the way both sides of the transport do: say `side` sleeps, look once more
// with `ready`, then poll, drain, and say it is awake.
template <typename Ready>
void sleep_until(shm::Ring& ring, shm::Ring::Side side, int fd, Ready ready) {
  while (!ready()) {
    ring.announce_sleep(side);
    if (!ready()) {
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, -1);
      char drain[64];
      if (read(fd, drain, sizeof drain) == 0) _exit(0);
    }
    ring.retract_sleep(side);
  }
}

void BM_PipeHandshake(benchmark::State& state) {
  const std::string body(static_cast<std::size_t>(state.range(0)), 'x');
  RawRing raw(body.size());
  int there[2], back[2];
  if (pipe2(there, O_NONBLOCK) != 0 || pipe2(back, O_NONBLOCK) != 0)
    return state.SkipWithError("pipe");
  const pid_t stage = fork();
  if (stage == 0) {
    for (;;) {
      sleep_until(raw.ring, shm::Ring::Side::stage, there[0], [&] { return raw.ring.take(0); });
      const auto request = raw.ring.read_request(0);
      raw.ring.complete(0, shm::ResponseView{.status = 200, .body = request.body});
      const char byte = 1;
      if (raw.ring.needs_wake(shm::Ring::Side::tandem) && write(back[1], &byte, 1) < 0 &&
          errno != EAGAIN)
        _exit(0);
    }
  }
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    raw.ring.submit(0, ++sequence, {.body = body});
    const char byte = 1;
    if (raw.ring.needs_wake(shm::Ring::Side::stage))
      benchmark::DoNotOptimize(write(there[1], &byte, 1));
    std::optional<shm::Completion> done;
    sleep_until(raw.ring, shm::Ring::Side::tandem, back[0],
                [&] { return (done = raw.ring.collect(0, sequence)).has_value(); });
    benchmark::DoNotOptimize(done->response.body.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0) * 2);
  kill(stage, SIGKILL);
  waitpid(stage, nullptr, 0);
  for (const int fd : {there[0], there[1], back[0], back[1]}) close(fd);
}

void BM_EventfdPipe(benchmark::State& state) {
  const std::string body(static_cast<std::size_t>(state.range(0)), 'x');
  RawRing raw(body.size());
  const int submit = eventfd(0, 0);
  int back[2];
  if (pipe(back) != 0) return state.SkipWithError("pipe");
  const pid_t stage = fork();
  if (stage == 0) {
    for (;;) {
      std::uint64_t n;
      if (read(submit, &n, sizeof n) != sizeof n) _exit(0);
      raw.answer();
      const char byte = 1;
      if (write(back[1], &byte, 1) != 1) _exit(0);
    }
  }
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    raw.ring.submit(0, ++sequence, {.body = body});
    const std::uint64_t one = 1;
    benchmark::DoNotOptimize(write(submit, &one, sizeof one));
    std::optional<shm::Completion> done;
    while (!(done = raw.ring.collect(0, sequence))) {
      pollfd p{back[0], POLLIN, 0};
      poll(&p, 1, -1);  // tandem's loop waits like this (epoll) before reading the pipe
      char drain[16];
      benchmark::DoNotOptimize(read(back[0], drain, sizeof drain));
    }
    benchmark::DoNotOptimize(done->response.body.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0) * 2);
  kill(stage, SIGKILL);
  waitpid(stage, nullptr, 0);
  close(submit);
  close(back[0]);
  close(back[1]);
}

long futex(std::uint32_t* word, int op, std::uint32_t value) {
  return syscall(SYS_futex, word, op, value, nullptr, nullptr, 0);
}

// Waits until `word` differs from `seen`: spins `spins` times, then sleeps on the futex.
void await_change(std::uint32_t* word, std::uint32_t seen, int spins) {
  std::atomic_ref<std::uint32_t> value(*word);
  for (int i = 0; i < spins; ++i)
    if (value.load(std::memory_order_acquire) != seen) return;
  while (value.load(std::memory_order_acquire) == seen) futex(word, FUTEX_WAIT, seen);
}

void BM_FutexSpin(benchmark::State& state) {
  const std::string body(static_cast<std::size_t>(state.range(0)), 'x');
  const int spins = static_cast<int>(state.range(1));
  RawRing raw(body.size());
  // Two counters in the segment's spare control bytes: requests posted, answers posted.
  auto* words = reinterpret_cast<std::uint32_t*>(static_cast<char*>(raw.memory) + 1024);
  const pid_t stage = fork();
  if (stage == 0) {
    std::uint32_t seen = 0;
    for (;;) {
      await_change(&words[0], seen, spins);
      seen = std::atomic_ref<std::uint32_t>(words[0]).load();
      raw.answer();
      std::atomic_ref<std::uint32_t>(words[1]).fetch_add(1, std::memory_order_release);
      futex(&words[1], FUTEX_WAKE, 1);
    }
  }
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    raw.ring.submit(0, ++sequence, {.body = body});
    const auto answers = std::atomic_ref<std::uint32_t>(words[1]).load();
    std::atomic_ref<std::uint32_t>(words[0]).fetch_add(1, std::memory_order_release);
    futex(&words[0], FUTEX_WAKE, 1);
    await_change(&words[1], answers, spins);
    auto done = raw.ring.collect(0, sequence);
    benchmark::DoNotOptimize(done);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0) * 2);
  kill(stage, SIGKILL);
  waitpid(stage, nullptr, 0);
}

}  // namespace

BENCHMARK(BM_PipeHandshake)->Arg(1024)->Arg(64 * 1024)->UseRealTime();
BENCHMARK(BM_EventfdPipe)->Arg(1024)->Arg(64 * 1024)->UseRealTime();
BENCHMARK(BM_FutexSpin)->Args({1024, 0})->Args({1024, 2000})->Args({64 * 1024, 0})->UseRealTime();

BENCHMARK_MAIN();
