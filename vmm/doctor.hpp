// silk::vmm: `silk vmm doctor`: is this host ready to run thinix VMs, and if not, how
// to fix it.
#pragma once

#include <string>
#include <vector>

namespace silk::vmm {

struct DoctorCheck {
  std::string name;    // "libvirtd", "virtlogd", "qemu", "tcg", "kvm", "tun", "bridges", "image"
  std::string status;  // "ok", "warn" (works, but worse), "fail" (VMs will not run)
  std::string detail;  // what was found
  std::string fix;     // what to do ("" when ok)
};

struct DoctorOptions {
  std::string uri = "qemu:///system";
  std::string image_dir;    // "" skips the image check
  std::string accel_cache;  // "" = kDefaultAccelCache
  bool probe = false;       // boot the image under KVM now if no verdict is cached
  bool fix = false;         // apply the fixes silk knows how to apply (/dev/kvm permissions)
};

// Runs every check; never fails (a failed check is a result).
std::vector<DoctorCheck> RunDoctor(const DoctorOptions& options);

}  // namespace silk::vmm
