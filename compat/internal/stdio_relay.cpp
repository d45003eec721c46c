#include "compat/internal/stdio_relay.hpp"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace silk::compat::internal {
namespace {

const char* const kNames[3] = {"stdin", "stdout", "stderr"};

// A pipe end at fd 3 or above (the child dup2()s the three onto 0..2 in order: a low
// source would be overwritten first), CLOEXEC.
Result<UniqueFd> High(int fd) {
  UniqueFd in(fd);
  if (fd >= 3) return in;
  UniqueFd out(fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!out) return FailErrno("moving a box pipe above fd 2");
  return out;
}

// Takes a SIGPIPE our own write raised (blocked on this thread) so it is never delivered.
void ConsumeSigpipe() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  timespec zero{};
  while (sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
  }
}

}  // namespace

Result<StdioRelay> StdioRelay::Create(const int caller[3]) {
  StdioRelay r;
  for (int i = 0; i < 3; ++i) {
    Stream& s = r.streams_[i];
    s.to_box = i == 0;
    struct stat st {};
    if (caller[i] >= 0 && fstat(caller[i], &st) == 0) {
      if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
        return Fail(ErrorCode::kInvalidInput,
                    std::string("the box's ") + kNames[i] + " (fd " + std::to_string(caller[i]) +
                        ") is a " + (S_ISDIR(st.st_mode) ? "directory" : "block device") +
                        ", not a stream; give a file, pipe, socket or terminal (or </dev/null)");
      s.caller = caller[i];
      s.dst_regular = !s.to_box && S_ISREG(st.st_mode);
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return FailErrno(std::string("pipe for the box's ") + kNames[i]);
    UniqueFd read_end(p[0]), write_end(p[1]);
    s.ours = SILK_TRY(High(s.to_box ? write_end.Release() : read_end.Release()));
    s.box_end = SILK_TRY(High(s.to_box ? read_end.Release() : write_end.Release()));
    if (fcntl(s.ours.get(), F_SETFL, O_NONBLOCK) != 0)
      return FailErrno("making the box's pipe non-blocking");
    if (s.caller < 0) {
      s.src_done = s.to_box;   // no stdin: EOF at once
      s.dst_dead = !s.to_box;  // no output fd: drop
    }
  }
  // Our writes to a caller who stopped reading must fail with EPIPE, not kill us.
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  r.sigpipe_blocked_ = !sigismember(&old, SIGPIPE);
  return r;
}

Result<StdioRelay> StdioRelay::CreateTerminal(int caller_in, int caller_out, UniqueFd master) {
  const int none[3] = {-1, -1, -1};
  StdioRelay r = SILK_TRY(Create(none));
  for (auto& s : r.streams_) {
    s.box_end.Reset();
    s.ours.Reset();
  }
  if (fcntl(master.get(), F_SETFL, O_NONBLOCK) != 0)
    return FailErrno("making the terminal non-blocking");
  Stream& in = r.streams_[0];
  in.caller = caller_in;
  in.src_done = caller_in < 0;
  in.ours = SILK_TRY(High(fcntl(master.get(), F_DUPFD_CLOEXEC, 3)));
  Stream& out = r.streams_[1];
  out.caller = caller_out;
  out.src_done = false;
  out.dst_dead = caller_out < 0;
  out.ours = SILK_TRY(High(master.Release()));
  r.streams_[2].src_done = true;
  r.streams_[2].dst_dead = true;
  return r;
}

StdioRelay::~StdioRelay() {
  if (sigpipe_blocked_) {
    ConsumeSigpipe();
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &pipe, nullptr);
  }
}

void StdioRelay::CloseBoxEnds() {
  for (auto& s : streams_) s.box_end.Reset();
  // No stdin to relay: the box reads EOF.
  if (streams_[0].src_done && streams_[0].buf.empty()) streams_[0].ours.Reset();
}

void StdioRelay::AddPollFds(std::vector<pollfd>& fds) {
  slots_.clear();
  for (int i = 0; i < 3; ++i) {
    Stream& s = streams_[i];
    if (!s.ours) continue;
    if (!s.src_done && s.buf.size() < kBufferBytes) {
      fds.push_back({s.src(), POLLIN, 0});
      slots_.push_back({i, true});
    }
    if (!s.buf.empty() && !s.dst_dead) {
      fds.push_back({s.dst(), POLLOUT, 0});
      slots_.push_back({i, false});
    }
  }
}

void StdioRelay::Handle(const std::vector<pollfd>& fds, size_t first) {
  for (size_t k = 0; k < slots_.size() && first + k < fds.size(); ++k) {
    const short re = fds[first + k].revents;
    if (!re) continue;
    Stream& s = streams_[slots_[k].first];
    if (!s.ours) continue;
    if (slots_[k].second) {
      Read(s);
    } else if (re & (POLLERR | POLLNVAL)) {
      DstGone(s);
    } else {
      Write(s);
    }
    if (s.Done()) Finish(s);
  }
}

void StdioRelay::Read(Stream& s) {
  char chunk[16384];
  size_t room = kBufferBytes - s.buf.size();
  ssize_t n = read(s.src(), chunk, std::min(room, sizeof chunk));
  if (n > 0) {
    if (!s.dst_dead)
      s.buf.append(chunk, static_cast<size_t>(n));
    else if (s.dst_regular)
      dropped_ += static_cast<uint64_t>(n);
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  s.src_done = true;  // EOF, or the source failed (then it is as good as ended)
}

void StdioRelay::Write(Stream& s) {
  // At most PIPE_BUF after POLLOUT: a pipe then takes it without blocking (a regular
  // file never blocks for long: all of it).
  size_t len = s.dst_regular ? s.buf.size() : std::min<size_t>(s.buf.size(), PIPE_BUF);
  if (s.dst_regular && file_limit_ != 0 && file_written_ + len >= file_limit_) {
    len = static_cast<size_t>(file_limit_ - file_written_);
    if (len == 0) {  // the budget is spent: drop from now on
      dropped_ += s.buf.size();
      DstGone(s);
      return;
    }
  }
  ssize_t n = write(s.dst(), s.buf.data(), len);
  if (n > 0) {
    if (s.dst_regular) file_written_ += static_cast<uint64_t>(n);
    s.buf.erase(0, static_cast<size_t>(n));
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0 && errno == EPIPE) ConsumeSigpipe();
  DstGone(s);
}

void StdioRelay::DstGone(Stream& s) {
  s.dst_dead = true;
  s.buf.clear();
  // The box closed its stdin: stop reading the caller's.
  if (s.to_box) s.src_done = true;
}

void StdioRelay::Finish(Stream& s) {
  s.buf.clear();
  s.ours.Reset();  // stdin: the box reads EOF; output: nothing more comes
}

bool StdioRelay::Done() const {
  for (const auto& s : streams_) {
    if (!s.ours) continue;
    if (!s.src_done && s.buf.size() < kBufferBytes) return false;
    if (!s.buf.empty() && !s.dst_dead) return false;
  }
  return true;
}

void StdioRelay::Drain(std::chrono::steady_clock::time_point deadline) {
  // The box is gone: its stdin needs nothing more.
  EndInput();
  for (;;) {
    std::vector<pollfd> fds;
    AddPollFds(fds);
    if (fds.empty()) return;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    int rc = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) return;
    if (rc > 0) Handle(fds, 0);
  }
}

}  // namespace silk::compat::internal
