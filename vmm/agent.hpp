// silk::vmm: the guest side of the control channel (`silk agent --port PATH`).
//
// Runs inside a thinix guest (often as PID 1, exec'd by /init). Serves the protocol of
// channel.hpp on the virtio-serial device: answers pings, runs one command at a time with
// its stdout/stderr streamed back as frames and its stdin fed from the host's stdin frames
// (or /dev/null when the run request does not ask for stdin), reports the exit status,
// and powers the guest off on request.
#pragma once

#include <string>

#include "base/result.hpp"
#include "vmm/channel.hpp"

namespace silk::vmm {

// Finds the device for `port_path`. If it exists, that is it; if it is
// /dev/virtio-ports/NAME and the symlink is missing (no udev in thinix), the vportNpM
// whose /sys/class/virtio-ports/*/name is NAME. Waits up to `wait_ms` for the device to
// appear (virtio_console may still be probing). Errors: kNotFound naming the path.
Result<std::string> ResolveVirtioPort(const std::string& port_path, int wait_ms = 10000,
                                      const std::string& sysfs_root = "/sys",
                                      const std::string& dev_root = "/dev");

// In a thinix guest (silk.agent= on the kernel command line) whose root is the initramfs
// (rootfs: ramfs/tmpfs, which pivot_root(2) cannot leave: it has no parent mount), moves
// a recursive bind mount of / onto / and chroots into it, as switch_root would without
// copying, so that compatibility boxes started by the agent can pivot_root. Elsewhere it
// does nothing. Errors: kSystem naming the mount step.
Result<void> MakeRootPivotable();

// Serves the protocol on an open channel (greets with 'H' first). Returns after a
// power-off request when not PID 1 (as PID 1 it powers the guest off), or with the
// channel's error. On a virtio port (hangup_is_transient) host sessions come and go: a
// host side that leaves (during a command too: the command is killed) or leaves the
// stream corrupt ends its session only, and the next connection is served afresh.
Result<void> ServeAgent(FramedChannel& channel);

// Opens `port_path` (ResolveVirtioPort) and serves the channel on it until a power-off request (as
// PID 1 the guest is powered off; otherwise the function returns) or an unrecoverable channel
// error.
Result<void> RunAgent(const std::string& port_path);

}  // namespace silk::vmm
