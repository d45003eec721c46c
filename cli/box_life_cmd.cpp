// Named boxes that live (compat/box_lifecycle.hpp), the OCI runtime verbs:
//   silk box create NAME [spec options] [--start] -- CMD   a box with its own supervisor
//   silk box start NAME | kill NAME [SIGNAL] | stop NAME [--timeout S] | delete NAME
//   silk box list | state NAME
// `create` starts the detached supervisor (as conmon): this binary again, as the
// internal `silk box supervise`, in its own session, with the spec on fd 3 and a pipe on
// fd 4 (a socket) where it reports the box created (or running, with --start) or why
// it is not.
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "cli/box_exec_cmd.hpp"
#include "cli/box_flags.hpp"
#include "cli/box_usage_cmd.hpp"
#include "cli/commands.hpp"
#include "cli/sliver_command.hpp"
#include "compat/box.hpp"
#include "compat/box_lifecycle.hpp"

namespace silk::cli {
namespace {

constexpr int kSpecFd = 3;   // `box supervise`: the spec, JSON, on a memfd
constexpr int kReadyFd = 4;  // `box supervise`: one line, {"ok": ...} or an error object
// How long `create` waits for the supervisor's word (a box's setup takes milliseconds;
// a loaded machine or a large rootfs check may take seconds).
constexpr auto kCreateTimeout = std::chrono::seconds(120);

nlohmann::ordered_json RecordJson(const compat::BoxRecord& r) {
  return nlohmann::ordered_json::parse(compat::BoxRecordToJson(r));
}

void PrintRecord(const compat::BoxRecord& r) {
  std::cout << "name:        " << r.name << "\n"
            << "status:      " << compat::BoxStatusName(r.status) << "\n";
  if (r.status == compat::BoxStatus::kExited) {
    std::cout << "exit status: " << r.exit_status;
    if (r.term_signal) std::cout << " (signal " << r.term_signal << ")";
    if (r.oom_killed) std::cout << " (killed for memory)";
    std::cout << "\n";
    if (!r.exec_failure.empty()) std::cout << "not started: " << r.exec_failure << "\n";
    if (!r.error.empty()) std::cout << "error:       " << r.error << "\n";
  }
  if (r.supervisor_pid) std::cout << "supervisor:  pid " << r.supervisor_pid << "\n";
  if (r.init_pid) std::cout << "init:        pid " << r.init_pid << "\n";
  if (!r.created_at.empty()) std::cout << "created:     " << r.created_at << "\n";
  if (!r.started_at.empty()) std::cout << "started:     " << r.started_at << "\n";
  if (!r.finished_at.empty()) std::cout << "finished:    " << r.finished_at << "\n";
  for (const auto& c : r.cgroups) std::cout << "cgroup:      " << c << "\n";
  std::cout << "log:         " << r.log << "\n";
}

// "TERM", "SIGTERM", "term" or "15".
Result<int> ParseSignal(const std::string& word) {
  if (auto n = ParseUint(word, 64); n && *n > 0) return static_cast<int>(*n);
  std::string w = word;
  for (auto& c : w) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (w.rfind("SIG", 0) == 0) w = w.substr(3);
  std::vector<std::string> names;
  for (int s = 1; s < 32; ++s) {
    const char* abbrev = sigabbrev_np(s);
    if (!abbrev) continue;
    if (w == abbrev) return s;
    names.emplace_back(abbrev);
  }
  return Fail(ErrorCode::kInvalidInput,
              "unknown signal '" + word + "'" + DidYouMean(w, names) + " (a name or 1..64)");
}

// Reads the supervisor's one line from `fd`, at most kCreateTimeout.
Result<std::string> ReadReady(int fd) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + kCreateTimeout;
  while (line.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pf = {fd, POLLIN, 0};
    int rc = poll(&pf, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0)
      return Fail(ErrorCode::kTimeout, "the box's supervisor did not report within " +
                                           std::to_string(kCreateTimeout.count()) + " s");
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
    if (line.size() > 65536) break;
  }
  return line.substr(0, line.find('\n'));
}

// Starts `silk box supervise` detached: in its own session, reparented away from us
// (double fork), with nothing of ours but the spec and the ready pipe.
Result<void> SpawnSupervisor(const std::vector<std::string>& argv, int spec_fd, int ready_w) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t mid = fork();
  if (mid < 0) return FailErrno("fork for the box's supervisor");
  if (mid == 0) {
    setsid();
    pid_t sup = fork();
    if (sup != 0) _exit(sup < 0 ? 1 : 0);
    int null = open("/dev/null", O_RDWR);
    // Move the two fds above the target numbers first, so dup2 never clobbers one.
    int spec = fcntl(spec_fd, F_DUPFD, 10), ready = fcntl(ready_w, F_DUPFD, 10);
    if (null < 0 || spec < 0 || ready < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
        dup2(null, 2) < 0 || dup2(spec, kSpecFd) < 0 || dup2(ready, kReadyFd) < 0)
      _exit(127);
    syscall(SYS_close_range, kReadyFd + 1, ~0u, 0);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv("/proc/self/exe", cargv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(mid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Fail(ErrorCode::kSystem, "could not start the box's supervisor (fork failed)");
  return {};
}

int BoxCreate(const Args& all) {
  auto [args, command] = SplitAtDoubleDash(all);
  SliverCommand c("silk box create", kBoxSliver);
  BoxSpecFlags spec_flags;
  bool start = false;
  c.AddCommon("print the box's record as JSON");
  spec_flags.Add(c.opts);
  c.opts.add_options()("start", po::bool_switch(&start), "start the box at once (create + start)");
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk box create NAME [options] -- CMD [ARGS...]",
          "Creates a named box that lives until `silk box delete`: the same box as `silk box\n"
          "run` (the same options), with its own supervisor process, which survives this\n"
          "command. The box waits for `silk box start NAME` unless --start is given. CMD's\n"
          "stdout and stderr go to the box's log (`silk box state NAME` names it); its\n"
          "stdin is /dev/null. Prints the name, or the box's record with --json.",
          c.opts, c.pos, args, vm, c.out))
    return *rc;
  if (auto v = compat::ValidateBoxId(c.name); !v) return c.out.Fail(v.error(), kExitUsage, "NAME");
  auto spec = spec_flags.Build(vm, command);
  if (!spec) {
    if (command.empty() && !vm.count("spec"))
      return c.out.Usage("no command: give one after '--', or a --spec with \"command\"");
    return c.out.Fail(spec.error());
  }
  if (!spec_flags.report().empty() && spec_flags.report() != "-")
    return c.out.Usage(
        "--report-denials FILE: a named box reports denials to its log; "
        "give --report-denials alone",
        "--report-denials");
  if (auto exists = compat::ReadBox(c.state_dir, c.name); exists)
    return c.out.Fail(
        Error(ErrorCode::kInvalidInput, "a box named '" + c.name + "' exists (" +
                                            compat::BoxStatusName(exists->status) +
                                            "); `silk box delete " + c.name + "` removes it"),
        kExitFailure, "NAME");

  UniqueFd spec_fd(memfd_create("silk-box-spec", MFD_CLOEXEC));
  const std::string text = compat::BoxSpecToJson(*spec);
  if (!spec_fd ||
      write(spec_fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return c.out.Fail(
        Error(ErrorCode::kSystem, std::string("memfd for the spec: ") + strerror(errno)));
  // A socket, not a pipe: the supervisor's word must not SIGPIPE it when we are gone.
  int p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0)
    return c.out.Fail(Error(ErrorCode::kSystem, std::string("socketpair: ") + strerror(errno)));
  UniqueFd ready_r(p[0]), ready_w(p[1]);
  std::vector<std::string> argv = {"silk", "box", "supervise", "--name", c.name};
  if (!c.state_dir.empty()) argv.insert(argv.end(), {"--state-dir", c.state_dir});
  if (!spec_flags.profile_dir().empty())
    argv.insert(argv.end(), {"--profile-dir", spec_flags.profile_dir()});
  if (!spec_flags.volume_dir().empty())
    argv.insert(argv.end(), {"--volume-dir", spec_flags.volume_dir()});
  if (start) argv.push_back("--start");
  if (auto r = SpawnSupervisor(argv, spec_fd.get(), ready_w.get()); !r)
    return c.out.Fail(r.error());
  ready_w.Reset();
  auto line = ReadReady(ready_r.get());
  if (!line) return c.out.Fail(line.error());
  auto doc = nlohmann::json::parse(*line, nullptr, false);
  if (!doc.is_object())
    return c.out.Fail(
        Error(ErrorCode::kInternal, "the box's supervisor exited before the box was created" +
                                        (line->empty() ? std::string() : ": " + *line)));
  if (doc.contains("error")) {
    const auto& e = doc["error"];
    std::cerr << "silk: error: " << e.value("message", "the box could not be created") << "\n";
    if (c.out.json()) c.out.Json(nlohmann::ordered_json::parse(line->c_str()));
    return kExitFailure;
  }
  auto record = compat::ReadBox(c.state_dir, c.name);
  if (!record) return c.out.Fail(record.error());
  if (c.out.json())
    c.out.Json(RecordJson(*record));
  else
    std::cout << c.name << "\n";
  return kExitOk;
}

// The detached supervisor of one named box (internal: started by `box create`).
int BoxSupervise(const Args& args) {
  SliverCommand c("silk box supervise", kBoxSliver);
  std::string profile_dir, volume_dir;
  bool start = false;
  c.AddCommon("print the box's record as JSON");
  c.opts.add_options()("profile-dir", po::value(&profile_dir), "")(
      "volume-dir", po::value(&volume_dir), "")("start", po::bool_switch(&start), "");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk box supervise --name NAME", "", c.opts, c.pos, args, vm))
    return *rc;
  fcntl(kReadyFd, F_SETFD, FD_CLOEXEC);  // never into the box
  bool reported = false;
  auto report = [&](const nlohmann::ordered_json& j) {
    if (reported) return;
    reported = true;
    std::string line = j.dump() + "\n";
    // MSG_NOSIGNAL: the CLI that waits for this may have died (EPIPE, never SIGPIPE).
    (void)!send(kReadyFd, line.data(), line.size(), MSG_NOSIGNAL);
    close(kReadyFd);
  };
  auto fail = [&](const Error& e) {
    report(ErrorJson(JsonCode(e.code()), e.ToString(), ""));
    return kExitFailure;
  };
  std::string text;
  char buf[65536];
  ssize_t n;
  lseek(kSpecFd, 0, SEEK_SET);
  while ((n = read(kSpecFd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  close(kSpecFd);
  auto spec = compat::ParseBoxSpec(text, "the box's spec");
  if (!spec) return fail(spec.error());

  // SIGTERM/SIGINT/SIGHUP to the supervisor end the box, which is still torn down.
  sigset_t stop;
  sigemptyset(&stop);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, s);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  UniqueFd sfd(signalfd(-1, &stop, SFD_CLOEXEC));

  const std::string root = c.state_dir.empty() ? compat::DefaultStateRoot() : c.state_dir;
  compat::RunOptions ro;
  ro.state_root = root;
  ro.box_id = c.name;
  ro.profile_dir = profile_dir;
  ro.volume_root = volume_dir;
  ro.persistent = true;
  ro.log_output = true;
  ro.stop_fd = sfd.get();
  ro.on_created = [&](const compat::BoxRecord&, int box_pidfd) -> Result<bool> {
    if (start) return true;
    const std::string fifo = root + "/" + c.name + "/start";
    if (mkfifo(fifo.c_str(), 0600) != 0) return FailErrno("creating " + fifo);
    // O_RDWR: never an EOF while no `box start` has it open.
    UniqueFd f(open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!f) return FailErrno("opening " + fifo);
    report({{"ok", "created"}});
    for (;;) {
      pollfd fds[3] = {{f.get(), POLLIN, 0}, {box_pidfd, POLLIN, 0}, {sfd.get(), POLLIN, 0}};
      if (poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        return FailErrno("waiting for `silk box start`");
      }
      if (fds[0].revents & POLLIN) break;
      if (fds[1].revents) return false;  // killed while created
      if (fds[2].revents) {
        syscall(SYS_pidfd_send_signal, box_pidfd, SIGKILL, nullptr, 0);
        return false;
      }
    }
    unlink(fifo.c_str());
    return true;
  };
  ro.on_running = [&](const compat::BoxRecord&) { report({{"ok", "running"}}); };
  auto outcome = compat::RunBox(*spec, ro);
  if (!outcome) return fail(outcome.error());
  // Ended before it ran (not found, killed while created): the record says how.
  report({{"ok", "exited"}});
  return kExitOk;
}

int BoxStart(const Args& args) {
  SliverCommand c("silk box start", kBoxSliver);
  c.AddCommon("print the box's record as JSON");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk box start NAME [options]",
                          "Starts a created box (its command runs) and waits until it does.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  if (auto r = compat::StartBox(c.state_dir, c.name); !r) return c.out.Fail(r.error());
  auto r = compat::WaitForBox(
      c.state_dir, c.name,
      [](const compat::BoxRecord& b) { return b.status != compat::BoxStatus::kCreated; },
      std::chrono::seconds(60));
  if (!r) return c.out.Fail(r.error());
  if (c.out.json()) c.out.Json(RecordJson(*r));
  return kExitOk;
}

int BoxKill(const Args& args) {
  SliverCommand c("silk box kill", kBoxSliver);
  std::string sig = "TERM";
  c.AddCommon("print the box's record as JSON");
  c.opts.add_options()("signal", po::value(&sig), "signal name or number (default TERM)");
  c.pos.add("signal", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs("silk box kill NAME [SIGNAL] [options]",
                          "Sends SIGNAL (default TERM) to the box's pid 1: silk's init forwards\n"
                          "it to the command; KILL ends the box.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  auto s = ParseSignal(sig);
  if (!s) return c.out.Fail(s.error(), kExitUsage, "SIGNAL");
  if (auto r = compat::KillBox(c.state_dir, c.name, *s); !r) return c.out.Fail(r.error());
  if (c.out.json()) c.out.Json({{"name", c.name}, {"signal", *s}});
  return kExitOk;
}

int BoxStop(const Args& args) {
  SliverCommand c("silk box stop", kBoxSliver);
  std::string timeout = "10";
  c.AddCommon("print the box's record as JSON");
  c.opts.add_options()("timeout", po::value(&timeout),
                       "seconds between TERM and KILL (default 10)");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk box stop NAME [options]",
                          "Stops the box: TERM to its command, KILL after --timeout seconds;\n"
                          "returns once the box has ended.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  auto t = NumberFlag("--timeout", timeout, 86400);
  if (!t) return c.out.Fail(t.error(), kExitUsage, "--timeout");
  auto r = compat::StopBox(c.state_dir, c.name, std::chrono::seconds(*t));
  if (!r) return c.out.Fail(r.error());
  if (c.out.json())
    c.out.Json(RecordJson(*r));
  else
    std::cout << c.name << " " << compat::BoxStatusName(r->status) << " " << r->exit_status << "\n";
  return kExitOk;
}

int BoxDelete(const Args& args) {
  SliverCommand c("silk box delete", kBoxSliver);
  bool force = false;
  c.AddCommon("print the box's record as JSON");
  c.opts.add_options()("force,f", po::bool_switch(&force), "kill a created or running box first");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk box delete NAME [options]",
                          "Removes a box that has ended or was lost (its state, log, and\n"
                          "anything a lost box left: processes, cgroups, veth); --force\n"
                          "kills a live one first.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  if (auto r = compat::DeleteBox(c.state_dir, c.name, force); !r) return c.out.Fail(r.error());
  if (c.out.json()) c.out.Json({{"deleted", c.name}});
  return kExitOk;
}

int BoxList(const Args& args) {
  SliverCommand c("silk box list", kBoxSliver);
  c.AddCommon("print the boxes' records as JSON", /*with_name=*/false);
  po::variables_map vm;
  if (auto rc = ParseArgs("silk box list [options]",
                          "Lists the named boxes: created, running, exited (with the status)\n"
                          "or lost (their supervisor died; `silk box delete` reclaims them).",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  auto boxes = compat::ListBoxes(c.state_dir);
  if (!boxes) return c.out.Fail(boxes.error());
  if (c.out.json()) {
    auto j = nlohmann::ordered_json::array();
    for (const auto& b : *boxes) j.push_back(RecordJson(b));
    c.out.Json(j);
    return kExitOk;
  }
  std::cout << "NAME                             STATUS   PID      CREATED\n";
  for (const auto& b : *boxes) {
    std::string status = compat::BoxStatusName(b.status);
    if (b.status == compat::BoxStatus::kExited) status += "(" + std::to_string(b.exit_status) + ")";
    std::string name = b.name;
    name.resize(std::max<size_t>(name.size(), 32), ' ');
    status.resize(std::max<size_t>(status.size(), 8), ' ');
    std::string pid = b.init_pid ? std::to_string(b.init_pid) : "-";
    pid.resize(std::max<size_t>(pid.size(), 8), ' ');
    std::cout << name << " " << status << " " << pid << " " << b.created_at << "\n";
  }
  return kExitOk;
}

int BoxState(const Args& args) {
  SliverCommand c("silk box state", kBoxSliver);
  c.AddCommon("print the box's record as JSON");
  po::variables_map vm;
  if (auto rc = ParseArgs("silk box state NAME [options]",
                          "Shows the box's record: status, exit status, the supervisor's and\n"
                          "init's host pids, cgroups, times, and where its log is.",
                          c.opts, c.pos, args, vm, c.out))
    return *rc;
  auto r = compat::ReadBox(c.state_dir, c.name);
  if (!r) return c.out.Fail(r.error());
  if (c.out.json())
    c.out.Json(RecordJson(*r));
  else
    PrintRecord(*r);
  return kExitOk;
}

}  // namespace

const std::vector<Command>& BoxLifecycleCommands() {
  static const std::vector<Command> commands = {
      {"create", "create a named box with its own supervisor (--start: and start it)", BoxCreate},
      {"start", "start a created box", BoxStart},
      {"exec", "run a command in a running box", BoxExec},
      {"kill", "send a signal to a box's command", BoxKill},
      {"stop", "stop a box: TERM, then KILL after a timeout", BoxStop},
      {"delete", "remove a box that ended or was lost (--force: a live one)", BoxDelete},
      {"list", "list the named boxes and their status", BoxList},
      {"state", "show a box's record (--json)", BoxState},
      {"stats", "show a box's usage: cpu, memory, pids, network (--json)", BoxStats},
      {"update", "change a live box's limits: memory, pids, cpu/io weight, egress", BoxUpdate},
      {"supervise", "", BoxSupervise},
  };
  return commands;
}

}  // namespace silk::cli
