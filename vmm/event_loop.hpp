// silk::vmm: the process-wide libvirt event loop.
//
// libvirt delivers domain events (and connection keepalives) only while someone runs
// its event loop. silk registers libvirt's default implementation once and runs it on
// one thread for the life of the process; the thread is stopped and joined at exit.
// It must be started before the first connection is opened (Connection::Open does).
#pragma once

#include "base/result.hpp"

namespace silk::vmm {

// Registers the default event implementation and starts the loop thread, once.
// Also silences libvirt's habit of printing every error to stderr (silk returns them).
// Errors: kUnsupported if libvirt is not installed (vmm/internal/libvirt_api.hpp);
// kInternal if libvirt cannot register the implementation.
Result<void> EnsureEventLoop();

}  // namespace silk::vmm
