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
#include "cli/box_flags.hpp"
#include "cli/commands.hpp"
#include "cli/outcome.hpp"
#include "compat/box.hpp"

namespace silk::cli {
namespace {

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
  if (!o.denials_unreported.empty()) j["denials_unreported"] = o.denials_unreported;
  return j;
}

int BoxRun(const Args& all) {
  auto [args, command] = SplitAtDoubleDash(all);
  po::options_description opts("Options");
  BoxSpecFlags spec_flags;
  std::string box_id, state_dir, timeout;
  OutcomeSink outcome_sink("silk box run");
  spec_flags.Add(opts);
  opts.add_options()("timeout", po::value(&timeout),
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

  auto built = spec_flags.Build(vm, command);
  if (!built) {
    if (command.empty() && !vm.count("spec"))
      return usage("no command: give one after '--', or a --spec with \"command\"");
    return failed(built.error());
  }
  const compat::BoxSpec& spec = *built;
  if (!box_id.empty())
    if (auto r = WithContext(compat::ValidateBoxId(box_id), "--box-id"); !r)
      return failed(r.error());
  const std::string& report = spec_flags.report();
  const std::string& profile_dir = spec_flags.profile_dir();

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
  ro.volume_root = spec_flags.volume_dir();
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
  if (spec.report_denials && !outcome->denials_unreported.empty())
    std::cerr << "silk: box " << outcome->box_id
              << ": denials not reported (denied all the same): " << outcome->denials_unreported
              << "\n";
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
  static const std::vector<Command> commands = [] {
    std::vector<Command> all = {
        {"run", "run a command in a compatibility box (create + start + wait + delete)", BoxRun},
        {"sweep", "reclaim boxes of `box run` whose supervisor died", BoxSweep},
    };
    for (const Command& c : BoxLifecycleCommands()) all.push_back(c);
    return all;
  }();
  return Dispatch("silk box", "Compatibility boxes: silk's unit of isolation.", commands, args);
}

}  // namespace silk::cli
