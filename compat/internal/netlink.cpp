#include "compat/internal/netlink.hpp"

#include <arpa/inet.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "base/strings.hpp"

namespace silk::compat::internal {
namespace {

// A netlink message under construction in a caller-provided buffer (no allocation).
class Msg {
 public:
  Msg(char* buf, size_t cap, uint16_t type, uint16_t flags) : buf_(buf), cap_(cap) {
    memset(buf_, 0, cap_);
    hdr()->nlmsg_len = NLMSG_HDRLEN;
    hdr()->nlmsg_type = type;
    hdr()->nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
  }
  nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_); }
  // Appends a fixed header (ifinfomsg, ifaddrmsg, ...) right after nlmsghdr.
  template <typename T>
  T* Body() {
    T* p = reinterpret_cast<T*>(buf_ + hdr()->nlmsg_len);
    hdr()->nlmsg_len += NLMSG_ALIGN(sizeof(T));
    return p;
  }
  bool Attr(uint16_t type, const void* data, size_t len) {
    size_t need = RTA_SPACE(len);
    if (hdr()->nlmsg_len + need > cap_) return false;
    auto* rta = reinterpret_cast<rtattr*>(buf_ + NLMSG_ALIGN(hdr()->nlmsg_len));
    rta->rta_type = type;
    rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
    if (len) memcpy(RTA_DATA(rta), data, len);
    hdr()->nlmsg_len = static_cast<uint32_t>(NLMSG_ALIGN(hdr()->nlmsg_len) + need);
    return true;
  }
  bool Str(uint16_t type, const char* s) { return Attr(type, s, strlen(s) + 1); }
  template <typename T>
  bool Val(uint16_t type, T v) {
    return Attr(type, &v, sizeof v);
  }
  rtattr* Nest(uint16_t type) {
    auto* rta = reinterpret_cast<rtattr*>(buf_ + NLMSG_ALIGN(hdr()->nlmsg_len));
    Attr(type, nullptr, 0);
    return rta;
  }
  void End(rtattr* nest) {
    nest->rta_len = static_cast<uint16_t>(buf_ + hdr()->nlmsg_len - reinterpret_cast<char*>(nest));
  }

 private:
  char* buf_;
  size_t cap_;
};

// Sends `msg` on `fd` and waits for the ack; returns 0 or -errno. No allocation.
int SendAndAck(int fd, nlmsghdr* msg, uint32_t seq) {
  msg->nlmsg_seq = seq;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, msg, msg->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return -errno;
  alignas(nlmsghdr) char reply[4096];
  for (;;) {
    ssize_t n = recv(fd, reply, sizeof reply, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        return e->error;
      }
    }
  }
}

}  // namespace

int LoopbackUpAsyncSafe() {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
  alignas(nlmsghdr) char buf[256];
  Msg m(buf, sizeof buf, RTM_NEWLINK, 0);
  auto* ifi = m.Body<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = 1;  // lo is always 1 in a new namespace
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  int rc = SendAndAck(fd, m.hdr(), 1);
  close(fd);
  if (rc < 0) {
    errno = -rc;
    return -1;
  }
  return 0;
}

Result<Netlink> Netlink::Open() {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return FailErrno("opening a NETLINK_ROUTE socket");
  return Netlink(std::move(fd));
}

Result<Netlink> Netlink::OpenIn(int netns_fd) {
  // setns() changes only the calling thread's namespace; a socket stays bound to the
  // namespace it was created in.
  int fd = -1, err = 0;
  std::thread t([&] {
    if (setns(netns_fd, CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) err = errno;
  });
  t.join();
  if (fd < 0)
    return FailErrno("opening a NETLINK_ROUTE socket in the box's network namespace", err);
  return Netlink(UniqueFd(fd));
}

Result<void> Netlink::Transact(void* msg, const std::string& what) {
  int rc = SendAndAck(fd_.get(), static_cast<nlmsghdr*>(msg), seq_++);
  if (rc < 0) return FailErrno("netlink: " + what, -rc);
  return {};
}

Result<int> Netlink::LinkIndex(const std::string& name) {
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) return Fail(ErrorCode::kNotFound, "no network link named '" + name + "'");
  return static_cast<int>(idx);
}

Result<void> Netlink::SetUp(int ifindex) {
  alignas(nlmsghdr) char buf[256];
  Msg m(buf, sizeof buf, RTM_NEWLINK, 0);
  auto* ifi = m.Body<ifinfomsg>();
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  return Transact(m.hdr(), "setting link " + std::to_string(ifindex) + " up");
}

Result<void> Netlink::CreateVeth(const std::string& host_name, const std::string& peer_name,
                                 int peer_netns_fd) {
  alignas(nlmsghdr) char buf[512];
  Msg m(buf, sizeof buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.Body<ifinfomsg>();
  m.Str(IFLA_IFNAME, host_name.c_str());
  rtattr* info = m.Nest(IFLA_LINKINFO);
  m.Str(IFLA_INFO_KIND, "veth");
  rtattr* data = m.Nest(IFLA_INFO_DATA);
  rtattr* peer = m.Nest(VETH_INFO_PEER);
  m.Body<ifinfomsg>();  // the peer's ifinfomsg sits inside VETH_INFO_PEER
  m.Str(IFLA_IFNAME, peer_name.c_str());
  m.Val<uint32_t>(IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  m.End(peer);
  m.End(data);
  m.End(info);
  return Transact(m.hdr(), "creating veth pair " + host_name + "/" + peer_name);
}

Result<void> Netlink::SetMaster(int ifindex, int master) {
  alignas(nlmsghdr) char buf[256];
  Msg m(buf, sizeof buf, RTM_NEWLINK, 0);
  m.Body<ifinfomsg>()->ifi_index = ifindex;
  m.Val<uint32_t>(IFLA_MASTER, static_cast<uint32_t>(master));
  return Transact(m.hdr(), "attaching link " + std::to_string(ifindex) + " to its bridge");
}

Result<void> Netlink::AddAddress(int ifindex, const std::string& cidr) {
  auto slash = cidr.find('/');
  in_addr a{};
  if (slash == std::string::npos || inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1)
    return Fail(ErrorCode::kInvalidInput, "'" + cidr + "' is not an IPv4 CIDR address");
  uint64_t prefix = SILK_TRY(ParseUint(cidr.substr(slash + 1), 32));
  alignas(nlmsghdr) char buf[256];
  Msg m(buf, sizeof buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = m.Body<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<uint8_t>(prefix);
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  m.Attr(IFA_LOCAL, &a, sizeof a);
  m.Attr(IFA_ADDRESS, &a, sizeof a);
  return Transact(m.hdr(), "adding address " + cidr);
}

Result<void> Netlink::AddDefaultRoute(const std::string& gateway) {
  in_addr gw{};
  if (inet_pton(AF_INET, gateway.c_str(), &gw) != 1)
    return Fail(ErrorCode::kInvalidInput, "'" + gateway + "' is not an IPv4 address");
  alignas(nlmsghdr) char buf[256];
  Msg m(buf, sizeof buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rt = m.Body<rtmsg>();
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  m.Attr(RTA_GATEWAY, &gw, sizeof gw);
  return Transact(m.hdr(), "adding default route via " + gateway);
}

Result<void> Netlink::SetEgressRate(int ifindex, uint64_t rate) {
  {
    alignas(nlmsghdr) char buf[512];
    Msg m(buf, sizeof buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE);
    auto* tc = m.Body<tcmsg>();
    tc->tcm_family = AF_UNSPEC;
    tc->tcm_ifindex = ifindex;
    tc->tcm_parent = TC_H_ROOT;
    tc->tcm_handle = TC_H_MAKE(1u << 16, 0);
    m.Str(TCA_KIND, "htb");
    rtattr* opts = m.Nest(TCA_OPTIONS);
    tc_htb_glob glob{};
    glob.version = 3;
    glob.rate2quantum = 10;
    glob.defcls = 1;
    m.Attr(TCA_HTB_INIT, &glob, sizeof glob);
    m.End(opts);
    SILK_TRY(Transact(m.hdr(), "adding an HTB root qdisc"));
  }
  return SetEgressClass(ifindex, rate);
}

Result<void> Netlink::ChangeEgressRate(int ifindex, uint64_t rate) {
  auto changed = SetEgressClass(ifindex, rate);
  // No HTB qdisc 1: yet (the box was made without a cap): make it with the class.
  if (!changed && (changed.error().sys_errno() == ENOENT || changed.error().sys_errno() == EINVAL))
    return SetEgressRate(ifindex, rate);
  return changed;
}

Result<void> Netlink::SetEgressClass(int ifindex, uint64_t rate) {
  alignas(nlmsghdr) char buf[512];
  Msg m(buf, sizeof buf, RTM_NEWTCLASS, NLM_F_CREATE | NLM_F_REPLACE);
  auto* tc = m.Body<tcmsg>();
  tc->tcm_family = AF_UNSPEC;
  tc->tcm_ifindex = ifindex;
  tc->tcm_parent = TC_H_MAKE(1u << 16, 0);
  tc->tcm_handle = TC_H_MAKE(1u << 16, 1);
  m.Str(TCA_KIND, "htb");
  rtattr* opts = m.Nest(TCA_OPTIONS);
  tc_htb_opt opt{};
  uint32_t rate32 = rate >= (1ull << 32) ? ~0u : static_cast<uint32_t>(rate);
  opt.rate.rate = opt.ceil.rate = rate32;
  // Ethernet-aware rate: the kernel computes its own tables (no TCA_HTB_RTAB needed).
  opt.rate.linklayer = opt.ceil.linklayer = TC_LINKLAYER_ETHERNET;
  // Burst of ~10 ms at the rate (at least one 1514-byte frame plus slack), expressed in
  // psched ticks of 64 ns (PSCHED_TICKS2NS: << 6).
  uint64_t burst = std::max<uint64_t>(rate / 100, 16 * 1024);
  uint64_t buffer_ns = burst * 1000000000ull / std::max<uint64_t>(rate, 1);
  opt.buffer = opt.cbuffer = static_cast<uint32_t>(std::min<uint64_t>(buffer_ns >> 6, ~0u));
  opt.quantum = 0;
  m.Attr(TCA_HTB_PARMS, &opt, sizeof opt);
  if (rate >= (1ull << 32)) {
    m.Val<uint64_t>(TCA_HTB_RATE64, rate);
    m.Val<uint64_t>(TCA_HTB_CEIL64, rate);
  }
  m.End(opts);
  return Transact(m.hdr(), "setting the HTB class to " + std::to_string(rate) + " B/s");
}

Result<void> Netlink::DeleteLink(const std::string& name) {
  int idx = SILK_TRY(LinkIndex(name));
  alignas(nlmsghdr) char buf[256];
  Msg m(buf, sizeof buf, RTM_DELLINK, 0);
  m.Body<ifinfomsg>()->ifi_index = idx;
  return Transact(m.hdr(), "deleting link " + name);
}

}  // namespace silk::compat::internal
