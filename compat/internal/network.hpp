// The box's network beyond `lo` (which the child brings up itself): a veth pair whose
// host end joins the caller's bridge and whose box end is eth0 with the spec's address,
// optional default route, and an HTB egress cap.
//
// The cap is installed on the box end (eth0): traffic the box sends leaves through it,
// and the box cannot remove the qdisc (no CAP_NET_ADMIN). The supervisor configures it
// from the host side before the box starts.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.hpp"
#include "compat/box_spec.hpp"

namespace silk::compat::internal {

// The host-side interface name for a box id (at most 15 characters).
std::string HostVethName(const std::string& box_id);

// Creates and configures the veth pair for the box `pid`. On error nothing is left
// (the host end is deleted). Errors: kNotFound for a missing bridge, kSystem (netlink).
Result<void> SetupVeth(pid_t pid, const NetworkSpec& net, const std::string& host_name);

// Changes the egress cap of a live box (`silk box update --egress`) to `bytes_per_sec`:
// the HTB class on its eth0, in the network namespace of `box_netns` (a pidfd of the
// box's pid 1 or an nsfs fd; setns takes both). A box made without a cap gets one.
// Errors: kNotFound (no eth0: the box has no veth), kSystem (netlink, naming the errno).
Result<void> ChangeEgressRate(int box_netns, uint64_t bytes_per_sec);

}  // namespace silk::compat::internal
