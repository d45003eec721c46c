#include "policy/resolve.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "base/strings.hpp"
#include "policy/effective.hpp"
#include "policy/profile_json.hpp"

namespace silk::policy {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

const std::vector<std::string> kDefaultCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

Result<std::vector<std::string>> ParseCapList(std::string_view list) {
  std::vector<std::string> out;
  std::string trimmed = Trim(list);
  if (trimmed.empty() || trimmed == "none") return out;
  if (trimmed == "default") return kDefaultCaps;
  if (trimmed == "all") return KnownCapabilities();
  for (const auto& part : Split(trimmed, ',')) {
    std::string cap = Upper(Trim(part));
    if (cap.empty()) continue;
    if (cap.rfind("CAP_", 0) != 0) cap = "CAP_" + cap;
    if (!Contains(KnownCapabilities(), cap)) {
      return Fail(ErrorCode::kInvalidInput,
                  "unknown capability '" + Trim(part) + "'" + DidYouMean(cap, KnownCapabilities()) +
                      " (expected a comma-separated list such as CAP_NET_ADMIN,CAP_SYS_ADMIN, "
                      "'default', 'all' or 'none')");
    }
    if (!Contains(out, cap)) out.push_back(cap);
  }
  return out;
}

std::string CapSetName(const std::vector<std::string>& caps) {
  if (caps.empty()) return "none";
  std::set<std::string> given;
  for (const auto& c : caps) given.insert(Upper(c));
  auto same = [&given](const std::vector<std::string>& set) {
    return given == std::set<std::string>(set.begin(), set.end());
  };
  if (same(kDefaultCaps)) return "default";
  if (same(KnownCapabilities())) return "all";
  return Join(caps, ",");
}

KernelVersion RunningKernel() {
  struct utsname u {};
  if (::uname(&u) == 0) {
    if (auto v = ParseKernelVersion(u.release)) return *v;
  }
  return {};
}

bool NeedsResolve(const Profile& profile) {
  if (!profile.arch_map.empty()) return true;
  for (const auto& r : profile.syscalls)
    if (!r.includes.empty() || !r.excludes.empty()) return true;
  return false;
}

Result<Profile> Resolve(const Profile& profile, const ResolveOptions& options) {
  ArchToken arch = options.arch.empty() ? NativeArch() : SILK_TRY(ParseArch(options.arch));
  KernelVersion kernel = options.kernel ? *options.kernel : RunningKernel();
  std::vector<std::string> caps;
  for (const auto& c : options.caps) {
    std::string cap = Upper(c);
    if (cap.rfind("CAP_", 0) != 0) cap = "CAP_" + cap;
    caps.push_back(cap);
  }

  Profile out = profile;
  out.arch_map.clear();
  out.syscalls.clear();
  for (const auto& entry : profile.arch_map) {
    auto a = ParseArch(entry.architecture);
    if (a && *a == arch) {
      out.architectures = {ArchName(arch)};
      for (const auto& sub : entry.sub_architectures)
        if (!Contains(out.architectures, sub)) out.architectures.push_back(sub);
    }
  }

  auto arch_in = [&](const std::vector<std::string>& arches) {
    for (const auto& a : arches) {
      auto parsed = ParseArch(a);
      if (parsed && *parsed == arch) return true;
    }
    return false;
  };
  for (size_t i = 0; i < profile.syscalls.size(); ++i) {
    const SyscallRule& rule = profile.syscalls[i];
    const std::string where = "syscalls[" + std::to_string(i) + "]";
    if (!rule.includes.arches.empty() && !arch_in(rule.includes.arches)) continue;
    if (!rule.excludes.arches.empty() && arch_in(rule.excludes.arches)) continue;
    bool caps_ok = true;
    for (const auto& c : rule.includes.caps) caps_ok = caps_ok && Contains(caps, Upper(c));
    for (const auto& c : rule.excludes.caps) caps_ok = caps_ok && !Contains(caps, Upper(c));
    if (!caps_ok) continue;
    if (!rule.includes.min_kernel.empty()) {
      auto v =
          WithContext(ParseKernelVersion(rule.includes.min_kernel), where + ".includes.minKernel");
      if (!v) return Fail(v.error());
      if (kernel < *v) continue;
    }
    if (!rule.excludes.min_kernel.empty()) {
      auto v =
          WithContext(ParseKernelVersion(rule.excludes.min_kernel), where + ".excludes.minKernel");
      if (!v) return Fail(v.error());
      if (kernel >= *v) continue;
    }
    SyscallRule kept = rule;
    kept.includes = {};
    kept.excludes = {};
    out.syscalls.push_back(std::move(kept));
  }
  return out;
}

Result<Profile> MaterializeSilkRules(const Profile& resolved) {
  Profile out = resolved;
  std::set<std::string> named;
  for (const auto& r : resolved.syscalls) named.insert(r.names.begin(), r.names.end());
  Verdict def = MakeVerdict(resolved.default_action, resolved.default_errno_ret);
  bool default_allows = Allows(def);
  auto add = [&](std::vector<std::string> names, Action action, std::optional<uint32_t> err,
                 std::string comment) {
    SyscallRule r;
    r.names = std::move(names);
    r.action = action;
    r.errno_ret = err;
    r.comment = std::move(comment);
    out.syscalls.push_back(std::move(r));
  };
  if (!named.count("clone3")) {
    switch (resolved.meta.clone3) {
      case Clone3Policy::kEnosys:
        if (!default_allows)
          add({"clone3"}, Action::kErrno, ENOSYS,
              "silk clone3 policy: ENOSYS, glibc falls back to clone");
        break;
      case Clone3Policy::kAllow:
        add({"clone3"}, Action::kAllow, std::nullopt, "silk clone3 policy: allow");
        break;
      case Clone3Policy::kDeny:
        if (default_allows) add({"clone3"}, Action::kErrno, EPERM, "silk clone3 policy: deny");
        break;
    }
    named.insert("clone3");
  }
  if (!resolved.meta.horizon.empty() && !default_allows && def.action != Action::kNotify) {
    KernelVersion horizon =
        SILK_TRY(WithContext(ParseKernelVersion(resolved.meta.horizon), "silk.horizon"));
    std::vector<std::string> newer;
    for (const auto& e : HorizonTable())
      if (e.introduced > horizon && !named.count(e.name)) newer.emplace_back(e.name);
    if (!newer.empty())
      add(std::move(newer), Action::kErrno, ENOSYS,
          "silk horizon " + resolved.meta.horizon + ": newer syscalls get ENOSYS");
  }
  return out;
}

}  // namespace silk::policy
