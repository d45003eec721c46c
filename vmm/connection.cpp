#include "vmm/connection.hpp"

#include <cstring>

#include "vmm/event_loop.hpp"
#include "vmm/internal/libvirt_api.hpp"

namespace silk::vmm {

using internal::Libvirt;

void ConnectClose::operator()(virConnectPtr c) const { Libvirt().virConnectClose(c); }
void DomainFree::operator()(virDomainPtr d) const { Libvirt().virDomainFree(d); }

namespace {

// silk's category for libvirt's error code (virErrorNumber), never for its text.
ErrorCode CodeOf(const virError& err) {
  switch (err.code) {
    case VIR_ERR_NO_DOMAIN:
      return ErrorCode::kNotFound;
    case VIR_ERR_ACCESS_DENIED:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_AUTH_CANCELLED:
    case VIR_ERR_AUTH_UNAVAILABLE:
      return ErrorCode::kDenied;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
    case VIR_ERR_NO_CONNECT:
      return ErrorCode::kUnsupported;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
      return ErrorCode::kTimeout;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
      return ErrorCode::kInvalidInput;
    default:
      return ErrorCode::kSystem;
  }
}

}  // namespace

Error LibvirtError(const std::string& what) {
  virErrorPtr err = Libvirt().virGetLastError();
  std::string msg = what;
  ErrorCode code = ErrorCode::kSystem;
  int sys_errno = 0;
  if (err != nullptr) {
    code = CodeOf(*err);
    // virReportSystemError keeps the errno in int1.
    if (err->code == VIR_ERR_SYSTEM_ERROR && err->int1 > 0) sys_errno = err->int1;
    if (err->message != nullptr) {
      std::string text = err->message;
      // libvirt's text ends in strerror(errno), which Error::ToString() adds back.
      std::string tail = std::string(": ") + std::strerror(sys_errno);
      if (sys_errno != 0 && text.size() > tail.size() &&
          text.compare(text.size() - tail.size(), tail.size(), tail) == 0)
        text.resize(text.size() - tail.size());
      msg += ": " + text;
    }
  }
  Libvirt().virResetLastError();
  return Error(code, msg, sys_errno);
}

Error WithFixHint(Error error) {
  if (error.message().find("virtlogd-sock") != std::string::npos) {
    return Error(ErrorCode::kUnsupported,
                 error.message() +
                     "; virtlogd is not running (libvirt writes VM consoles through it): start "
                     "it: virtlogd -d (or `systemctl start virtlogd` where systemd runs)");
  }
  return error;
}

const char* LifecycleEventName(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
      return "defined";
    case VIR_DOMAIN_EVENT_UNDEFINED:
      return "undefined";
    case VIR_DOMAIN_EVENT_STARTED:
      return "started";
    case VIR_DOMAIN_EVENT_SUSPENDED:
      return "suspended";
    case VIR_DOMAIN_EVENT_RESUMED:
      return "resumed";
    case VIR_DOMAIN_EVENT_STOPPED:
      return "stopped";
    case VIR_DOMAIN_EVENT_SHUTDOWN:
      return "shutdown";
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
      return "pmsuspended";
    case VIR_DOMAIN_EVENT_CRASHED:
      return "crashed";
    default:
      return "unknown";
  }
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& uri) {
  SILK_TRY(EnsureEventLoop());
  std::unique_ptr<Connection> c(new Connection());
  c->uri_ = uri;
  c->conn_.reset(Libvirt().virConnectOpen(uri.c_str()));
  if (!c->conn_) {
    Error e = LibvirtError("cannot connect to libvirt at " + uri);
    if (uri.rfind("qemu:///", 0) == 0) {
      return Fail(Error(ErrorCode::kUnsupported,
                        e.message() +
                            "; is libvirtd running? Start it with `virtlogd -d; libvirtd -d` "
                            "(or `systemctl start libvirtd` where systemd runs)"));
    }
    return Fail(std::move(e));
  }
  // Remote connections: notice a dead peer (5 s interval, 3 misses).
  if (uri.find("+ssh://") != std::string::npos || uri.find("+tls://") != std::string::npos ||
      uri.find("+tcp://") != std::string::npos) {
    Libvirt().virConnectSetKeepAlive(c->conn_.get(), 5, 3);
  }
  auto* opaque = new std::shared_ptr<EventLog>(c->log_);
  c->callback_id_ = Libvirt().virConnectDomainEventRegisterAny(
      c->conn_.get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(&Connection::OnLifecycle), opaque, &Connection::ReleaseEventLog);
  if (c->callback_id_ < 0) {
    delete opaque;  // libvirt calls the free callback only for a registered callback
    return Fail(LibvirtError("cannot register for lifecycle events on " + uri));
  }
  return c;
}

Connection::~Connection() {
  if (callback_id_ >= 0 && conn_)
    Libvirt().virConnectDomainEventDeregisterAny(conn_.get(), callback_id_);
}

int Connection::OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail, void* opaque) {
  EventLog& log = **static_cast<std::shared_ptr<EventLog>*>(opaque);
  const char* name = Libvirt().virDomainGetName(dom);
  LifecycleEvent ev{name ? name : "", event, detail, std::chrono::steady_clock::now()};
  {
    std::lock_guard<std::mutex> lock(log.mu);
    log.events[ev.domain].push_back(std::move(ev));
  }
  log.cv.notify_all();
  return 0;
}

void Connection::ReleaseEventLog(void* opaque) {
  delete static_cast<std::shared_ptr<EventLog>*>(opaque);
}

Result<LifecycleEvent> Connection::WaitForEvent(
    const std::string& domain, const std::function<bool(const LifecycleEvent&)>& match,
    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(log_->mu);
  for (;;) {
    auto it = log_->events.find(domain);
    if (it != log_->events.end()) {
      for (const LifecycleEvent& ev : it->second)
        if (match(ev)) return ev;
    }
    if (log_->cv.wait_until(lock, deadline) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      return Fail(ErrorCode::kTimeout,
                  "domain " + domain + ": no matching lifecycle event in time");
    }
  }
}

std::vector<LifecycleEvent> Connection::Events(const std::string& domain) {
  std::lock_guard<std::mutex> lock(log_->mu);
  auto it = log_->events.find(domain);
  return it == log_->events.end() ? std::vector<LifecycleEvent>{} : it->second;
}

void Connection::ForgetEvents(const std::string& domain) {
  std::lock_guard<std::mutex> lock(log_->mu);
  log_->events.erase(domain);
}

}  // namespace silk::vmm
