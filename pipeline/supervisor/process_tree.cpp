#include "pipeline/supervisor/process_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace tandem::supervisor::process_tree {

namespace {

struct Process {
  pid_t pid;
  pid_t ppid;
  bool below;  // a descendant of the walking process
};

// The processes one walk reads (the whole pid namespace's, in a static table since nothing
// may be allocated). A machine with more than this many processes at once is not one tandem
// runs on; beyond it, the rest are not seen.
constexpr int max_processes = 1 << 17;
Process processes[max_processes];

// Decimal digits only, as in /proc's entries; 0 for anything else.
pid_t parse_pid(const char* name) {
  pid_t pid = 0;
  for (; *name; ++name) {
    if (*name < '0' || *name > '9' || pid > 100'000'000) return 0;
    pid = pid * 10 + (*name - '0');
  }
  return pid;
}

// "/proc/<pid>/stat", written without the stdio functions a forked child must not call.
void stat_path(pid_t pid, char (&path)[32]) {
  char digits[16];
  int n = 0;
  do digits[n++] = static_cast<char>('0' + pid % 10);
  while ((pid /= 10) > 0);
  char* out = path;
  for (const char c : {'/', 'p', 'r', 'o', 'c', '/'}) *out++ = c;
  while (n > 0) *out++ = digits[--n];
  for (const char c : {'/', 's', 't', 'a', 't', '\0'}) *out++ = c;
}

bool read_stat(pid_t pid, StatFields& out) {
  char path[32];
  stat_path(pid, path);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[512];  // the fields wanted come right after the name, at most 64 bytes
  ssize_t n;
  do n = read(fd, text, sizeof text);
  while (n < 0 && errno == EINTR);
  close(fd);
  return n > 0 && parse_stat(text, static_cast<std::size_t>(n), out);
}

// Reads every process's parent into `processes`; returns how many.
int read_processes() {
  const int dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  int count = 0;
  alignas(dirent64) char buffer[8192];
  for (;;) {
    const ssize_t got = getdents64(dir, buffer, sizeof buffer);
    if (got <= 0) break;
    for (ssize_t at = 0; at < got;) {
      const auto* entry = reinterpret_cast<const dirent64*>(buffer + at);
      at += entry->d_reclen;
      const pid_t pid = parse_pid(entry->d_name);
      StatFields fields;
      if (pid <= 0 || count == max_processes || !read_stat(pid, fields)) continue;
      processes[count++] = {pid, fields.ppid, false};
    }
  }
  close(dir);
  return count;
}

// The first `count` processes, sorted by pid, and the walk's root.
struct Tree {
  Process* begin;
  Process* end;
  pid_t root;

  // `pid` is the root or one of its descendants found so far.
  bool below(pid_t pid) const {
    if (pid == root) return true;
    const Process* p =
        std::lower_bound(begin, end, pid, [](const Process& a, pid_t b) { return a.pid < b; });
    return p != end && p->pid == pid && p->below;
  }

  void mark_descendants() {
    // Parents usually have lower pids than their children, so one pass nearly always finds
    // all; pids that wrapped around need another.
    for (bool grew = true; grew;) {
      grew = false;
      for (Process* p = begin; p != end; ++p) {
        if (!p->below && below(p->ppid)) p->below = grew = true;
      }
    }
  }
};

// Signals `process` through a pidfd, once its parent is known to be still in the tree (its
// parent may have died meanwhile, and the root or a subreaper below it adopted it): after
// pidfd_open the pidfd names one process for good, so a pid recycled meanwhile is never hit.
bool signal_if_still_below(const Tree& tree, const Process& process, int sig, pid_t except_group) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, process.pid, 0));
  if (pidfd < 0) return false;
  StatFields now;
  bool signalled = read_stat(process.pid, now) && tree.below(now.ppid) &&
                   (except_group == 0 || now.pgid != except_group);
  if (signalled) signalled = syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0;
  close(pidfd);
  return signalled;
}

}  // namespace

bool parse_stat(const char* text, std::size_t size, StatFields& out) {
  std::size_t at = size;
  while (at > 0 && text[at - 1] != ')') --at;  // the name ends at the last ')'
  if (at == 0 || at + 2 >= size || text[at] != ' ') return false;
  out.state = text[at + 1];
  at += 2;
  // Two numbers, each after a space and ended by one (a number at the end may be cut short).
  auto number = [&](pid_t& value) {
    if (at >= size || text[at] != ' ') return false;
    value = 0;
    std::size_t digits = 0;
    for (++at; at < size && text[at] >= '0' && text[at] <= '9' && digits < 10; ++at, ++digits)
      value = value * 10 + (text[at] - '0');
    return digits > 0 && at < size && text[at] == ' ';
  };
  return number(out.ppid) && number(out.pgid);
}

int signal_descendants(int sig, pid_t except_group) {
  Tree tree{processes, processes + read_processes(), getpid()};
  std::sort(tree.begin, tree.end, [](const Process& a, const Process& b) { return a.pid < b.pid; });
  tree.mark_descendants();
  int signalled = 0;
  for (const Process* p = tree.begin; p != tree.end; ++p) {
    if (p->below && signal_if_still_below(tree, *p, sig, except_group)) ++signalled;
  }
  return signalled;
}

}  // namespace tandem::supervisor::process_tree
