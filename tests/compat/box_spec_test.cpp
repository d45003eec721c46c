// BoxSpec JSON parsing and validation (unit: no kernel objects).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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
    "raw_sockets": true, "report_denials": true, "tty": true, "disk_max": "1G"})",
                        "box.json");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->memory_max, 256u << 20);
  EXPECT_EQ(s->disk_max, 1u << 30);
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
  EXPECT_EQ(s->pids_max, kDefaultPidsMax);
  EXPECT_EQ(BoxSpec().pids_max, 1024u);
  EXPECT_EQ(s->disk_max, 0u) << "no volume unless asked for";
  // 0 stays "no limit" when asked for.
  auto none = ParseBoxSpec(R"({"command": "true", "pids_max": 0})", "b.json");
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_EQ(none->pids_max, 0u);
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
      // (uid_t)-1 means "unchanged" to setresuid(2): the box would stay root.
      {R"({"command": "x", "uid": 4294967295, "gid": 0})", "uid: 4294967295"},
      {R"({"command": "x", "uid": 0, "gid": 4294967295})", "gid: 4294967295"},
      {R"({"command": "x", "uid": 65536})", "outside the box's id range"},
      {R"({"command": "x", "gid": 70000})", "gid"},
      {R"({"command": "x", "uid": 5, "uid_map": [{"inside": 0, "outside": 100000, "count": 1}]})",
       "not mapped by uid_map"},
      {R"({"command": "x", "uid_map": [{"inside": 1, "outside": 100000, "count": 4294967295}]})",
       "uid_map"},
      {R"({"command": "x", "uid_map": [{"inside": 0, "outside": 0, "count": 65536}]})",
       "maps onto host id 0"},
      {R"({"command": "x", "gid_map": [{"inside": 5, "outside": 0, "count": 1}]})",
       "gid_map: range 5:0:1 maps onto host id 0"},
      {R"({"command": "x", "hostname": "-lead"})", "hostname"},
      {R"({"command": "x", "hostname": "a..b"})", "hostname"},
      {R"({"command": "x", "hostname": "a_b"})", "hostname"},
      {R"({"command": "x", "scratch_size": "100T"})", "scratch_size"},
      {R"({"command": "x", "scratch_size": "128M", "memory_max": "32M"})", "memory_max"},
      {R"({"command": "x", "disk_max": "15M"})", "disk_max (--disk): 15728640 bytes is below"},
      {R"({"command": "x", "disk_max": "lots"})", "disk_max"},
      // Duplicate keys: parsers disagree on which wins (last here; first elsewhere).
      {R"({"command": "x", "uid": 0, "uid": 5})", "uid: duplicate key"},
      {R"({"command": "x", "rlimits": {"nofile": 1, "nofile": 2}})", "rlimits.nofile"},
      {R"({"command": "x", "network": {"mode": "none", "mode": "veth"}})", "network.mode"},
      {R"({"command": "x", "uid_map": [{"inside": 0, "inside": 1, "count": 1}]})",
       "uid_map[0].inside"},
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

TEST(BoxSpec, DefaultScratchFollowsASmallerMemoryLimit) {
  auto s = ParseBoxSpec(R"({"command": "x", "memory_max": "32M"})", "b.json");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->scratch_size, kDefaultScratchSize);  // mounted at memory_max (mounts.cpp)
}

TEST(BoxSpec, RootfsResolvingToTheHostRootIsRefused) {
  char tmpl[] = "/tmp/silk-spec-rootfs-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  for (const std::string& rootfs : {dir + "/../../../../", dir + "/../..", std::string("/"),
                                    std::string("//."), dir + "/link"}) {
    if (rootfs == dir + "/link") {
      ASSERT_EQ(symlink("/", rootfs.c_str()), 0);
    }
    BoxSpec spec;
    spec.command = "x";
    spec.rootfs = rootfs;
    auto v = Validate(spec);
    ASSERT_FALSE(v) << rootfs;
    EXPECT_NE(v.error().message().find("rootfs"), std::string::npos) << v.error().ToString();
    EXPECT_NE(v.error().message().find("host's root"), std::string::npos) << v.error().ToString();
  }
  BoxSpec fine;
  fine.command = "x";
  fine.rootfs = dir;
  EXPECT_TRUE(Validate(fine));
  std::filesystem::remove_all(dir);
}

TEST(BoxSpec, BoxIdsAreCheckedAgainstAStrictCharset) {
  for (const char* id : {"b123-4", "web1.slice_a", "A", "x-"}) EXPECT_TRUE(ValidateBoxId(id)) << id;
  for (std::string id :
       std::vector<std::string>{"", "../../x", "..", ".", "a/b", "a..b", "-x", ".hidden", "a b",
                                "a\nb", "\x01", std::string(65, 'a'), std::string("a\0b", 3)}) {
    auto v = ValidateBoxId(id);
    ASSERT_FALSE(v) << id;
    EXPECT_EQ(v.error().code(), ErrorCode::kInvalidInput);
    EXPECT_NE(v.error().message().find("box id"), std::string::npos) << v.error().ToString();
  }
}

TEST(BoxSpec, DeepNestingIsRefusedWithoutRecursion) {
  // 100k levels crashed the parser's error path (printing the value recursed).
  const size_t n = 100000;
  std::string deep = R"({"command": "/bin/true", "user_namespace": )" + std::string(n, '[') +
                     std::string(n, ']') + "}";
  auto s = ParseBoxSpec(deep, "deep.json");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("nested deeper than 64"), std::string::npos)
      << s.error().ToString().substr(0, 300);
  EXPECT_LT(s.error().message().size(), 400u);
  std::string objects = R"({"command": "x", "network": )";
  for (size_t i = 0; i < n; ++i) objects += R"({"a": )";
  objects += "1" + std::string(n, '}') + "}";
  auto o = ParseBoxSpec(objects, "deep.json");
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().message().find("nested deeper"), std::string::npos);
  EXPECT_LT(o.error().message().size(), 400u);
}

TEST(BoxSpec, HugeValuesAreCutInMessages) {
  std::string key(1 << 20, 'k');
  auto s = ParseBoxSpec(R"({"command": "x", ")" + key + R"(": 1})", "big.json");
  ASSERT_FALSE(s);
  EXPECT_LT(s.error().message().size(), 400u);
  auto t = ParseBoxSpec(std::string(kMaxSpecBytes + 1, ' '), "big.json");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("at most"), std::string::npos) << t.error().ToString();
}

TEST(BoxSpec, LoadReadsRegularFilesOnlyWithoutBlocking) {
  char tmpl[] = "/tmp/silk-spec-load-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string fifo = dir + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // A FIFO with no writer blocked open() forever; /dev/zero was read whole.
  for (const std::string& path : {fifo, std::string("/dev/zero"), std::string("/dev/urandom"),
                                  std::string("/dev/null"), dir}) {
    auto s = LoadBoxSpec(path);
    ASSERT_FALSE(s) << path;
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidInput) << path;
    EXPECT_NE(s.error().ToString().find("regular file"), std::string::npos) << s.error().ToString();
  }
  std::string big = dir + "/big.json";
  { std::ofstream(big) << std::string(kMaxSpecBytes + 10, ' '); }
  auto b = LoadBoxSpec(big);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().ToString().find("larger than"), std::string::npos) << b.error().ToString();
  std::string good = dir + "/box.json";
  { std::ofstream(good) << R"({"command": "/bin/true"})"; }
  EXPECT_TRUE(LoadBoxSpec(good));
  EXPECT_EQ(LoadBoxSpec(dir + "/missing.json").error().code(), ErrorCode::kNotFound);
  std::filesystem::remove_all(dir);
}

// A uid without a gid runs in that user's primary group from the box's own /etc/passwd,
// else the uid's number: never group root for another user (issue 12).
TEST(BoxSpec, AUidAloneGetsItsOwnGroupNeverRoot) {
  char tmpl[] = "/tmp/silk-spec-passwd-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  ASSERT_EQ(mkdir((dir + "/etc").c_str(), 0755), 0);
  std::ofstream(dir + "/etc/real-passwd") << "root:x:0:0:root:/root:/bin/sh\n"
                                          << "app:x:1000:1234::/home/app:/bin/sh\n"
                                          << "wheel:x:1001:0::/:/bin/sh\n"
                                          << "broken:x:1002:12ab::/:/bin/sh\n";
  // An absolute link resolves inside the rootfs, never to the host's file.
  ASSERT_EQ(symlink("/etc/real-passwd", (dir + "/etc/passwd").c_str()), 0);
  EXPECT_EQ(DefaultBoxGid(1000, dir), 1234u);
  EXPECT_EQ(DefaultBoxGid(1001, dir), 1001u) << "a passwd entry naming group root";
  EXPECT_EQ(DefaultBoxGid(1002, dir), 1002u);
  EXPECT_EQ(DefaultBoxGid(4242, dir), 4242u) << "a user passwd does not name";
  EXPECT_EQ(DefaultBoxGid(0, dir), 0u);
  EXPECT_EQ(DefaultBoxGid(1000, dir + "/no-such-root"), 1000u);

  auto spec = ParseBoxSpec(R"({"command": "id", "uid": 1000, "rootfs": ")" + dir + R"("})", "s");
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->gid, 1234u);
  auto given =
      ParseBoxSpec(R"({"command": "id", "uid": 1000, "gid": 5, "rootfs": ")" + dir + R"("})", "s");
  ASSERT_TRUE(given) << given.error().ToString();
  EXPECT_EQ(given->gid, 5u) << "a gid given is kept";
  auto root = ParseBoxSpec(R"({"command": "id"})", "s");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->gid, 0u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace silk::compat

namespace silk::compat {
namespace {

// `silk box run --net` and `--userns` words are compat's (one grammar for flags and specs).
TEST(BoxSpecFlags, NetworkFlagGrammar) {
  auto none = ParseNetworkFlag("none");
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_EQ(none->mode, NetworkMode::kNone);
  auto veth = ParseNetworkFlag("bridge=br0,address=10.77.0.2/24,gateway=10.77.0.1,egress=1M");
  ASSERT_TRUE(veth) << veth.error().ToString();
  EXPECT_EQ(veth->mode, NetworkMode::kVeth);
  EXPECT_EQ(veth->bridge, "br0");
  EXPECT_EQ(veth->address, "10.77.0.2/24");
  EXPECT_EQ(veth->gateway, "10.77.0.1");
  EXPECT_EQ(veth->egress_rate, 1u << 20);
  auto unknown = ParseNetworkFlag("bridge=br0,colour=red");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("unknown key 'colour'"), std::string::npos)
      << unknown.error().message();
  auto bad_rate = ParseNetworkFlag("bridge=br0,address=10.77.0.2/24,egress=fast");
  ASSERT_FALSE(bad_rate);
  EXPECT_NE(bad_rate.error().ToString().find("egress"), std::string::npos)
      << bad_rate.error().ToString();
}

TEST(BoxSpecFlags, UserNamespaceModesAreTheSpecsWords) {
  for (auto mode :
       {UserNamespaceMode::kAuto, UserNamespaceMode::kAlways, UserNamespaceMode::kNever}) {
    auto back = ParseUserNamespaceMode(UserNamespaceModeName(mode));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, mode);
  }
  auto typo = ParseUserNamespaceMode("nevr");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message().find("did you mean 'never'"), std::string::npos)
      << typo.error().message();
}

}  // namespace
}  // namespace silk::compat
