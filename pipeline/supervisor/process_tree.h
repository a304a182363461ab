// A stage's process tree, as its shim sees it. The shim is the child subreaper
// (PR_SET_CHILD_SUBREAPER) of everything the stage starts: a descendant that leaves the
// stage's session and process group (setsid, a double-forking daemon) stays below the shim
// and re-parents to it when its own parent dies, so walking the shim's descendants finds it
// whatever it did with sessions and groups.
//
// These functions run in the shim, a fork of a possibly multi-threaded tandem: system calls
// only, no allocation. The tree is read from /proc/<pid>/stat (the parent of every process),
// which needs no kernel option and counts the children of every thread.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace tandem::supervisor::process_tree {

// The fields of a /proc/<pid>/stat line that place a process in the tree.
struct StatFields {
  char state = 0;  // 'R', 'S', 'Z'...
  pid_t ppid = 0;
  pid_t pgid = 0;
};

// Parses a /proc/<pid>/stat line: "42 (name) S 1 42 ...", where the name may hold spaces and
// parentheses. False when the line stops before the process group.
bool parse_stat(const char* text, std::size_t size, StatFields& out);

// Sends `sig` to every descendant of the calling process, except the members of process group
// `except_group` (0: none), which the caller signals as a group so that none gets it twice.
// Returns how many processes were signalled (zombies included). A process is signalled
// through a pidfd after checking that its parent is still in the tree, so a pid recycled
// meanwhile is never hit.
int signal_descendants(int sig, pid_t except_group);

}  // namespace tandem::supervisor::process_tree
