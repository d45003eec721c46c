#include "policy/compile.hpp"

#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

#include "base/unique_fd.hpp"
#include "policy/internal/compile_codegen.hpp"
#include "policy/internal/compile_regions.hpp"
#include "policy/internal/compile_stitch.hpp"
#include "policy/internal/compile_verify.hpp"
#include "policy/resolve.hpp"
#include "policy/syscalls.hpp"

namespace silk::policy {
namespace {

// Most libseccomp rules one syscall may expand to.
constexpr size_t kChainLimit = 64;
// How long libseccomp may take in the guarded build (see BuildGuarded).
constexpr int kGuardMillis = 1000;

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxRelease>;

Result<void> Check(int rc, const std::string& what) {
  if (rc < 0) return tl::unexpected(Error(ErrorCode::kSystem, "libseccomp: " + what, -rc));
  return {};
}

uint32_t FilterAction(const Verdict& v, bool notify_denials) {
  if (notify_denials && !Allows(v) && v.action != Action::kNotify) return SCMP_ACT_NOTIFY;
  return SeccompAction(v);
}

scmp_compare ScmpOp(ArgOp op) {
  switch (op) {
    case ArgOp::kNotEqual:
      return SCMP_CMP_NE;
    case ArgOp::kLessThan:
      return SCMP_CMP_LT;
    case ArgOp::kLessEqual:
      return SCMP_CMP_LE;
    case ArgOp::kEqualTo:
      return SCMP_CMP_EQ;
    case ArgOp::kGreaterEqual:
      return SCMP_CMP_GE;
    case ArgOp::kGreaterThan:
      return SCMP_CMP_GT;
    case ArgOp::kMaskedEqual:
      return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

// What libseccomp is given for one syscall on one architecture.
struct SyscallPlan {
  int nr;  // as libseccomp takes it: native number or libseccomp pseudo number
  std::string what;
  std::vector<internal::Chain> chains;
};

struct ArchPlan {
  ArchToken arch;
  uint32_t default_action;
  std::vector<SyscallPlan> syscalls;
};

Result<ArchPlan> PlanArch(const EffectivePolicy& ep, const CompileOptions& options,
                          bool& has_notify) {
  ArchPlan plan;
  plan.arch = SILK_TRY(ParseArch(ep.arch));
  plan.default_action = FilterAction(ep.default_verdict, options.notify_denials);
  if (plan.default_action == SCMP_ACT_NOTIFY) has_notify = true;
  for (const auto& [nr, sp] : ep.syscalls) {
    SyscallPlan s;
    s.what = sp.name + " on " + ep.arch;
    // libseccomp interprets rule syscall numbers as native numbers (or its pseudo
    // numbers for syscalls the native architecture lacks) and translates them by name.
    s.nr = sp.nr;
    if (plan.arch != NativeArch()) {
      s.nr = seccomp_syscall_resolve_name(sp.name.c_str());
      if (s.nr == __NR_SCMP_ERROR)
        return Fail(ErrorCode::kUnsupported, s.what + ": libseccomp cannot place a rule for it");
    }
    s.chains =
        SILK_TRY(WithContext(internal::SyscallChains(sp, FilterAction, options.notify_denials,
                                                     plan.default_action, kChainLimit),
                             s.what));
    for (const auto& c : s.chains)
      if (c.action == SCMP_ACT_NOTIFY) has_notify = true;
    if (!s.chains.empty()) plan.syscalls.push_back(std::move(s));
  }
  return plan;
}

// libseccomp 2.5's argument-tree insertion can loop forever (seen with three chains
// mixing <=, > and == on shared arguments) and has dropped chains it considered
// redundant. Plans with that shape are built in a child process with a deadline, and
// every program is checked against Evaluate afterwards (compile_verify.hpp).
// Safe shapes: one argument chain, or only "argN == value" chains on one argument with
// one action (personality in the Podman profile).
bool Risky(const std::vector<ArchPlan>& plans) {
  for (const auto& p : plans)
    for (const auto& s : p.syscalls) {
      std::vector<const internal::Chain*> with_args;
      for (const auto& c : s.chains)
        if (!c.term.empty()) with_args.push_back(&c);
      if (with_args.size() < 2) continue;
      const internal::Chain& first = *with_args[0];
      bool simple = std::all_of(with_args.begin(), with_args.end(), [&](const internal::Chain* c) {
        return c->action == first.action && c->term.size() == 1 &&
               c->term[0].op == ArgOp::kEqualTo && c->term[0].index == first.term[0].index;
      });
      if (!simple) return true;
    }
  return false;
}

Result<void> AddChain(void* ctx, int nr, const internal::Chain& chain, const std::string& what) {
  std::vector<scmp_arg_cmp> cmps;
  for (const auto& c : chain.term) {
    scmp_arg_cmp cmp{};
    cmp.arg = c.index;
    cmp.op = ScmpOp(c.op);
    cmp.datum_a = c.value;
    cmp.datum_b = c.value_two;
    cmps.push_back(cmp);
  }
  int rc = seccomp_rule_add_exact_array(ctx, chain.action, nr, static_cast<unsigned>(cmps.size()),
                                        cmps.empty() ? nullptr : cmps.data());
  return Check(rc, "adding a rule for " + what);
}

Result<Ctx> ArchContext(const ArchPlan& plan, const CompileOptions& options, bool optimize) {
  Ctx ctx(seccomp_init(plan.default_action));
  if (!ctx) return Fail(ErrorCode::kInvalidInput, "libseccomp rejected the default action");
  if (plan.arch != NativeArch()) {
    SILK_TRY(Check(seccomp_arch_add(ctx.get(), plan.arch),
                   std::string("adding ") + ArchName(plan.arch)));
    SILK_TRY(Check(seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE), "removing native arch"));
  }
  SILK_TRY(
      Check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SeccompAction(options.bad_arch)),
            "setting the bad-architecture action"));
  SILK_TRY(Check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0), "clearing NNP"));
  if (optimize)
    SILK_TRY(Check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2),
                   "enabling the binary tree"));
  for (const auto& s : plan.syscalls)
    for (const auto& chain : s.chains) SILK_TRY(AddChain(ctx.get(), s.nr, chain, s.what));
  return ctx;
}

Result<std::string> Export(void* ctx, bool bpf) {
  UniqueFd fd(memfd_create("silk-seccomp", MFD_CLOEXEC));
  if (!fd) return FailErrno("memfd_create for the compiled filter");
  int rc = bpf ? seccomp_export_bpf(ctx, fd.get()) : seccomp_export_pfc(ctx, fd.get());
  SILK_TRY(Check(rc, bpf ? "exporting BPF" : "exporting PFC"));
  off_t size = lseek(fd.get(), 0, SEEK_END);
  if (size < 0 || lseek(fd.get(), 0, SEEK_SET) < 0) return FailErrno("seeking the memfd");
  std::string out(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FailErrno("reading the exported filter");
    done += static_cast<size_t>(n);
  }
  return out;
}

struct Built {
  std::string bpf;
  std::string pfc;
};

// One libseccomp context per architecture (see compile_stitch.hpp for why), exported
// and joined behind silk's architecture dispatcher.
Result<Built> Build(const std::vector<ArchPlan>& plans, const CompileOptions& options) {
  // SCMP_FLTATR_CTL_OPTIMIZE on a filter with (almost) no rules makes libseccomp 2.5
  // loop (libseccomp issue #370; runc enables it from 8 rules on); a binary tree only
  // pays off with more syscalls anyway.
  std::vector<internal::ArchProgram> parts;
  for (const auto& plan : plans) {
    size_t rules = 0;
    for (const auto& s : plan.syscalls) rules += s.chains.size();
    bool optimize = options.optimize && rules >= 8;
    Ctx ctx = SILK_TRY(WithContext(ArchContext(plan, options, optimize), ArchName(plan.arch)));
    internal::ArchProgram part;
    part.arch = plan.arch;
    std::string bpf = SILK_TRY(WithContext(Export(ctx.get(), true), ArchName(plan.arch)));
    if (bpf.size() % sizeof(sock_filter) != 0)
      return Fail(ErrorCode::kInternal, "libseccomp exported a partial BPF instruction");
    part.program.resize(bpf.size() / sizeof(sock_filter));
    std::memcpy(part.program.data(), bpf.data(), bpf.size());
    if (options.pfc)
      part.pfc = SILK_TRY(WithContext(Export(ctx.get(), false), ArchName(plan.arch)));
    parts.push_back(std::move(part));
  }
  uint32_t bad = SeccompAction(options.bad_arch);
  std::vector<sock_filter> program = SILK_TRY(internal::Stitch(parts, bad));
  Built out;
  out.bpf.assign(reinterpret_cast<const char*>(program.data()),
                 program.size() * sizeof(sock_filter));
  if (options.pfc) out.pfc = internal::StitchPfc(parts, bad);
  return out;
}

bool WriteAll(int fd, const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Build() in a child process that gets kGuardMillis to finish. The child sends
// "<status byte><u64 bpf size><bpf><u64 pfc size><pfc>" or "<status><message>".
Result<Built> BuildGuarded(const std::vector<ArchPlan>& plans, const CompileOptions& options) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return FailErrno("pipe for the guarded filter build");
  UniqueFd rd(fds[0]), wr(fds[1]);
  pid_t pid = fork();
  if (pid < 0) return FailErrno("fork for the guarded filter build");
  if (pid == 0) {
    rd.Reset();
    auto built = Build(plans, options);
    bool ok;
    if (built) {
      char status = 0;
      uint64_t nb = built->bpf.size(), np = built->pfc.size();
      ok = WriteAll(wr.get(), &status, 1) && WriteAll(wr.get(), &nb, 8) &&
           WriteAll(wr.get(), built->bpf.data(), nb) && WriteAll(wr.get(), &np, 8) &&
           WriteAll(wr.get(), built->pfc.data(), np);
    } else {
      char status = 1;
      std::string msg = built.error().ToString();
      ok = WriteAll(wr.get(), &status, 1) && WriteAll(wr.get(), msg.data(), msg.size());
    }
    _exit(ok ? 0 : 1);
  }
  wr.Reset();
  std::string data;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kGuardMillis);
  bool timed_out = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{rd.get(), POLLIN, 0};
    int rc = poll(&pfd, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      timed_out = true;
      break;
    }
    char buf[65536];
    ssize_t n = read(rd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return Fail(ErrorCode::kUnsupported,
                "libseccomp did not finish building the filter in " + std::to_string(kGuardMillis) +
                    " ms (its argument-tree insertion loops on "
                    "some overlapping rule sets); make the rules of argument-checked syscalls "
                    "simpler or non-overlapping");
  if (data.empty()) return Fail(ErrorCode::kInternal, "the guarded filter build died");
  if (data[0] != 0) return Fail(ErrorCode::kUnsupported, data.substr(1));
  Built out;
  size_t pos = 1;
  auto take = [&](std::string& into) {
    uint64_t n = 0;
    if (data.size() < pos + 8) return false;
    std::memcpy(&n, data.data() + pos, 8);
    pos += 8;
    if (data.size() - pos < n) return false;
    into = data.substr(pos, n);
    pos += n;
    return true;
  };
  if (!take(out.bpf) || !take(out.pfc))
    return Fail(ErrorCode::kInternal, "the guarded filter build sent a truncated filter");
  return out;
}

}  // namespace

uint32_t SeccompAction(const Verdict& v) {
  switch (v.action) {
    case Action::kKillThread:
      return SCMP_ACT_KILL_THREAD;
    case Action::kKillProcess:
      return SCMP_ACT_KILL_PROCESS;
    case Action::kTrap:
      return SCMP_ACT_TRAP;
    case Action::kErrno:
      return SCMP_ACT_ERRNO(v.errno_ret);
    case Action::kTrace:
      return SCMP_ACT_TRACE(v.errno_ret);
    case Action::kLog:
      return SCMP_ACT_LOG;
    case Action::kNotify:
      return SCMP_ACT_NOTIFY;
    case Action::kAllow:
      return SCMP_ACT_ALLOW;
  }
  return SCMP_ACT_KILL_PROCESS;
}

uint32_t FilterActionFor(const Verdict& v, const CompileOptions& options) {
  return FilterAction(v, options.notify_denials);
}

Result<CompiledFilter> Compile(const std::vector<EffectivePolicy>& policies,
                               const CompileOptions& options) {
  if (policies.empty())
    return Fail(ErrorCode::kInvalidInput, "nothing to compile: no architecture");
  // Native first: its section comes first in the program, so native syscalls take
  // the shortest path.
  std::vector<const EffectivePolicy*> order;
  for (const auto& ep : policies) order.push_back(&ep);
  std::string native = ArchName(NativeArch());
  std::stable_partition(order.begin(), order.end(),
                        [&](const EffectivePolicy* ep) { return ep->arch == native; });

  CompiledFilter out;
  for (const EffectivePolicy* ep : order) {
    if (!(ep->default_verdict == order[0]->default_verdict))
      return Fail(ErrorCode::kInvalidInput, "architectures " + order[0]->arch + " and " + ep->arch +
                                                " have different default verdicts");
    if (std::find(out.arches.begin(), out.arches.end(), ep->arch) != out.arches.end())
      return Fail(ErrorCode::kInvalidInput, "architecture " + ep->arch + " given twice");
    out.arches.push_back(ep->arch);
  }
  const uint32_t bad = SeccompAction(options.bad_arch);
  if (options.optimize) {
    // silk's generator (compile_codegen.hpp), one program per architecture.
    std::vector<internal::ArchProgram> parts;
    for (const EffectivePolicy* ep : order) {
      ArchToken arch = SILK_TRY(ParseArch(ep->arch));
      auto code = SILK_TRY(WithContext(internal::GenerateArch(*ep, arch, options), ep->arch));
      out.has_notify = out.has_notify || code.has_notify;
      internal::ArchProgram part{arch, std::move(code.program), {}};
      if (options.pfc) part.pfc = internal::ArchPfc(*ep, arch, options);
      parts.push_back(std::move(part));
    }
    out.program = SILK_TRY(internal::Stitch(parts, bad));
    if (options.pfc) out.pfc = internal::StitchPfc(parts, bad);
  } else {
    // libseccomp's own code generation (its defaults), kept for comparison.
    std::vector<ArchPlan> plans;
    for (const EffectivePolicy* ep : order)
      plans.push_back(SILK_TRY(WithContext(PlanArch(*ep, options, out.has_notify), ep->arch)));
    Built built = SILK_TRY(Risky(plans) ? BuildGuarded(plans, options) : Build(plans, options));
    if (built.bpf.size() % sizeof(sock_filter) != 0)
      return Fail(ErrorCode::kInternal, "libseccomp exported a partial BPF instruction");
    out.program.resize(built.bpf.size() / sizeof(sock_filter));
    std::memcpy(out.program.data(), built.bpf.data(), built.bpf.size());
    out.pfc = std::move(built.pfc);
  }
  SILK_TRY(internal::VerifyAgainstEvaluate(out.program, policies, options));
  return out;
}

Result<CompiledFilter> CompileProfile(const Profile& resolved, const CompileOptions& options) {
  auto policies = SILK_TRY(MakeEffectiveAll(resolved));
  return Compile(policies, options);
}

Result<void> CheckCompiles(const Profile& profile, const ResolveOptions& options) {
  Profile resolved = SILK_TRY(Resolve(profile, options));
  SILK_TRY(CompileProfile(resolved));
  return {};
}

}  // namespace silk::policy
