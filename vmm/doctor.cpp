#include "vmm/doctor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "base/unique_fd.hpp"
#include "images/image.hpp"
#include "vmm/accel.hpp"
#include "vmm/connection.hpp"
#include "vmm/internal/libvirt_api.hpp"

namespace silk::vmm {

using internal::Libvirt;

namespace {

constexpr char kStartDaemons[] =
    "start the daemons: `virtlogd -d; libvirtd -d` (no init system here)";

bool SocketAnswers(const char* path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  return fd && ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

std::vector<std::string> HostBridges() {
  std::vector<std::string> out;
  if (DIR* d = ::opendir("/sys/class/net")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string br = std::string("/sys/class/net/") + e->d_name + "/bridge";
      if (::access(br.c_str(), F_OK) == 0) out.emplace_back(e->d_name);
    }
    ::closedir(d);
  }
  return out;
}

DoctorCheck KvmCheck(Connection& conn, const DoctorOptions& options) {
  std::string pre = KvmPrecheck(conn);
  if (!pre.empty())
    return {"kvm", "warn", pre,
            "VMs run under TCG; for KVM load kvm_intel/kvm_amd on a host with VT-x/AMD-V"};
  std::string untested =
      "/dev/kvm opens and libvirt offers kvm, but that alone is not trusted; not boot-tested yet "
      "(run "
      "`silk vmm doctor --probe --image DIR`, or any `silk vm run`)";
  if (options.image_dir.empty()) return {"kvm", "warn", untested, ""};
  auto image = images::VerifyImage(options.image_dir);
  if (!image) return {"kvm", "warn", untested, ""};
  AccelOptions ao;
  if (!options.accel_cache.empty()) ao.cache_path = options.accel_cache;
  BootImage bi{image->kernel_path, image->initramfs_path, image->cmdline, image->kernel_sha256};
  auto cached = CachedAccel(conn, bi, ao.cache_path);
  if (!cached && !options.probe) return {"kvm", "warn", untested, ""};
  auto v = cached ? Result<AccelVerdict>(*cached) : ChooseAccel(conn, bi, ao);
  if (!v) return {"kvm", "warn", "probe failed: " + v.error().message(), ""};
  bool ok = v->accel == Accel::kKvm;
  return {"kvm", ok ? "ok" : "warn",
          std::string("boot probe") + (v->from_cache ? " (cached)" : "") + ": " + v->reason,
          ok ? "" : "nothing to do: VMs fall back to TCG (slower)"};
}

}  // namespace

std::vector<DoctorCheck> RunDoctor(const DoctorOptions& options) {
  std::vector<DoctorCheck> checks;
  bool local = options.uri.find(":///") != std::string::npos;

  if (local) {
    bool up = SocketAnswers("/run/libvirt/virtlogd-sock");
    checks.push_back(
        {"virtlogd", up ? "ok" : "fail",
         up ? "/run/libvirt/virtlogd-sock answers" : "/run/libvirt/virtlogd-sock does not answer",
         up ? "" : "start it: `virtlogd -d` (libvirt writes VM consoles through it)"});
  }

  // silk loads libvirt at first use (vmm/internal/libvirt_api.hpp): say so before
  // blaming the daemon when the library itself is missing.
  if (auto lib = internal::LoadLibvirt(); !lib) {
    checks.push_back({"libvirt", "fail", lib.error().message(),
                      "install it: `apt-get install libvirt0` (ci/setup does)"});
    return checks;
  }
  auto conn = Connection::Open(options.uri);
  if (!conn) {
    checks.push_back({"libvirtd", "fail", conn.error().message(), kStartDaemons});
    return checks;
  }
  unsigned long lib = 0, hv = 0;
  Libvirt().virConnectGetLibVersion((*conn)->get(), &lib);
  Libvirt().virConnectGetVersion((*conn)->get(), &hv);
  auto ver = [](unsigned long v) {
    return std::to_string(v / 1000000) + "." + std::to_string(v / 1000 % 1000) + "." +
           std::to_string(v % 1000);
  };
  checks.push_back({"libvirtd", "ok", options.uri + " answers (libvirt " + ver(lib) + ")", ""});

  char* tcg = Libvirt().virConnectGetDomainCapabilities((*conn)->get(), nullptr, "x86_64", nullptr,
                                                        "qemu", 0);
  if (tcg != nullptr) {
    free(tcg);
    checks.push_back({"qemu", "ok", "QEMU " + ver(hv) + " for x86_64", ""});
    checks.push_back({"tcg", "ok", "QEMU's emulator can run x86_64 guests (slower than KVM)", ""});
  } else {
    Error e = LibvirtError("no x86_64 QEMU");
    checks.push_back({"qemu", "fail", e.message(),
                      "install it: `apt-get install qemu-system-x86` (ci/setup does)"});
  }

  checks.push_back(KvmCheck(**conn, options));
  if (local) {
    std::string problem = KvmDeviceProblem();
    if (!problem.empty() && options.fix) {
      auto fixed = FixKvmDevice();
      problem =
          fixed ? KvmDeviceProblem() : problem + " (fix failed: " + fixed.error().ToString() + ")";
    }
    if (problem.empty()) {
      checks.push_back(
          {"kvm-device", "ok", "/dev/kvm (if any) is usable by libvirt's QEMU user", ""});
    } else {
      checks.push_back({"kvm-device", "warn", problem,
                        "`chgrp kvm /dev/kvm && chmod 0660 /dev/kvm`, or `silk vmm doctor --fix`"});
    }
  }

  if (local) {
    UniqueFd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    checks.push_back({"tun", tun ? "ok" : "fail",
                      tun ? "/dev/net/tun opens (taps for VM NICs)"
                          : std::string("/dev/net/tun: ") + strerror(errno),
                      tun ? "" : "load the module: `modprobe tun` (VMs without NICs still run)"});
    auto bridges = HostBridges();
    std::string list;
    for (const auto& b : bridges) list += (list.empty() ? "" : ", ") + b;
    checks.push_back(
        {"bridges", "ok",
         bridges.empty() ? "no host bridges (VMs without NICs need none)" : "host bridges: " + list,
         ""});
  }

  if (!options.image_dir.empty()) {
    auto image = images::VerifyImage(options.image_dir);
    if (image) {
      checks.push_back({"image", "ok",
                        options.image_dir + ": verified, kernel " + image->kernel_version +
                            ", initramfs " + std::to_string(image->initramfs_size / 1024) + " KiB",
                        ""});
    } else {
      checks.push_back({"image", "fail", image.error().ToString(),
                        "build it: `silk image build thinix --out " + options.image_dir + "`"});
    }
  }
  return checks;
}

}  // namespace silk::vmm
