// The supervisor is not the box's memory (root): floods of distinct denied calls leave the
// supervisor's records capped and flagged, and its peak RSS flat. Each flood runs RunBox in
// a forked child, which reports its own VmHWM growth through a pipe.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "box_test_util.hpp"

namespace silk::compat {
namespace {

using testing::ProbeSpec;
using testing::RootBoxTest;
using testing::TestRootfs;

constexpr long kCalls = 100000;

long StatusKib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field, 0) == 0) return std::strtol(line.c_str() + strlen(field), nullptr, 10);
  return -1;
}

struct FloodResult {
  bool ok = false;
  int exit_status = -1;
  long rss_before_kib = 0, hwm_after_kib = 0;
  size_t denials = 0, folded_denials = 0, raw = 0;
  uint64_t folded = 0, folded_raw = 0, total = 0, first_folded_count = 0;
  bool capped = false;
  char first_folded[32] = {};
  size_t text_bytes = 0, json_bytes = 0;
  bool text_says_capped = false, json_says_capped = false;
};

// Runs `spec` in a forked child (so that VmHWM is this run's alone) with its stdout on
// /dev/null, and returns what the child saw.
FloodResult RunFlood(const BoxSpec& spec, const RunOptions& opts) {
  int p[2];
  if (pipe(p) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    FILE* null = fopen("/dev/null", "w");
    dup2(fileno(null), 1);
    FloodResult r;
    r.rss_before_kib = StatusKib("VmRSS:");
    auto o = RunBox(spec, opts);
    r.hwm_after_kib = StatusKib("VmHWM:");
    if (o) {
      r.ok = true;
      r.exit_status = o->exit_status;
      const DenialReport& d = o->denials;
      r.denials = d.denials.size();
      r.folded_denials = d.folded_denials.size();
      r.raw = d.raw_socket_decisions.size();
      r.folded = d.folded;
      r.folded_raw = d.folded_raw_socket_decisions;
      r.total = d.total();
      r.capped = d.capped();
      if (!d.folded_denials.empty()) {
        snprintf(r.first_folded, sizeof r.first_folded, "%s", d.folded_denials[0].syscall.c_str());
        r.first_folded_count = d.folded_denials[0].count;
      }
      std::string text = d.ToText(), json = d.ToJson();
      r.text_bytes = text.size();
      r.json_bytes = json.size();
      r.text_says_capped = text.find("report capped at 1024 distinct denials") != std::string::npos;
      r.json_says_capped = json.find("\"capped\": true") != std::string::npos;
    } else {
      fprintf(stderr, "RunBox: %s\n", o.error().ToString().c_str());
    }
    (void)!write(p[1], &r, sizeof r);
    _exit(0);
  }
  close(p[1]);
  FloodResult r;
  if (read(p[0], &r, sizeof r) != sizeof r) r.ok = false;
  close(p[0]);
  int st;
  waitpid(pid, &st, 0);
  printf(
      "%s: supervisor VmRSS before %ld KiB, VmHWM after %ld KiB; report %zu B text, %zu B JSON\n",
      spec.args[0].c_str(), r.rss_before_kib, r.hwm_after_kib, r.text_bytes, r.json_bytes);
  return r;
}

class BoxSupervisorTest : public RootBoxTest {
 protected:
};

// 100k packet sockets of distinct protocols, refused (recorded without --report-denials).
TEST_F(BoxSupervisorTest, PacketSocketFloodIsCappedAndFlagged) {
  auto s = ProbeSpec(root_, {"socketflood", std::to_string(kCalls)});
  FloodResult r = RunFlood(s, opts_);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.raw, DenialReport::kMaxEntries);
  EXPECT_EQ(r.folded_raw, kCalls - DenialReport::kMaxEntries);
  EXPECT_EQ(r.denials, DenialReport::kMaxEntries);
  EXPECT_EQ(r.folded, kCalls - DenialReport::kMaxEntries);
  EXPECT_EQ(r.total, static_cast<uint64_t>(kCalls));
  ASSERT_EQ(r.folded_denials, 1u);
  EXPECT_STREQ(r.first_folded, "socket");
  EXPECT_EQ(r.first_folded_count, kCalls - DenialReport::kMaxEntries);
  EXPECT_TRUE(r.capped);
  EXPECT_TRUE(r.text_says_capped);
  EXPECT_TRUE(r.json_says_capped);
  // Uncapped, 100k decisions grew the supervisor by ~27 MB (270 MB per million).
  EXPECT_LT(r.hwm_after_kib - r.rss_before_kib, 8 * 1024)
      << "VmRSS before " << r.rss_before_kib << " KiB, VmHWM after " << r.hwm_after_kib << " KiB";
}

// 100k acct() calls with distinct arguments under report_denials.
TEST_F(BoxSupervisorTest, ReportedDenialFloodIsCappedAndFlagged) {
  auto s = ProbeSpec(root_, {"acctflood", std::to_string(kCalls)});
  s.report_denials = true;
  FloodResult r = RunFlood(s, opts_);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.denials, DenialReport::kMaxEntries);
  EXPECT_EQ(r.folded, kCalls - DenialReport::kMaxEntries);
  EXPECT_EQ(r.total, static_cast<uint64_t>(kCalls));
  ASSERT_EQ(r.folded_denials, 1u);
  EXPECT_STREQ(r.first_folded, "acct");
  EXPECT_TRUE(r.capped);
  EXPECT_TRUE(r.text_says_capped);
  EXPECT_TRUE(r.json_says_capped);
  EXPECT_LT(r.json_bytes, 1u << 20);  // was 267 MB for 1M calls
  EXPECT_LT(r.hwm_after_kib - r.rss_before_kib, 8 * 1024)
      << "VmRSS before " << r.rss_before_kib << " KiB, VmHWM after " << r.hwm_after_kib << " KiB";
}

// A box with few denials is reported whole, unflagged.
TEST_F(BoxSupervisorTest, SmallReportIsNotCapped) {
  auto s = ProbeSpec(root_, {"acctflood", "10"});
  s.report_denials = true;
  FloodResult r = RunFlood(s, opts_);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.denials, 10u);
  EXPECT_EQ(r.folded, 0u);
  EXPECT_FALSE(r.capped);
  EXPECT_FALSE(r.text_says_capped);
  EXPECT_FALSE(r.json_says_capped);
}

}  // namespace
}  // namespace silk::compat
