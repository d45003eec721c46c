#include "vmm/domain.hpp"

#include <algorithm>

#include "vmm/domain_xml.hpp"
#include "vmm/internal/libvirt_api.hpp"

namespace silk::vmm {

using internal::Libvirt;

const char* DomainStateName(int state) {
  switch (state) {
    case VIR_DOMAIN_NOSTATE:
      return "nostate";
    case VIR_DOMAIN_RUNNING:
      return "running";
    case VIR_DOMAIN_BLOCKED:
      return "blocked";
    case VIR_DOMAIN_PAUSED:
      return "paused";
    case VIR_DOMAIN_SHUTDOWN:
      return "shutdown";
    case VIR_DOMAIN_SHUTOFF:
      return "shutoff";
    case VIR_DOMAIN_CRASHED:
      return "crashed";
    case VIR_DOMAIN_PMSUSPENDED:
      return "pmsuspended";
    default:
      return "unknown";
  }
}

namespace {

// The guest has stopped running. libvirt reports a power-off the guest asked for as
// "shutdown" with detail GUEST (QEMU's SHUTDOWN: the guest wrote ACPI S5 or rebooted
// under -no-reboot and executes no more), FINISHED or HOST; "stopped" follows only once
// libvirt has killed and reaped QEMU (on_poweroff=destroy), which here takes ~1.8 s more
// because this machine's PID 1 reaps slowly. Any shutdown detail ends the guest.
bool IsEnd(const LifecycleEvent& ev) {
  return ev.event == VIR_DOMAIN_EVENT_STOPPED || ev.event == VIR_DOMAIN_EVENT_SHUTDOWN ||
         ev.event == VIR_DOMAIN_EVENT_CRASHED;
}

Result<DomainInfo> InfoOf(virDomainPtr dom) {
  DomainInfo out;
  const char* name = Libvirt().virDomainGetName(dom);
  out.name = name ? name : "";
  virDomainInfo info;
  if (Libvirt().virDomainGetInfo(dom, &info) != 0)
    return Fail(LibvirtError("domain " + out.name + ": cannot get info"));
  out.state = DomainStateName(info.state);
  out.vcpus = info.nrVirtCpu;
  out.memory_kib = info.memory;
  out.max_memory_kib = info.maxMem;
  out.cpu_time_ns = info.cpuTime;
  unsigned int id = Libvirt().virDomainGetID(dom);
  out.id = id == static_cast<unsigned int>(-1) ? -1 : static_cast<int>(id);
  out.persistent = Libvirt().virDomainIsPersistent(dom) == 1;
  if (info.state == VIR_DOMAIN_RUNNING || info.state == VIR_DOMAIN_PAUSED ||
      info.state == VIR_DOMAIN_BLOCKED) {
    virDomainMemoryStatStruct stats[VIR_DOMAIN_MEMORY_STAT_NR];
    int n = Libvirt().virDomainMemoryStats(dom, stats, VIR_DOMAIN_MEMORY_STAT_NR, 0);
    for (int i = 0; i < n; ++i)
      if (stats[i].tag == VIR_DOMAIN_MEMORY_STAT_RSS) out.host_rss_kib = stats[i].val;
    if (n < 0) Libvirt().virResetLastError();
  }
  return out;
}

}  // namespace

Result<TransientDomain> TransientDomain::Create(Connection& conn, const VmSpec& spec,
                                                bool autodestroy) {
  std::string xml = SILK_TRY(DomainXml(spec));
  DomainHandle dom(Libvirt().virDomainCreateXML(conn.get(), xml.c_str(),
                                                autodestroy ? VIR_DOMAIN_START_AUTODESTROY : 0));
  if (!dom) return Fail(WithFixHint(LibvirtError("cannot start domain " + spec.name)));
  return TransientDomain(&conn, std::move(dom), spec.name);
}

TransientDomain::TransientDomain(TransientDomain&& other) noexcept
    : conn_(other.conn_),
      dom_(std::move(other.dom_)),
      name_(std::move(other.name_)),
      ended_(other.ended_) {}

TransientDomain::~TransientDomain() {
  if (!dom_) return;
  if (!ended()) {
    Libvirt().virDomainDestroy(dom_.get());
    Libvirt().virResetLastError();
  }
  conn_->ForgetEvents(name_);
}

bool TransientDomain::ended() {
  if (ended_) return true;
  for (const LifecycleEvent& ev : conn_->Events(name_))
    if (IsEnd(ev)) ended_ = true;
  return ended_;
}

Result<LifecycleEvent> TransientDomain::WaitEnded(std::chrono::steady_clock::time_point deadline) {
  auto ev = conn_->WaitForEvent(name_, IsEnd, deadline);
  if (!ev) return Fail(Error(ErrorCode::kTimeout, "domain " + name_ + " did not end in time"));
  ended_ = true;
  return ev;
}

Result<bool> TransientDomain::Shutdown(std::chrono::milliseconds timeout) {
  if (ended()) return true;
  // The ACPI power button first (thinix needs no guest agent for it); drivers that do
  // not know the flag get their default method. A failure here is not final: the guest
  // may already be going away, and the wait decides.
  if (Libvirt().virDomainShutdownFlags(dom_.get(), VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) != 0) {
    Libvirt().virResetLastError();
    if (Libvirt().virDomainShutdown(dom_.get()) != 0) Libvirt().virResetLastError();
  }
  if (WaitEnded(std::chrono::steady_clock::now() + timeout)) return true;
  SILK_TRY(Destroy());
  return false;
}

Result<void> TransientDomain::Destroy() {
  if (ended()) return {};
  if (Libvirt().virDomainDestroy(dom_.get()) != 0) {
    Error e = LibvirtError("cannot destroy domain " + name_);
    // Already gone is what we wanted.
    if (Libvirt().virDomainIsActive(dom_.get()) != 1) {
      Libvirt().virResetLastError();
      ended_ = true;
      return {};
    }
    return Fail(std::move(e));
  }
  ended_ = true;
  return {};
}

Result<DomainInfo> TransientDomain::Info() const { return InfoOf(dom_.get()); }

Result<std::string> TransientDomain::Uuid() const {
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (Libvirt().virDomainGetUUIDString(dom_.get(), uuid) != 0)
    return Fail(LibvirtError("domain " + name_ + ": cannot get its UUID"));
  return std::string(uuid);
}

Result<std::vector<DomainInfo>> ListDomains(Connection& conn) {
  virDomainPtr* doms = nullptr;
  int n = Libvirt().virConnectListAllDomains(conn.get(), &doms, 0);
  if (n < 0) return Fail(LibvirtError("cannot list domains on " + conn.uri()));
  std::vector<DomainHandle> owned;
  for (int i = 0; i < n; ++i) owned.emplace_back(doms[i]);
  free(doms);
  std::vector<DomainInfo> out;
  for (auto& d : owned) {
    auto info = InfoOf(d.get());
    if (!info) continue;  // vanished between list and info
    out.push_back(std::move(*info));
  }
  std::sort(out.begin(), out.end(),
            [](const DomainInfo& a, const DomainInfo& b) { return a.name < b.name; });
  return out;
}

Result<DomainInfo> GetDomainInfo(Connection& conn, const std::string& name) {
  DomainHandle dom(Libvirt().virDomainLookupByName(conn.get(), name.c_str()));
  if (!dom) {
    Error e = LibvirtError("cannot look up domain " + name + " on " + conn.uri());
    if (e.code() != ErrorCode::kNotFound) return Fail(std::move(e));
    return Fail(ErrorCode::kNotFound, "no domain named '" + name + "' on " + conn.uri());
  }
  return InfoOf(dom.get());
}

Result<bool> DomainExists(Connection& conn, const std::string& name) {
  DomainHandle dom(Libvirt().virDomainLookupByName(conn.get(), name.c_str()));
  if (dom) return true;
  Error e = LibvirtError("cannot look up domain " + name + " on " + conn.uri());
  if (e.code() == ErrorCode::kNotFound) return false;
  return Fail(std::move(e));
}

}  // namespace silk::vmm
