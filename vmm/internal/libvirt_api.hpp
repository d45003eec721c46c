// silk::vmm::internal: libvirt, loaded on first use.
//
// One silk binary runs on hosts that drive VMs and inside thinix guests that never do.
// Linking libvirt would drag its ~50-library closure (libxml2, ICU, GnuTLS, ...) into
// every thinix initramfs, so silk does not link it: the first vmm entry point that needs
// libvirt dlopen()s libvirt.so.0 and resolves every function silk calls into one table,
// typed with decltype of the real declarations in <libvirt/libvirt.h> (a changed
// signature is a compile error, not a crash). This is the only place in silk that names
// libvirt's shared object; every libvirt call in vmm/ goes through Libvirt().
//
// The library stays loaded for the life of the process (libvirt starts threads and
// registers an event loop; it is never dlclose()d once the table is complete).
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <string>

#include "base/result.hpp"

namespace silk::vmm::internal {

// Every libvirt function silk calls. Add a function here before calling it.
#define SILK_LIBVIRT_FUNCTIONS(X)       \
  X(virConnectClose)                    \
  X(virConnectDomainEventDeregisterAny) \
  X(virConnectDomainEventRegisterAny)   \
  X(virConnectGetDomainCapabilities)    \
  X(virConnectGetHostname)              \
  X(virConnectGetLibVersion)            \
  X(virConnectGetVersion)               \
  X(virConnectListAllDomains)           \
  X(virConnectOpen)                     \
  X(virConnectSetKeepAlive)             \
  X(virDomainCreateXML)                 \
  X(virDomainDestroy)                   \
  X(virDomainFree)                      \
  X(virDomainGetID)                     \
  X(virDomainGetInfo)                   \
  X(virDomainGetName)                   \
  X(virDomainGetUUIDString)             \
  X(virDomainIsActive)                  \
  X(virDomainIsPersistent)              \
  X(virDomainListGetStats)              \
  X(virDomainLookupByName)              \
  X(virDomainLookupByUUIDString)        \
  X(virDomainMemoryStats)               \
  X(virDomainShutdown)                  \
  X(virDomainShutdownFlags)             \
  X(virDomainStatsRecordListFree)       \
  X(virEventAddTimeout)                 \
  X(virEventRegisterDefaultImpl)        \
  X(virEventRemoveTimeout)              \
  X(virEventRunDefaultImpl)             \
  X(virGetLastError)                    \
  X(virInitialize)                      \
  X(virNodeGetFreeMemory)               \
  X(virResetLastError)                  \
  X(virSetErrorFunc)

// The resolved functions; members are named as libvirt's, so a call reads
// `Libvirt().virConnectOpen(uri)`.
struct LibvirtApi {
#define SILK_LIBVIRT_MEMBER(fn) decltype(&::fn) fn = nullptr;
  SILK_LIBVIRT_FUNCTIONS(SILK_LIBVIRT_MEMBER)
#undef SILK_LIBVIRT_MEMBER
};

// The shared object silk loads (the runtime package libvirt0 ships it).
inline constexpr const char kLibvirtSoname[] = "libvirt.so.0";

// Loads `soname` and resolves every function of the table. Each call loads afresh
// (tests use it with other names); production code uses LoadLibvirt(). Errors:
// kUnsupported when the library cannot be loaded (the message says to install libvirt0)
// or lacks one of the functions (named, with the library's path: too old a libvirt).
Result<LibvirtApi> LoadLibvirtFrom(const std::string& soname);

// libvirt.so.0, loaded once per process (thread-safe); the same verdict every call.
// Every vmm entry point that talks to libvirt calls this first (Connection::Open does).
Result<const LibvirtApi*> LoadLibvirt();

// The loaded table. Only valid once LoadLibvirt() succeeded, which holding a Connection
// (or any handle obtained through one) guarantees; calling it earlier is a bug in silk
// and aborts with a message.
const LibvirtApi& Libvirt();

}  // namespace silk::vmm::internal
