// silk policy compile: a profile -> seccomp BPF (raw struct sock_filter array, what
// seccomp(2) takes) or libseccomp's PFC text, through policy/compile.hpp.
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "cli/commands.hpp"
#include "cli/policy_cmd_util.hpp"
#include "policy/compile.hpp"

namespace silk::cli {

int RunPolicyCompile(const Args& args) {
  using policy_cmd::ProfileWhere;
  using policy_cmd::ResolveFlags;
  namespace pol = silk::policy;
  std::string in, out, format = "bpf";
  ResolveFlags rf;
  bool notify = false, no_optimize = false;
  Output report("silk policy compile");
  po::options_description o("Options");
  rf.Add(o);
  o.add_options()("out,o", po::value(&out)->required(), "file to write")(
      "format", po::value(&format), "bpf (raw struct sock_filter array; default) or pfc")(
      "notify-denials", po::bool_switch(&notify),
      "every denial becomes SCMP_ACT_NOTIFY (for a supervisor that records denials)")(
      "no-optimize", po::bool_switch(&no_optimize),
      "libseccomp's defaults instead of the binary tree (for comparison)");
  report.AddJsonFlag(o, "print a summary as JSON on stdout (an error as an error object)");
  report.AddQuietFlag(o);
  o.add_options()("profile", po::value(&in)->required(), "profile");
  po::positional_options_description pos;
  pos.add("profile", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(
          "silk policy compile PROFILE --out FILE [--arch A] [--caps LIST] [--format bpf|pfc] "
          "[--json]",
          "Compiles a profile, resolved for one architecture and capability set, to a seccomp\n"
          "filter through libseccomp: the architecture and the sub-architectures its archMap\n"
          "lists; every other architecture (i386 int 0x80, x32) is killed. The filter is\n"
          "checked against the profile's semantics before it is written. Without --json it\n"
          "prints nothing on stdout; \"wrote FILE\" goes to stderr (-q drops it).\n" +
              ProfileWhere(),
          o, pos, args, vm, report))
    return *rc;
  if (format != "bpf" && format != "pfc")
    return report.Usage("--format must be bpf or pfc, not \"" + format + "\"", "--format");
  auto profile = pol::LoadProfile(in);
  if (!profile) return report.Fail(profile.error(), kExitFailure, "PROFILE");
  auto opts = rf.Options();
  if (!opts) return report.Fail(opts.error(), kExitUsage, policy_cmd::OptionOf(opts.error()));
  auto resolved = pol::Resolve(*profile, *opts);
  if (!resolved) return report.Fail(resolved.error());

  pol::CompileOptions co;
  co.notify_denials = notify;
  co.optimize = !no_optimize;
  co.pfc = format == "pfc";
  auto start = std::chrono::steady_clock::now();
  auto filter = pol::CompileProfile(*resolved, co);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!filter) return report.Fail(Error(filter.error()).Wrap("compiling " + in));
  std::string bytes = co.pfc ? filter->pfc
                             : std::string(reinterpret_cast<const char*>(filter->program.data()),
                                           filter->program.size() * sizeof(sock_filter));
  if (auto w = WriteFileAtomic(out, bytes); !w)
    return report.Fail(w.error(), kExitFailure, "--out");
  if (report.json()) {
    nlohmann::ordered_json j;
    j["profile"] = in;
    j["out"] = out;
    j["format"] = format;
    j["arches"] = filter->arches;
    j["instructions"] = filter->program.size();
    j["notify"] = filter->has_notify;
    j["compile_ms"] = ms;
    report.Json(j);
  } else {
    report.Notice() << "wrote " << out << ": " << filter->program.size() << " BPF instructions for "
                    << Join(filter->arches, ",") << (filter->has_notify ? " (notifies)" : "")
                    << ", " << (format == "pfc" ? "PFC text" : "raw BPF") << "\n";
  }
  return kExitOk;
}

}  // namespace silk::cli
