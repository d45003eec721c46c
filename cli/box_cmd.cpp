// `silk box run [options] -- CMD ARGS`: run a command in a compatibility box
// (compat/box.hpp); `silk box sweep`: reclaim boxes whose supervisor died.
#include <signal.h>
#include <sys/signalfd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "cli/commands.hpp"
#include "cli/outcome.hpp"
#include "compat/box.hpp"

namespace silk::cli {
namespace {

Result<uint64_t> Num(const std::string& opt, const std::string& v, uint64_t max) {
  auto r = ParseUint(v, max);
  if (!r) return Fail(ErrorCode::kInvalidInput, opt + ": " + r.error().message());
  return *r;
}

nlohmann::ordered_json OutcomeJson(const compat::BoxOutcome& o) {
  nlohmann::ordered_json j;
  j["box_id"] = o.box_id;
  j["exit_status"] = o.exit_status;
  j["term_signal"] = o.term_signal;
  j["exec_failure"] = o.exec_failure;
  j["elapsed_ms"] = o.elapsed_ms;
  j["oom_kills"] = o.oom_kills;
  j["oom_killed"] = o.oom_killed;
  j["timed_out"] = o.timed_out;
  j["denials"] = nlohmann::ordered_json::parse(o.denials.ToJson());
  return j;
}

int BoxRun(const Args& all) {
  auto [args, command] = SplitAtDoubleDash(all);
  po::options_description opts("Options");
  std::string spec_file, profile, rootfs, memory, pids, cpu_weight, io_weight, net, hostname,
      report, scratch, userns, uid, gid, cwd, box_id, state_dir, profile_dir, timeout;
  std::vector<std::string> caps, env;
  bool raw = false, tty = false, no_init = false;
  OutcomeSink outcome_sink("silk box run");
  opts.add_options()("spec", po::value(&spec_file),
                     "JSON box spec (the node manager's format); options below override it")(
      "profile", po::value(&profile),
      "API profile: a file or a built-in name (default gen0-sliver)")(
      "profile-dir", po::value(&profile_dir), "also look up profile names as DIR/NAME.json")(
      "rootfs", po::value(&rootfs),
      "root directory (default: read-only view of the host's /usr /bin /lib* /etc)")(
      "memory", po::value(&memory), "memory.max, e.g. 256M (swap off)")(
      "pids", po::value(&pids),
      "pids.max: tasks the box may have (default 1024 as root; 0 = no limit)")(
      "cpu-weight", po::value(&cpu_weight), "proportional CPU weight 1..10000 (default 100)")(
      "io-weight", po::value(&io_weight), "proportional I/O weight 1..10000")(
      "scratch", po::value(&scratch),
      "bytes /scratch, /tmp and /dev/shm hold together, one budget (default 64M; at most the "
      "host's RAM + swap, and --memory when given)")(
      "net", po::value(&net),
      "none (lo only, default) or bridge=BR,address=CIDR[,gateway=IP][,egress=RATE]")(
      "hostname", po::value(&hostname), "hostname in the box (default box)")(
      "cap", po::value(&caps), "grant a capability (repeatable), e.g. CAP_NET_BIND_SERVICE")(
      "raw-sockets", po::bool_switch(&raw),
      "grant raw/packet sockets (mediated by the supervisor)")(
      "report-denials", po::value(&report)->implicit_value("-"),
      "record every denied syscall; print at exit, or write JSON to FILE")(
      "userns", po::value(&userns),
      "user namespace: auto (default) or always: box root is an unprivileged host uid of a "
      "range only this box holds; never: root only, box root is host root (weaker)")(
      "uid", po::value(&uid), "uid inside the box, 0..65535 (default 0)")(
      "gid", po::value(&gid),
      "gid inside the box, 0..65535 (default: with --uid, that user's primary group in the "
      "box's /etc/passwd, else the uid's number; never group root for another user; 0 for "
      "root)")("env", po::value(&env), "NAME=VALUE for the command (repeatable)")(
      "cwd", po::value(&cwd), "working directory in the box (default /)")(
      "tty", po::bool_switch(&tty), "give the box a private /dev/pts")(
      "no-init", po::bool_switch(&no_init),
      "run CMD as pid 1 itself (default: silk's init is pid 1, reaps orphans, forwards "
      "signals to CMD)")("timeout", po::value(&timeout),
                         "kill the box after this many seconds (exit 137)")(
      "box-id", po::value(&box_id), "box id: 1..64 of A-Z a-z 0-9 _ . - (default generated)")(
      "state-dir", po::value(&state_dir), "state root (default /run/silk/boxes as root)");
  outcome_sink.AddFlags(opts);
  po::variables_map vm;
  if (auto rc =
          ParseArgs("silk box run [options] -- CMD [ARGS...]",
                    "Runs CMD in a compatibility box: new user, pid, mount, network, uts, ipc\n"
                    "and cgroup namespaces, a minimal read-only root, no capabilities, cgroup\n"
                    "limits, and a seccomp API profile. The box's stdin/stdout/stderr are\n"
                    "pipes relayed to the caller's.\n"
                    "Exit status (as podman run): CMD's status, 128+N when killed by signal N,\n"
                    "126 when CMD cannot be executed, 127 when CMD is not found in the box,\n"
                    "125 when silk itself failed (usage, spec, setup).",
                    opts, {}, args, vm))
    return *rc == kExitOk ? kExitOk : kExitSilkFailed;
  // Every failure of silk's own is 125, so that CMD's statuses keep their meaning.
  auto usage = [&outcome_sink](std::string_view message) {
    UsageError("silk box run", message);
    if (outcome_sink.wanted()) (void)outcome_sink.Write(ErrorJson("usage", message, ""));
    return kExitSilkFailed;
  };
  auto failed = [&outcome_sink](const Error& error) { return outcome_sink.Fail(error); };
  if (auto r = outcome_sink.Check(vm); !r) return failed(r.error());

  compat::BoxSpec spec;
  if (!spec_file.empty()) {
    auto s = compat::LoadBoxSpec(spec_file);
    if (!s) return failed(s.error());
    spec = *s;
  }
  auto apply = [&]() -> Result<void> {
    if (!command.empty()) {
      spec.command = command[0];
      spec.args.assign(command.begin() + 1, command.end());
    }
    if (vm.count("profile")) spec.profile = profile;
    if (vm.count("rootfs")) spec.rootfs = rootfs;
    if (vm.count("memory")) spec.memory_max = SILK_TRY(WithContext(ParseSize(memory), "--memory"));
    if (vm.count("pids")) spec.pids_max = SILK_TRY(Num("--pids", pids, 1u << 22));
    if (vm.count("cpu-weight"))
      spec.cpu_weight = static_cast<uint32_t>(SILK_TRY(Num("--cpu-weight", cpu_weight, 10000)));
    if (vm.count("io-weight"))
      spec.io_weight = static_cast<uint32_t>(SILK_TRY(Num("--io-weight", io_weight, 10000)));
    if (vm.count("scratch"))
      spec.scratch_size = SILK_TRY(WithContext(ParseSize(scratch), "--scratch"));
    if (vm.count("net"))
      spec.network = SILK_TRY(WithContext(compat::ParseNetworkFlag(net), "--net"));
    if (vm.count("hostname")) spec.hostname = hostname;
    for (const auto& c : caps) spec.capabilities.push_back(c);
    if (raw) spec.raw_sockets = true;
    if (vm.count("report-denials")) spec.report_denials = true;
    if (vm.count("userns"))
      spec.user_namespace =
          SILK_TRY(WithContext(compat::ParseUserNamespaceMode(userns), "--userns"));
    if (vm.count("uid")) spec.uid = static_cast<uint32_t>(SILK_TRY(Num("--uid", uid, UINT32_MAX)));
    if (vm.count("gid"))
      spec.gid = static_cast<uint32_t>(SILK_TRY(Num("--gid", gid, UINT32_MAX)));
    else if (vm.count("uid"))
      spec.gid = compat::DefaultBoxGid(spec.uid, spec.rootfs);
    for (const auto& e : env) spec.env.push_back(e);
    if (vm.count("cwd")) spec.cwd = cwd;
    if (tty) spec.tty = true;
    if (no_init) spec.init = false;
    // The flags and the spec go through the one validator (uid/gid, rootfs, names...).
    if (!box_id.empty()) SILK_TRY(WithContext(compat::ValidateBoxId(box_id), "--box-id"));
    return compat::Validate(spec);
  };
  if (auto r = apply(); !r) {
    if (spec.command.empty() && command.empty())
      return usage("no command: give one after '--', or a --spec with \"command\"");
    return failed(r.error());
  }

  // SIGINT/SIGTERM/SIGHUP kill the box and still tear it down.
  sigset_t stop;
  sigemptyset(&stop);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, s);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  UniqueFd sfd(signalfd(-1, &stop, SFD_CLOEXEC));

  compat::RunOptions ro;
  ro.box_id = box_id;
  ro.state_root = state_dir;
  ro.profile_dir = profile_dir;
  ro.stop_fd = sfd.get();
  if (vm.count("timeout")) {
    auto t = ParseUint(timeout, 1u << 30);
    if (!t) return failed(Error(ErrorCode::kInvalidInput, "--timeout: " + t.error().message()));
    ro.timeout_ms = *t * 1000;
  }
  auto outcome = compat::RunBox(spec, ro);
  if (!outcome) return failed(outcome.error());
  if (!outcome->exec_failure.empty()) std::cerr << "silk: box: " << outcome->exec_failure << "\n";
  if (outcome->oom_kills > 0)
    std::cerr << "silk: box " << outcome->box_id << ": "
              << (outcome->oom_killed ? "the command was killed" : "processes were killed")
              << " for memory (" << outcome->oom_kills << " OOM kill"
              << (outcome->oom_kills == 1 ? "" : "s") << ", "
              << (spec.memory_max ? "memory limit " + FormatSize(spec.memory_max)
                                  : std::string("no memory limit of its own: the host ran out"))
              << ")\n";
  if (outcome->timed_out)
    std::cerr << "silk: box " << outcome->box_id << ": killed after --timeout " << timeout
              << " s\n";
  if (spec.report_denials) {
    if (report.empty() || report == "-") {
      std::cerr << "silk: box " << outcome->box_id << ": " << outcome->denials.ToText();
    } else {
      auto w = WriteFileAtomic(report, outcome->denials.ToJson() + "\n");
      if (!w) return failed(w.error());
    }
  }
  if (outcome_sink.wanted())
    if (auto w = outcome_sink.Write(OutcomeJson(*outcome)); !w) ReportError(w.error());
  return outcome->exit_status;
}

int BoxSweep(const Args& args) {
  po::options_description opts("Options");
  std::string state_dir;
  bool json = false;
  opts.add_options()("state-dir", po::value(&state_dir),
                     "state root (default /run/silk/boxes as root)")(
      "json", po::bool_switch(&json), "print the reclaimed box ids as JSON");
  po::variables_map vm;
  if (auto rc =
          ParseArgs("silk box sweep [options]",
                    "Reclaims boxes whose supervisor died (e.g. SIGKILL): kills what is left\n"
                    "in their cgroups, removes the cgroups, host veth ends and state.",
                    opts, {}, args, vm))
    return *rc;
  auto r = compat::SweepStaleBoxes(state_dir);
  if (!r) return ReportError(r.error());
  if (json) {
    std::cout << nlohmann::json{{"reclaimed", r->reclaimed}}.dump() << "\n";
  } else {
    std::cout << "reclaimed " << r->reclaimed.size() << " stale box(es)";
    for (const auto& id : r->reclaimed) std::cout << " " << id;
    std::cout << "\n";
  }
  return kExitOk;
}

}  // namespace

int BoxMain(const Args& args) {
  static const std::vector<Command> commands = {
      {"run", "run a command in a compatibility box", BoxRun},
      {"sweep", "reclaim boxes whose supervisor died", BoxSweep},
  };
  return Dispatch("silk box", "Compatibility boxes: silk's unit of isolation.", commands, args);
}

}  // namespace silk::cli
