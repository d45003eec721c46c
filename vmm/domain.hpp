// silk::vmm: transient libvirt domains: create, shut down, destroy, inspect, list.
//
// A TransientDomain is the RAII guard of one running transient domain: unless the guest
// was seen to end (a lifecycle event) or the caller released it, its destructor
// destroys the domain. Domains are created with VIR_DOMAIN_START_AUTODESTROY, so even a
// crashed silk leaves nothing running: libvirtd destroys them when the connection
// closes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "vmm/connection.hpp"
#include "vmm/vm_spec.hpp"

namespace silk::vmm {

// What libvirt reports about one domain.
struct DomainInfo {
  std::string name;
  std::string state;  // "running", "paused", "shutoff", "shutdown", "crashed", ...
  int id = -1;        // -1 when not running
  bool persistent = false;
  unsigned vcpus = 0;
  uint64_t memory_kib = 0;  // current guest memory
  uint64_t max_memory_kib = 0;
  uint64_t cpu_time_ns = 0;   // guest CPU time
  uint64_t host_rss_kib = 0;  // the QEMU process's resident set (0 if unknown)
};

const char* DomainStateName(int state);

class TransientDomain {
 public:
  // Renders `spec` (domain_xml.hpp) and starts it as a transient, auto-destroyed domain.
  // `conn` must outlive the returned guard. Errors: kInvalidInput from the spec;
  // kSystem with libvirt's message (e.g. a missing kernel file, not enough memory);
  // kUnsupported when virtlogd is not running (the message says how to start it).
  // `autodestroy` = VIR_DOMAIN_START_AUTODESTROY (the test:///default driver lacks it).
  static Result<TransientDomain> Create(Connection& conn, const VmSpec& spec,
                                        bool autodestroy = true);

  TransientDomain(TransientDomain&& other) noexcept;
  TransientDomain& operator=(TransientDomain&&) = delete;
  TransientDomain(const TransientDomain&) = delete;
  ~TransientDomain();

  const std::string& name() const { return name_; }
  virDomainPtr get() const { return dom_.get(); }

  // Waits until the guest has ended (a "shutdown" lifecycle event of any detail, or
  // "stopped", or "crashed"). Acts on the first of them: does not wait for libvirt to
  // kill and reap QEMU, so the domain may still be listed for a moment after this
  // returns (libvirt removes it, and its taps, on its own). Errors: kTimeout.
  Result<LifecycleEvent> WaitEnded(std::chrono::steady_clock::time_point deadline);
  // Asks the guest to power off (ACPI power button), waits up to `timeout` for it to
  // end, then destroys it. Returns true if the guest ended on its own.
  Result<bool> Shutdown(std::chrono::milliseconds timeout);
  // Forces the domain off now (virDomainDestroy). Idempotent.
  Result<void> Destroy();
  // libvirt's view of the domain (state, CPU time, memory, QEMU's RSS).
  Result<DomainInfo> Info() const;
  // The domain's UUID as libvirt reports it. Errors: libvirt's.
  Result<std::string> Uuid() const;
  // From now on the domain outlives this guard (a named VM: `silk vm create` returns and
  // the domain runs until `silk vm stop`). Create it without `autodestroy` for that.
  void Release() { dom_.reset(); }
  // True once a lifecycle event said the guest ended.
  bool ended();

 private:
  TransientDomain(Connection* conn, DomainHandle dom, std::string name)
      : conn_(conn), dom_(std::move(dom)), name_(std::move(name)) {}

  Connection* conn_;
  DomainHandle dom_;
  std::string name_;
  bool ended_ = false;
};

// Every domain on the connection (running and defined), sorted by name.
Result<std::vector<DomainInfo>> ListDomains(Connection& conn);
// One domain by name. Errors: kNotFound when there is none; libvirt's error otherwise
// (LibvirtError: e.g. the daemon went away).
Result<DomainInfo> GetDomainInfo(Connection& conn, const std::string& name);
// Whether a domain named `name` exists on the connection. Only libvirt's "no such
// domain" (VIR_ERR_NO_DOMAIN) is false; any other failure (libvirtd unreachable, the
// connection closed) is an error, never "absent".
Result<bool> DomainExists(Connection& conn, const std::string& name);

}  // namespace silk::vmm
