// rtnetlink, spoken directly (no `ip`/`tc` processes: spawning them costs 30-70 ms per
// box): links up, veth pairs moved into the box's network namespace, bridge ports,
// IPv4 addresses and routes, and an HTB egress cap.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace silk::compat::internal {

// Brings `lo` up in the caller's network namespace. Async-signal-safe (stack buffers
// only), for the child before execve. Returns 0 or -1 with errno set.
int LoopbackUpAsyncSafe();

// A NETLINK_ROUTE socket bound to one network namespace. Errors name the request and
// carry the kernel's errno (from NLMSG_ERROR).
class Netlink {
 public:
  // A socket in the caller's network namespace.
  static Result<Netlink> Open();
  // A socket in the namespace of `netns_fd` (opened from a helper thread that setns()es
  // there; needs CAP_SYS_ADMIN).
  static Result<Netlink> OpenIn(int netns_fd);

  // ifindex of `name`. kNotFound if there is no such link.
  Result<int> LinkIndex(const std::string& name);
  Result<void> SetUp(int ifindex);
  // Creates a veth pair `host_name` (here) <-> `peer_name` (moved into `peer_netns_fd`).
  Result<void> CreateVeth(const std::string& host_name, const std::string& peer_name,
                          int peer_netns_fd);
  Result<void> SetMaster(int ifindex, int master_ifindex);
  // Adds IPv4 `cidr` ("10.77.0.2/24") to the link.
  Result<void> AddAddress(int ifindex, const std::string& cidr);
  Result<void> AddDefaultRoute(const std::string& gateway);
  // Root HTB qdisc 1: with default class 1:1 capped at `bytes_per_sec` (rate = ceil).
  Result<void> SetEgressRate(int ifindex, uint64_t bytes_per_sec);
  // Changes the rate (and ceil) of class 1:1 of that HTB qdisc in place (HTB has no
  // qdisc change operation, so SetEgressRate cannot run twice); makes the qdisc and the
  // class when the link has none.
  Result<void> ChangeEgressRate(int ifindex, uint64_t bytes_per_sec);
  // Deletes a link by name; kNotFound if it does not exist.
  Result<void> DeleteLink(const std::string& name);

 private:
  explicit Netlink(UniqueFd fd) : fd_(std::move(fd)) {}
  // Creates or replaces class 1:1 under the HTB qdisc 1: (ENOENT without it).
  Result<void> SetEgressClass(int ifindex, uint64_t bytes_per_sec);
  // Sends one request (NLM_F_ACK added) and waits for its ack.
  Result<void> Transact(void* msg, const std::string& what);
  UniqueFd fd_;
  uint32_t seq_ = 1;
};

}  // namespace silk::compat::internal
