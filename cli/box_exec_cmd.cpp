// `silk box exec`: a command in a running named box (compat/box_exec.hpp), as `crun exec`
// and `docker exec` do. Its stdin, stdout and stderr are this command's (relayed by the
// box's supervisor), its exit status is this command's, and SIGINT, SIGTERM, SIGHUP,
// SIGQUIT, SIGUSR1 and SIGUSR2 sent to this command are passed on to it. With -t the
// command runs on a new pty (our terminal in raw mode meanwhile, its size passed on).
#include "cli/box_exec_cmd.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "base/unique_fd.hpp"
#include "compat/box_exec.hpp"

namespace silk::cli {
namespace {

// The caller's terminal in raw mode for as long as the object lives.
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

}  // namespace

int BoxExec(const Args& all) {
  auto [args, command] = SplitAtDoubleDash(all);
  Output out("silk box exec");
  po::options_description opts("Options");
  po::positional_options_description pos;
  std::string name, state_dir, cwd;
  std::vector<std::string> env;
  bool tty = false;
  opts.add_options()("name", po::value(&name)->required(), "the box's name")(
      "env,e", po::value(&env)->composing(),
      "NAME=VALUE in the command's environment (repeatable; replaces the box's NAME)")(
      "cwd", po::value(&cwd), "working directory in the box (default: the box's)")(
      "tty,t", po::bool_switch(&tty),
      "run CMD on a new terminal (interactive shells: `silk box exec NAME -t -- sh`)")(
      "state-dir", po::value(&state_dir), "state root (default /run/silk/boxes as root)");
  pos.add("name", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk box exec NAME [options] -- CMD [ARGS...]",
          "Runs CMD in the running box NAME: in its namespaces and cgroups, with its ids,\n"
          "capabilities and seccomp filter (its denials count in the box's), with the box's\n"
          "environment. CMD's stdin, stdout and stderr are this command's, relayed by the\n"
          "box's supervisor; the exit status is CMD's (128+N when a signal N killed it,\n"
          "127 when it is not found in the box). Signals to this command go to CMD.",
          opts, pos, args, vm, out))
    return *rc;
  if (command.empty()) return out.Usage("no command: give one after '--'");
  if (!cwd.empty() && cwd[0] != '/')
    return out.Usage("--cwd " + cwd + ": the working directory must be absolute", "--cwd");
  for (const auto& e : env)
    if (e.find('=') == std::string::npos || e[0] == '=')
      return out.Usage("--env " + e + ": give NAME=VALUE", "--env");

  sigset_t pass;
  sigemptyset(&pass);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&pass, s);
  if (tty) sigaddset(&pass, SIGWINCH);
  sigprocmask(SIG_BLOCK, &pass, nullptr);
  UniqueFd sfd(signalfd(-1, &pass, SFD_CLOEXEC));

  compat::ExecRequest req;
  req.argv = command;
  req.env = env;
  req.cwd = cwd;
  req.tty = tty;
  std::optional<RawTerminal> raw;
  if (tty) {
    winsize ws{};
    if (ioctl(1, TIOCGWINSZ, &ws) == 0) {
      req.rows = ws.ws_row;
      req.cols = ws.ws_col;
    }
    // Keys go to the box's terminal as typed (^C included: it is the box's to handle).
    if (isatty(0)) raw.emplace(0);
  }
  const int stdio[3] = {0, 1, 2};
  auto outcome = compat::ExecInBox(state_dir, name, req, stdio, sfd.get());
  raw.reset();
  if (!outcome) return out.Fail(outcome.error());
  if (!outcome->exec_failure.empty())
    std::cerr << "silk: box exec: " << outcome->exec_failure << "\n";
  return outcome->exit_status;
}

}  // namespace silk::cli
