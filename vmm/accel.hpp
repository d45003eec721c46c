// silk::vmm: choosing the accelerator (KVM or TCG) by booting, not by believing.
//
// /dev/kvm and libvirt's capabilities can say "kvm" on hosts where a stock guest kernel
// hangs right after decompression (a paravirtual KVM host, as on our machines). So silk
// boots the thinix image once under KVM with a short timeout: if the guest runs
// `silk.run=true` and powers off in time, KVM is usable; otherwise TCG. The verdict is
// cached per host and guest kernel (host name, host kernel release, SHA-256 of the guest
// kernel) in a small JSON file, so the probe costs its few seconds once. A verdict reached
// without booting (KvmPrecheck: no /dev/kvm, ...) is cached too, and holds while the
// precheck still says the same (it costs no boot), so it never outlives its fix.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "vmm/connection.hpp"
#include "vmm/vm_spec.hpp"

namespace silk::vmm {

inline constexpr const char kDefaultAccelCache[] = "/var/cache/silk/accel.json";

// What the probe boots.
struct BootImage {
  std::string kernel_path;
  std::string initramfs_path;
  std::string cmdline;        // the image's default command line
  std::string kernel_sha256;  // cache key part
};

struct AccelVerdict {
  Accel accel = Accel::kTcg;
  std::string reason;        // why (shown by doctor and in the fallback notice)
  bool from_cache = false;   // read from the cache (the notice was shown when it was made)
  bool cached = false;       // made now and written to the cache
  double probe_seconds = 0;  // 0 when cached
};

struct AccelOptions {
  std::chrono::milliseconds timeout{4000};      // how long a KVM guest gets to boot and power off
  std::string cache_path = kDefaultAccelCache;  // "" = no cache
  std::string run_root;                         // where the probe VM's console goes
};

// Returns the cached verdict for this host and kernel or probes (and caches) one.
// Prints nothing; the caller shows the notice. Errors: only what prevents probing at all
// (kSystem from libvirt when even the TCG question cannot be asked); a KVM that fails is
// a verdict, not an error.
Result<AccelVerdict> ChooseAccel(Connection& conn, const BootImage& image,
                                 const AccelOptions& options = {});

// The cached verdict for this host and kernel, if any (nothing is booted).
std::optional<AccelVerdict> CachedAccel(Connection& conn, const BootImage& image,
                                        const std::string& cache_path = kDefaultAccelCache);

// Why KVM cannot be used before booting anything ("" if it might be): no /dev/kvm, not
// openable, or libvirt has no kvm domain type. Local URIs check /dev/kvm here.
std::string KvmPrecheck(Connection& conn);

// libvirt (9.x) re-probes QEMU's capabilities on every domain start, several seconds per
// probe, when /dev/kvm exists but the QEMU user cannot open it: its cached capabilities
// say "kvm" and its access check says "no" (virQEMUCapsIsValid). Without udev nothing
// gives /dev/kvm its usual root:kvm 0660, and a start then takes ~50 s. Returns what is
// wrong ("" if nothing: no /dev/kvm, or the user `qemu_user` can read and write it).
std::string KvmDeviceProblem(const std::string& qemu_user = "libvirt-qemu");
// Does what udev would: chgrp kvm /dev/kvm; chmod 0660. Errors: kSystem naming the call.
Result<void> FixKvmDevice();

}  // namespace silk::vmm
