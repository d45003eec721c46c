// The box's stdin, stdout and stderr are pipes that the supervisor relays to and from
// the caller's descriptors, as conmon does: no descriptor of the caller ever enters the
// box, so no /proc/self/fd/N magic link in the box can reopen a caller's file (escape:
// a read-only stdin reopened for writing) or walk out of a caller's directory (escape:
// a directory on stdin gave the host's filesystem).
//
// Bounded: at most kBufferBytes wait per stream in the supervisor; past that it stops
// reading, and the box's writes block in its own pipe (its memory, not the supervisor's).
// Writes to the caller are at most PIPE_BUF bytes after POLLOUT, so a slow reader never
// blocks the supervisor. A caller who stops reading (EPIPE) loses the rest of the output;
// the box does not block on it.
#pragma once

#include <poll.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

class StdioRelay {
 public:
  static constexpr size_t kBufferBytes = 64 * 1024;

  // `caller[i]`: the caller's descriptor for the box's fd i; -1 = none (the box reads
  // EOF; its output is dropped). A directory or block device is refused: it is not a
  // stream (kInvalidInput naming the descriptor).
  static Result<StdioRelay> Create(const int caller[3]);
  // For a command on a terminal (`silk box exec -t`): the caller's input goes to the
  // pty's `master`, and what the master gives goes to `caller_out` (the command's stdout
  // and stderr are the one terminal). No box ends: the command gets the pty's slave.
  static Result<StdioRelay> CreateTerminal(int caller_in, int caller_out, UniqueFd master);

  StdioRelay(StdioRelay&&) noexcept = default;
  StdioRelay& operator=(StdioRelay&&) noexcept = default;
  ~StdioRelay();

  // The box's ends (>= 3, CLOEXEC), which its child dup2()s onto 0, 1, 2; close them in
  // the supervisor once the box is cloned.
  int box_end(int i) const { return streams_[i].box_end.get(); }
  void CloseBoxEnds();

  // Output to regular files (a named box's log) stops after `bytes` in all: the box's
  // pipes are still drained, the rest is dropped and counted, so a box cannot fill the
  // file system its log is on (/run is RAM).
  void LimitFileOutput(uint64_t bytes) { file_limit_ = bytes; }
  // Bytes dropped for that limit.
  uint64_t dropped() const { return dropped_; }

  // Appends the descriptors to poll now; Handle() then takes the same vector back, from
  // index `first` (where AddPollFds started).
  void AddPollFds(std::vector<pollfd>& fds);
  void Handle(const std::vector<pollfd>& fds, size_t first);
  // After the box's init exited: relays what its pipes still hold until they reach EOF
  // (every box process is gone, so that comes at once) or `deadline` passes.
  void Drain(std::chrono::steady_clock::time_point deadline);
  // The box's end of stdin closes (it reads EOF) and nothing more is read from the
  // caller's: its reader is gone.
  void EndInput() { Finish(streams_[0]); }
  // Whether every stream is finished (AddPollFds would add nothing).
  bool Done() const;

 private:
  struct Stream {
    bool to_box = false;  // stdin: caller -> box
    int caller = -1;      // not owned
    UniqueFd ours;        // our end of the box's pipe
    UniqueFd box_end;     // the box's end, until CloseBoxEnds
    std::string buf;
    bool src_done = false;     // EOF or error reading the source
    bool dst_dead = false;     // the destination is gone: discard
    bool dst_regular = false;  // output to a regular file (memfd, log)
    int src() const { return to_box ? caller : ours.get(); }
    int dst() const { return to_box ? ours.get() : caller; }
    bool Done() const { return src_done && (buf.empty() || dst_dead); }
  };
  StdioRelay() = default;
  void Read(Stream& s);
  void Write(Stream& s);
  void DstGone(Stream& s);
  void Finish(Stream& s);
  Stream streams_[3];
  // Slots of the last AddPollFds: which stream and whether source (else destination).
  std::vector<std::pair<int, bool>> slots_;
  bool sigpipe_blocked_ = false;
  uint64_t file_limit_ = 0;  // 0: none
  uint64_t file_written_ = 0, dropped_ = 0;
};

}  // namespace silk::compat::internal
