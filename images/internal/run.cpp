#include "images/internal/run.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"

extern char** environ;

namespace silk::images::internal {
namespace {

bool InPath(const std::string& prog) {
  if (prog.find('/') != std::string::npos) return ::access(prog.c_str(), X_OK) == 0;
  const char* path = ::getenv("PATH");
  for (const auto& dir : Split(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin", ':')) {
    if (!dir.empty() && ::access((dir + "/" + prog).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string Tail(const std::string& s, size_t max_lines) {
  auto lines = Split(Trim(s), '\n');
  if (lines.size() > max_lines)
    lines.erase(lines.begin(), lines.end() - static_cast<long>(max_lines));
  return Join(lines, "\n");
}

}  // namespace

Result<RunOutput> Run(const std::vector<std::string>& argv, const std::string& package,
                      const std::string& cwd) {
  if (argv.empty()) return Fail(ErrorCode::kInternal, "Run: empty argv");
  if (!InPath(argv[0]))
    return Fail(ErrorCode::kNotFound,
                argv[0] + " is not installed (Debian package " + package + "; run ci/setup)");
  std::string cmd = Join(argv, " ");

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return FailErrno("pipe for " + cmd);
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return FailErrno("pipe for " + cmd);
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  // Everything the child needs is built before posix_spawn (no allocation after fork).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "LC_ALL=", 7) != 0 && std::strncmp(*e, "LANG=", 5) != 0)
      env_strings.emplace_back(*e);
  }
  env_strings.emplace_back("LC_ALL=C");
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), STDERR_FILENO);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return FailErrno("cannot run " + cmd, rc);
  out_w.Reset();
  err_w.Reset();

  RunOutput result;
  pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_count = 2;
  char buf[65536];
  while (open_count > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
      } else {
        sinks[i]->append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return FailErrno("waitpid for " + cmd);
  }
  if (WIFSIGNALED(status))
    return Fail(ErrorCode::kSystem,
                cmd + " was killed by signal " + std::to_string(WTERMSIG(status)));
  if (WEXITSTATUS(status) != 0) {
    std::string tail = Tail(result.err.empty() ? result.out : result.err, 5);
    return Fail(ErrorCode::kSystem, cmd + " failed with exit status " +
                                        std::to_string(WEXITSTATUS(status)) +
                                        (tail.empty() ? "" : ":\n" + tail));
  }
  return result;
}

}  // namespace silk::images::internal
