// silk::vmm: a connection to a libvirt daemon, and the lifecycle events it delivers.
//
// The URI is the caller's: "qemu:///system" (the default), "qemu+ssh://host/system" or
// "qemu+tls://host/system" for another machine (same calls, libvirt carries them), or
// "test:///default" (libvirt's in-process test driver, for fast unit tests).
// A Connection owns its virConnectPtr and one lifecycle-event registration; events for
// every domain are recorded by domain name so that a caller can wait for "its" event
// (WaitForEvent) without racing the event loop thread.
#pragma once

#include <libvirt/libvirt.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::vmm {

inline constexpr const char kDefaultUri[] = "qemu:///system";

// Owning handles for libvirt objects.
// (libvirt is loaded at run time: vmm/internal/libvirt_api.hpp.)
struct ConnectClose {
  void operator()(virConnectPtr c) const;
};
struct DomainFree {
  void operator()(virDomainPtr d) const;
};
using ConnectHandle = std::unique_ptr<virConnect, ConnectClose>;
using DomainHandle = std::unique_ptr<virDomain, DomainFree>;

// The last libvirt error on this thread as a silk Error, prefixed with `what`, and
// classified by libvirt's error code (virErrorNumber), not its text: kNotFound for
// VIR_ERR_NO_DOMAIN, kDenied for access/authentication, kUnsupported for what the driver
// or host cannot do (and no connection), kTimeout, kInvalidInput for bad XML/arguments,
// kSystem otherwise; a VIR_ERR_SYSTEM_ERROR keeps its errno.
Error LibvirtError(const std::string& what);

// `error` (from libvirt) with how to fix it when silk recognises the cause: libvirt's
// message naming "virtlogd-sock" means virtlogd is not running (QEMU's console goes
// through it), which becomes kUnsupported with "start it: virtlogd -d". Any other error
// is returned unchanged.
Error WithFixHint(Error error);

// One VIR_DOMAIN_EVENT_ID_LIFECYCLE event.
struct LifecycleEvent {
  std::string domain;
  int event = 0;   // virDomainEventType
  int detail = 0;  // the matching virDomainEvent*DetailType
  std::chrono::steady_clock::time_point at;
};
// "started", "shutdown", "stopped", ... for a virDomainEventType.
const char* LifecycleEventName(int event);

class Connection {
 public:
  // Loads libvirt (vmm/internal/libvirt_api.hpp), starts the event loop (event_loop.hpp)
  // and opens `uri` read-write. Errors: kUnsupported when libvirt is not installed here
  // (install libvirt0), or with how to start libvirtd when the daemon is not reachable;
  // kSystem for other libvirt failures (the message is libvirt's).
  static Result<std::unique_ptr<Connection>> Open(const std::string& uri = kDefaultUri);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  virConnectPtr get() const { return conn_.get(); }
  const std::string& uri() const { return uri_; }

  // Waits until a lifecycle event for `domain` satisfies `match` (events recorded since
  // the connection opened count too) or `deadline` passes. Errors: kTimeout.
  Result<LifecycleEvent> WaitForEvent(const std::string& domain,
                                      const std::function<bool(const LifecycleEvent&)>& match,
                                      std::chrono::steady_clock::time_point deadline);
  // The events recorded for `domain`, oldest first.
  std::vector<LifecycleEvent> Events(const std::string& domain);
  // Drops what was recorded for `domain` (call when done with it).
  void ForgetEvents(const std::string& domain);

 private:
  Connection() = default;
  // What the lifecycle callback records. Shared by the connection and libvirt's callback
  // registration: deregistering does not wait for a dispatch already running on the event
  // loop thread, so the callback's reference is dropped only by libvirt's free callback,
  // once no dispatch can touch it any more.
  struct EventLog {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, std::vector<LifecycleEvent>> events;
  };
  static int OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque);
  static void ReleaseEventLog(void* opaque);

  ConnectHandle conn_;
  std::string uri_;
  int callback_id_ = -1;
  std::shared_ptr<EventLog> log_ = std::make_shared<EventLog>();
};

}  // namespace silk::vmm
