// silk::ChildProcess: the one way silk runs a child program (everything except a box's
// own clone path, which compat/ owns).
//
// Spawn() starts argv with its own environment, working directory and stdio (inherit,
// /dev/null, a pipe, or a given fd) and returns a ChildProcess that owns the child through
// a pidfd: waits poll the pidfd, signals go through pidfd_send_signal, reaping is
// waitid(P_PIDFD), so a recycled pid can never be hit. A ChildProcess that is destroyed
// before it was reaped kills the child (SIGKILL) and reaps it: no zombie and no running
// child outlives its owner. Stream()/Capture() read the child's stdout and stderr
// together (no deadlock when both exceed the pipe buffer) and, when a sink fails or the
// deadline passes, kill and reap the child before returning.
//
// Descriptor hygiene: the child gets exactly fds 0, 1, 2 and the `extra_fds` it was
// given; every other fd of the parent is closed in the child (close_range(2)) whether or
// not it has O_CLOEXEC. Environment and PATH lookup are the child's only: argv[0] without
// a '/' is searched in the PATH of the child's environment (kDefaultSearchPath if it has
// none); the parent's environment is never changed. Signal dispositions and the signal
// mask start at their defaults in the child.
//
// The child is made with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), as glibc's
// posix_spawn does: no page tables are copied, and the parent resumes once the child has
// called execve or failed. Between clone and execve the child only makes raw system calls
// (no allocation, no locks); an exec failure is reported to the parent through memory the
// two share until then, and the child _exits.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk {

// Where PATH lookup searches when the child's environment has no PATH.
inline constexpr const char kDefaultSearchPath[] =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The shell's statuses for a command that could not be run (POSIX sh, podman).
inline constexpr int kShellCannotExecute = 126;  // found, but execve failed (EACCES, ENOEXEC ...)
inline constexpr int kShellNotFound = 127;       // not found (ENOENT, ENOTDIR)
// The shell's status for an error of ChildProcess::Spawn(): 127 when the program was not
// found (kNotFound), 126 when it was found but could not be executed (kDenied); nullopt
// when the spawn itself failed (a bad cwd or fd, no memory, no processes left).
std::optional<int> ShellStatusForSpawnError(const Error& error);

// One of the child's standard streams.
struct Stdio {
  enum class Kind { kInherit, kNull, kPipe, kFd };
  Kind kind = Kind::kInherit;
  int fd = -1;  // kFd: the parent's fd the child gets (the caller keeps owning it)

  static Stdio Inherit() { return {Kind::kInherit, -1}; }
  static Stdio Null() { return {Kind::kNull, -1}; }
  static Stdio Pipe() { return {Kind::kPipe, -1}; }
  static Stdio Fd(int fd) { return {Kind::kFd, fd}; }
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program (searched in PATH if no '/')
  // The child's environment: the parent's (`environ`) unless `clear_env`, then `unset_env`
  // removed and `set_env` set (replacing a variable of the same name).
  bool clear_env = false;
  std::vector<std::string> unset_env;
  std::vector<std::pair<std::string, std::string>> set_env;
  std::string cwd;  // "" = the parent's working directory
  Stdio in = Stdio::Null();
  Stdio out = Stdio::Inherit();
  Stdio err = Stdio::Inherit();
  // Further fds the child gets: {parent fd, fd number in the child}. The caller keeps
  // owning the parent's fds.
  std::vector<std::pair<int, int>> extra_fds;
};

// How a child ended.
struct ExitStatus {
  int code = 0;    // exit code when it exited
  int signal = 0;  // the signal that killed it, 0 if it exited

  bool exited() const { return signal == 0; }
  bool success() const { return signal == 0 && code == 0; }
  // The shell's number: code, or 128 + signal.
  int ShellStatus() const { return signal != 0 ? 128 + signal : code; }
  // "exit status 3" or "killed by signal 9 (Killed)".
  std::string Describe() const;
};

using Deadline = std::chrono::steady_clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();

// Receives one chunk of a child's output. An error stops the stream: the child is killed
// and reaped, and the error is returned.
using OutputChunkSink = std::function<Result<void>(std::string_view)>;

struct CapturedOutput {
  ExitStatus status;
  std::string out;         // stdout (at most max_bytes)
  std::string err;         // stderr (at most max_bytes)
  bool truncated = false;  // more was written than max_bytes to one of them (and dropped)
};

class ChildProcess {
 public:
  // Starts the child. Errors (each naming argv[0], with errno where there is one):
  // kNotFound when argv[0] is not found (ENOENT/ENOTDIR; the message names the PATH
  // searched); kDenied when it was found but execve failed (EACCES, ENOEXEC, EISDIR ...);
  // kInvalidInput for an empty argv, a NUL in an argument or variable, a bad extra fd, or
  // a `cwd` the child cannot change to; kSystem when a pipe, /dev/null or clone failed.
  // A child that failed to exec has been reaped already. ShellStatusForSpawnError() turns
  // the error into the shell's 126/127.
  static Result<ChildProcess> Spawn(const SpawnOptions& options);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills (SIGKILL) and reaps a child that was not reaped yet.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  // The parent's ends of Stdio::Pipe() streams (invalid otherwise). The caller may write,
  // read, close or move them.
  UniqueFd& stdin_pipe() { return in_; }
  UniqueFd& stdout_pipe() { return out_; }
  UniqueFd& stderr_pipe() { return err_; }

  // Waits until the child exits (or `deadline`) and reaps it. Errors: kTimeout at the
  // deadline (the child keeps running; call Kill() or let the destructor do it); kSystem
  // if waiting failed (the destructor still kills and reaps it).
  Result<ExitStatus> Wait(Deadline deadline = kNoDeadline);
  // Sends `sig` (pidfd_send_signal). Errors: kSystem (ESRCH once reaped).
  Result<void> Signal(int sig);
  // SIGKILL and reap; returns how it ended (possibly on its own, before the signal).
  Result<ExitStatus> Kill();

  // Reads the stdout and stderr pipes (those that are Stdio::Pipe()) until both reach end
  // of file, passing each chunk to its sink (a null sink drops it), then waits for the
  // child. At `deadline`, or when a sink fails, or reading fails, the child is killed and
  // reaped and the error returned (kTimeout for the deadline, naming argv[0]).
  Result<ExitStatus> Stream(const OutputChunkSink& out, const OutputChunkSink& err,
                            Deadline deadline = kNoDeadline);
  // Stream() into strings of at most `max_bytes` each (the rest is read and dropped).
  Result<CapturedOutput> Capture(Deadline deadline = kNoDeadline,
                                 size_t max_bytes = size_t{64} << 20);

 private:
  ChildProcess() = default;
  void KillAndReap() noexcept;

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::string name_;  // argv[0], for messages
  UniqueFd in_, out_, err_;
};

// Spawns `options` with stdout and stderr as pipes and captures both (Capture()).
// Errors: Spawn()'s and Capture()'s.
Result<CapturedOutput> RunAndCapture(SpawnOptions options, Deadline deadline = kNoDeadline);

}  // namespace silk
