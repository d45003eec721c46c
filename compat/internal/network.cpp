#include "compat/internal/network.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "base/unique_fd.hpp"
#include "compat/internal/netlink.hpp"

namespace silk::compat::internal {
namespace {

// Runs `fn` on a helper thread inside the network namespace `netns_fd` (setns affects
// only the calling thread; name lookups and netlink sockets then see that namespace).
Result<void> InNetns(int netns_fd, const std::function<Result<void>()>& fn) {
  Result<void> result;
  std::thread t([&] {
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
      result = FailErrno("entering the box's network namespace");
      return;
    }
    result = fn();
  });
  t.join();
  return result;
}

}  // namespace

std::string HostVethName(const std::string& box_id) {
  std::string n = "sv" + box_id;
  if (n.size() > 15) n = n.substr(n.size() - 15);
  return n;
}

Result<void> SetupVeth(pid_t pid, const NetworkSpec& net, const std::string& host_name) {
  std::string ns_path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd netns(open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns) return FailErrno("opening " + ns_path);
  auto host = SILK_TRY(Netlink::Open());
  int bridge = SILK_TRY(WithContext(host.LinkIndex(net.bridge), "network.bridge"));
  SILK_TRY(host.CreateVeth(host_name, "eth0", netns.get()));
  auto configure = [&]() -> Result<void> {
    int idx = SILK_TRY(host.LinkIndex(host_name));
    SILK_TRY(host.SetMaster(idx, bridge));
    SILK_TRY(host.SetUp(idx));
    return InNetns(netns.get(), [&]() -> Result<void> {
      auto box = SILK_TRY(Netlink::Open());
      int eth0 = SILK_TRY(box.LinkIndex("eth0"));
      SILK_TRY(box.AddAddress(eth0, net.address));
      SILK_TRY(box.SetUp(eth0));
      if (!net.gateway.empty()) SILK_TRY(box.AddDefaultRoute(net.gateway));
      if (net.egress_rate) SILK_TRY(box.SetEgressRate(eth0, net.egress_rate));
      return {};
    });
  };
  auto r = configure();
  if (!r) (void)host.DeleteLink(host_name);
  return r;
}

Result<void> ChangeEgressRate(int box_netns, uint64_t rate) {
  return InNetns(box_netns, [&]() -> Result<void> {
    auto box = SILK_TRY(Netlink::Open());
    int eth0 = SILK_TRY(box.LinkIndex("eth0"));
    return box.ChangeEgressRate(eth0, rate);
  });
}

}  // namespace silk::compat::internal
