// BoxSpec JSON parsing and validation (unit: no kernel objects).
#include <gtest/gtest.h>

#include "compat/box_spec.hpp"

namespace silk::compat {
namespace {

TEST(BoxSpec, ParsesEveryFieldAndRoundTrips) {
  auto s = ParseBoxSpec(R"({
    "command": "/bin/sh", "args": ["-c", "true"], "env": ["A=1"], "cwd": "/tmp",
    "rootfs": "/srv/root", "scratch_size": "32M", "hostname": "web1",
    "profile": "gen0-sliver", "memory_max": "256M", "pids_max": 100, "cpu_weight": 300,
    "io_weight": 50, "rlimits": {"nofile": {"soft": 100, "hard": 200}, "core": 0},
    "capabilities": ["CAP_NET_BIND_SERVICE"], "user_namespace": "always",
    "uid_map": [{"inside": 0, "outside": 100000, "count": 65536}],
    "gid_map": [{"inside": 0, "outside": 100000, "count": 65536}], "uid": 1, "gid": 2,
    "network": {"mode": "veth", "bridge": "br0", "address": "10.1.0.2/24",
                "gateway": "10.1.0.1", "egress_rate": "1M"},
    "raw_sockets": true, "report_denials": true, "tty": true})",
                        "box.json");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->memory_max, 256u << 20);
  EXPECT_EQ(s->scratch_size, 32u << 20);
  EXPECT_EQ(s->network.egress_rate, 1u << 20);
  EXPECT_EQ(s->rlimits.size(), 2u);
  EXPECT_EQ(s->user_namespace, UserNamespaceMode::kAlways);
  auto again = ParseBoxSpec(BoxSpecToJson(*s), "round-trip");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *s);
}

TEST(BoxSpec, DefaultsAreNamed) {
  auto s = ParseBoxSpec(R"({"command": "true"})", "b.json");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->profile, kDefaultProfile);
  EXPECT_EQ(s->cpu_weight, 100u);
  EXPECT_EQ(s->network.mode, NetworkMode::kNone);
  EXPECT_EQ(s->scratch_size, kDefaultScratchSize);
}

struct BadCase {
  const char* json;
  const char* must_mention;
};

TEST(BoxSpec, RejectsBadInputNamingTheField) {
  const BadCase cases[] = {
      {R"({"command": "x", "comand": 1})", "comand"},
      {R"({"command": "x", "comand": 1})", "did you mean 'command'"},
      {R"({"command": "x", "network": {"mode": "veth", "bridg": "b"}})", "network.bridg"},
      {R"({"command": "x", "memory_max": -5})", "memory_max"},
      {R"({"command": "x", "memory_max": "12Q"})", "memory_max"},
      {R"({"command": "x", "memory_max": "1K"})", "too small"},
      {R"({"command": "x", "cpu_weight": 0})", "cpu_weight"},
      {R"({"command": "x", "cpu_weight": 20000})", "1..10000"},
      {R"({"command": "x", "pids_max": "ten"})", "pids_max"},
      {R"({"command": "x", "capabilities": ["CAP_SYS_ADMN"]})", "CAP_SYS_ADMIN"},
      {R"({"command": "x", "rlimits": {"nofiles": 5}})", "rlimits.nofiles"},
      {R"({"command": "x", "rlimits": {"nofile": {"soft": 9, "hard": 1}}})", "soft limit"},
      {R"({"command": "x", "network": {"mode": "veth", "bridge": "br0"}})", "network.address"},
      {R"({"command": "x", "network": {"mode": "veth", "bridge": "br0", "address": "10.1.2/24"}})",
       "CIDR"},
      {R"({"command": "x", "network": {"mode": "bridge"}})", "network.mode"},
      {R"({"command": "x", "user_namespace": "yes"})", "user_namespace"},
      {R"({"command": "x", "hostname": "a b"})", "hostname"},
      {R"({"command": "x", "cwd": "relative"})", "cwd"},
      {R"({"command": "x", "env": ["NOVALUE"]})", "env[0]"},
      {R"({"args": ["x"]})", "command"},
      {R"({"command": "x",})", "invalid JSON"},
      {R"([1])", "JSON object"},
  };
  for (const auto& c : cases) {
    auto s = ParseBoxSpec(c.json, "bad.json");
    ASSERT_FALSE(s) << c.json;
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidInput) << c.json;
    EXPECT_NE(s.error().ToString().find(c.must_mention), std::string::npos)
        << c.json << " -> " << s.error().ToString();
    EXPECT_NE(s.error().ToString().find("bad.json"), std::string::npos) << c.json;
  }
}

}  // namespace
}  // namespace silk::compat
