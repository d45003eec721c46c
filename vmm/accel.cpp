#include "vmm/accel.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "vmm/domain.hpp"
#include "vmm/internal/libvirt_api.hpp"
#include "vmm/run_dir.hpp"

namespace silk::vmm {

using internal::Libvirt;

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

bool IsLocal(const std::string& uri) {
  return uri.find("://") != std::string::npos && uri.find(":///") != std::string::npos;
}

std::string CacheKey(Connection& conn, const BootImage& image) {
  std::string host;
  if (char* h = Libvirt().virConnectGetHostname(conn.get())) {
    host = h;
    free(h);
  }
  std::string release = "remote";
  if (IsLocal(conn.uri())) {
    utsname u;
    if (::uname(&u) == 0) release = u.release;
  }
  return host + "|" + release + "|" + image.kernel_sha256;
}

// How a cached verdict was reached: "boot" (a KVM guest was started) or "precheck"
// (KvmPrecheck refused KVM before booting anything). Entries without it are boots.
constexpr const char kByBoot[] = "boot";
constexpr const char kByPrecheck[] = "precheck";

struct CachedVerdict {
  AccelVerdict verdict;
  std::string by;
};

std::optional<CachedVerdict> ReadCache(const std::string& path, const std::string& key) {
  if (path.empty()) return std::nullopt;
  auto text = ReadFile(path);
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains(key) || !j[key].is_object()) return std::nullopt;
  const json& v = j[key];
  if (!v.contains("accel") || !v["accel"].is_string()) return std::nullopt;
  auto accel = ParseAccel(v["accel"].get<std::string>());
  if (!accel) return std::nullopt;
  AccelVerdict out;
  out.accel = *accel;
  out.reason = v.value("reason", "");
  out.from_cache = true;
  std::string by = kByBoot;
  if (v.contains("by") && v["by"].is_string()) by = v["by"].get<std::string>();
  return CachedVerdict{out, by};
}

// Writes the verdict; false if it could not be (that only costs a probe next time).
bool WriteCache(const std::string& path, const std::string& key, const AccelVerdict& v,
                const char* by) {
  if (path.empty()) return false;
  json j = json::object();
  if (auto text = ReadFile(path)) {
    json old = json::parse(*text, nullptr, false);
    if (old.is_object()) j = old;
  }
  j[key] = {{"accel", AccelName(v.accel)},
            {"reason", v.reason},
            {"by", by},
            {"probe_seconds", v.probe_seconds}};
  std::string dir = path.substr(0, path.rfind('/'));
  std::string partial;
  for (const std::string& part : Split(dir, '/')) {
    if (part.empty()) continue;
    partial += "/" + part;
    ::mkdir(partial.c_str(), 0755);
  }
  return static_cast<bool>(WriteFileAtomic(path, j.dump(2) + "\n"));
}

// The cached verdict if it still holds: a boot's always, a precheck's while the precheck
// (cheap: nothing is booted) gives the same reason.
std::optional<AccelVerdict> LookUp(Connection& conn, const std::string& path,
                                   const std::string& key) {
  auto cached = ReadCache(path, key);
  if (!cached) return std::nullopt;
  if (cached->by == kByPrecheck && KvmPrecheck(conn) != cached->verdict.reason) return std::nullopt;
  return cached->verdict;
}

}  // namespace

std::string KvmPrecheck(Connection& conn) {
  if (IsLocal(conn.uri())) {
    if (::access("/dev/kvm", F_OK) != 0)
      return "/dev/kvm does not exist (no KVM module or no nested virtualization)";
    UniqueFd fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!fd) return std::string("/dev/kvm cannot be opened: ") + strerror(errno);
  }
  char* caps =
      Libvirt().virConnectGetDomainCapabilities(conn.get(), nullptr, "x86_64", nullptr, "kvm", 0);
  if (caps == nullptr) {
    Error e = LibvirtError("libvirt offers no kvm domains");
    return e.message();
  }
  free(caps);
  return "";
}

std::optional<AccelVerdict> CachedAccel(Connection& conn, const BootImage& image,
                                        const std::string& cache_path) {
  return LookUp(conn, cache_path, CacheKey(conn, image));
}

Result<AccelVerdict> ChooseAccel(Connection& conn, const BootImage& image,
                                 const AccelOptions& options) {
  std::string key = CacheKey(conn, image);
  if (auto cached = LookUp(conn, options.cache_path, key)) return *cached;

  AccelVerdict verdict;
  bool booted = false;
  auto start = Clock::now();
  std::string pre = KvmPrecheck(conn);
  if (!pre.empty()) {
    verdict.reason = pre;
  } else {
    std::string root = options.run_root.empty() ? kDefaultRunRoot : options.run_root;
    std::string name = SILK_TRY(UniqueVmName("silk-probe"));
    VmRunDir dir = SILK_TRY(VmRunDir::Create(root, name));
    VmSpec spec;
    spec.name = name;
    spec.kernel_path = image.kernel_path;
    spec.initramfs_path = image.initramfs_path;
    spec.cmdline = image.cmdline + " silk.run=true";
    spec.memory_mib = 128;
    spec.accel = Accel::kKvm;
    spec.console_log = dir.console_log();
    auto dom = TransientDomain::Create(conn, spec);
    if (!dom) {
      // QEMU refusing KVM is a verdict too, unless the refusal is a permission to fix:
      // /dev/kvm's mode (KvmDeviceProblem), or libvirt saying access was denied (its
      // error code, VIR_ERR_ACCESS_DENIED/AUTH_*, or a system error with EACCES/EPERM).
      int err = dom.error().sys_errno();
      bool permission = dom.error().code() == ErrorCode::kDenied || err == EACCES || err == EPERM;
      booted = KvmDeviceProblem().empty() && !permission;
      verdict.reason = "libvirt could not start a KVM guest: " + dom.error().message();
    } else {
      booted = true;
      auto ended = dom->WaitEnded(Clock::now() + options.timeout);
      std::string console = ReadFile(spec.console_log).value_or("");
      if (ended && console.find("thinix: exit 0") != std::string::npos) {
        verdict.accel = Accel::kKvm;
        verdict.reason = "a KVM guest booted and powered off";
      } else {
        double secs = std::chrono::duration<double>(options.timeout).count();
        std::string what = console.find("Linux version") != std::string::npos ||
                                   console.find("thinix") != std::string::npos
                               ? "did not finish booting"
                               : "printed nothing after the kernel was decompressed";
        verdict.reason = "a KVM guest " + what + " within " +
                         Trim(std::to_string(secs)).substr(0, 4) +
                         " s (KVM here cannot run this kernel; a paravirtual KVM host?)";
        (void)dom->Destroy();
      }
    }
  }
  verdict.probe_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // A boot (or QEMU's refusal) is a verdict about this host and kernel, and so is the
  // precheck's (LookUp checks it again); a permission problem says nothing that should
  // outlive its fix.
  if (booted)
    verdict.cached = WriteCache(options.cache_path, key, verdict, kByBoot);
  else if (!pre.empty())
    verdict.cached = WriteCache(options.cache_path, key, verdict, kByPrecheck);
  return verdict;
}

std::string KvmDeviceProblem(const std::string& qemu_user) {
  struct stat st;
  if (::stat("/dev/kvm", &st) != 0) return "";
  passwd* pw = ::getpwnam(qemu_user.c_str());
  if (pw == nullptr) return "";  // QEMU does not run as that user here
  if (pw->pw_uid == st.st_uid && (st.st_mode & 0600) == 0600) return "";
  if ((st.st_mode & 0006) == 0006) return "";
  if ((st.st_mode & 0060) == 0060) {
    if (pw->pw_gid == st.st_gid) return "";
    int n = 64;
    gid_t groups[64];
    if (::getgrouplist(qemu_user.c_str(), pw->pw_gid, groups, &n) >= 0)
      for (int i = 0; i < n; ++i)
        if (groups[i] == st.st_gid) return "";
  }
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
  return "/dev/kvm (mode " + std::string(mode) + ") is not readable and writable by " + qemu_user +
         ", the user QEMU runs as: libvirt then re-probes QEMU on every domain start (~50 s per "
         "start). udev normally makes it root:kvm 0660";
}

Result<void> FixKvmDevice() {
  group* g = ::getgrnam("kvm");
  if (g == nullptr)
    return Fail(ErrorCode::kNotFound, "no group 'kvm' (is qemu-system-x86 installed?)");
  if (::chown("/dev/kvm", static_cast<uid_t>(-1), g->gr_gid) != 0)
    return FailErrno("chgrp kvm /dev/kvm");
  if (::chmod("/dev/kvm", 0660) != 0) return FailErrno("chmod 0660 /dev/kvm");
  return {};
}

}  // namespace silk::vmm
