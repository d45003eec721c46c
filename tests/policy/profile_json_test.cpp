// p1: the profile JSON reader/writer: round trips (including the real Podman default
// profile), diagnostics with file:line:column for malformed input, robustness.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>

#include "base/file.hpp"
#include "base/json_object.hpp"
#include "policy/effective.hpp"
#include "policy/internal/json_source_map.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"
#include "profile_test_util.hpp"

namespace silk::policy {
namespace {

using testing::EffectiveText;
using testing::FirstProblem;

constexpr const char* kPodmanProfile = "/usr/share/containers/seccomp.json";

TEST(ProfileJson, PodmanDefaultRoundTripKeepsEffectivePolicy) {
  auto text = ReadFile(kPodmanProfile);
  ASSERT_TRUE(text) << text.error().ToString()
                    << " (ci/setup installs golang-github-containers-common)";
  auto parsed = ParseProfile(*text, kPodmanProfile);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->default_action, Action::kErrno);
  EXPECT_EQ(parsed->default_errno_ret, 38u);
  EXPECT_GT(parsed->syscalls.size(), 30u);
  EXPECT_EQ(parsed->arch_map.size(), 7u);

  ResolveOptions opts;
  opts.arch = "x86_64";
  opts.kernel = KernelVersion{6, 1};
  auto resolved = Resolve(*parsed, opts);
  ASSERT_TRUE(resolved) << resolved.error().ToString();
  EXPECT_EQ(resolved->architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  std::string written = WriteProfile(*resolved);
  auto reread = ParseProfile(written, "written.json");
  ASSERT_TRUE(reread) << reread.error().ToString();
  EXPECT_EQ(*reread, *resolved);
  EXPECT_EQ(WriteProfile(*reread), written);

  for (const char* arch : {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}) {
    auto a = MakeEffective(*resolved, arch);
    auto b = MakeEffective(*reread, arch);
    ASSERT_TRUE(a) << a.error().ToString();
    ASSERT_TRUE(b) << b.error().ToString();
    EXPECT_EQ(EffectiveText(*a), EffectiveText(*b)) << arch;
    EXPECT_GT(a->syscalls.size(), 300u) << arch;
  }
  // The unresolved profile round-trips too, extensions included.
  auto again = ParseProfile(WriteProfile(*parsed), "w.json");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, *parsed);
}

TEST(ProfileJson, WriterIsCanonicalAndRoundTripsEveryField) {
  Profile p;
  p.default_action = Action::kErrno;
  p.default_errno_ret = 1;
  p.arch_map = {{"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86"}}};
  p.flags = {"SECCOMP_FILTER_FLAG_LOG"};
  p.listener_path = "/run/silk/notify.sock";
  p.listener_metadata = "box=1";
  SyscallRule r;
  r.names = {"read", "write"};
  r.action = Action::kAllow;
  r.comment = "io";
  r.includes.caps = {"CAP_SYS_ADMIN"};
  r.includes.min_kernel = "5.8";
  r.excludes.arches = {"x32"};
  p.syscalls.push_back(r);
  SyscallRule e;
  e.names = {"ioctl"};
  e.action = Action::kErrno;
  e.errno_ret = 13;
  e.args = {{1, 0xff00, 0x5400, ArgOp::kMaskedEqual}, {2, 7, 0, ArgOp::kGreaterEqual}};
  p.syscalls.push_back(e);
  p.meta.name = "t";
  p.meta.extends = "podman-default";
  p.meta.generation = 2;
  p.meta.horizon = "6.1";
  p.meta.clone3 = Clone3Policy::kDeny;
  p.meta.notes = "hand-made";
  EXPECT_TRUE(ValidateProfile(p).empty()) << ValidateProfile(p)[0].ToString();
  std::string text = WriteProfile(p);
  auto back = ParseProfile(text);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, p);
  EXPECT_EQ(WriteProfile(*back), text);
  // Key order is fixed: defaultAction first, silk last.
  EXPECT_EQ(text.find("\"defaultAction\""), 4u);
  EXPECT_GT(text.find("\"silk\""), text.find("\"syscalls\""));
  // Plain output drops silk metadata and comments.
  std::string plain = WriteProfile(p, {.meta = false, .comments = false});
  EXPECT_EQ(plain.find("\"silk\""), std::string::npos);
  EXPECT_EQ(plain.find("comment"), std::string::npos);
}

TEST(ProfileJson, ErrnoNamesAreReconciled) {
  auto p = ParseProfile(R"({"defaultAction":"SCMP_ACT_ERRNO","defaultErrno":"ENOSYS",
    "syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errno":"EACCES"}]})");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->default_errno_ret, 38u);
  EXPECT_EQ(p->syscalls[0].errno_ret, 13u);
  std::string mismatch = FirstProblem(
      R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],
      "action":"SCMP_ACT_ERRNO","errnoRet":1,"errno":"EACCES"}]})");
  EXPECT_NE(
      mismatch.find("t.json:2:54: syscalls[0].errno: 'errno' is EACCES (13) but 'errnoRet' is 1"),
      std::string::npos)
      << mismatch;
}

struct BadCase {
  const char* name;
  const char* text;
  const char* expected;  // substring of the first diagnostic, starting at the file name
};

class ProfileJsonErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ProfileJsonErrors, NamesLineColumnPathAndWhat) {
  const BadCase& c = GetParam();
  std::string got = FirstProblem(c.text);
  EXPECT_NE(got.find(c.expected), std::string::npos) << "got: " << got;
  auto parsed = ParseProfile(c.text, "t.json");
  EXPECT_FALSE(parsed);
  if (!parsed) {
    EXPECT_EQ(parsed.error().code(), ErrorCode::kInvalidInput);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ProfileJsonErrors,
    ::testing::Values(
        BadCase{"empty", "", "t.json:1:1: invalid JSON"},
        BadCase{"trailing_comma", "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [],\n}",
                "t.json:3:1: invalid JSON"},
        BadCase{
            "not_object", "[1, 2]",
            "t.json:1:1: (top level): expected seccomp profile (a JSON object), found an array"},
        BadCase{"unknown_top_field", "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscals\": []}",
                "t.json:2:3: syscals: unknown field 'syscals' in seccomp profile; did you mean "
                "'syscalls'?"},
        BadCase{"missing_default", "{\"syscalls\": []}",
                "t.json:1:1: defaultAction: missing required field 'defaultAction'"},
        BadCase{"bad_action", "{\"defaultAction\": \"SCMP_ACT_ERNO\"}",
                "t.json:1:19: defaultAction: unknown action 'SCMP_ACT_ERNO'; did you mean "
                "'SCMP_ACT_ERRNO'"},
        BadCase{"action_not_string", "{\"defaultAction\": 3}",
                "t.json:1:19: defaultAction: expected a string, found the number 3"},
        BadCase{"unknown_syscall",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"syscalls\": [\n  {\"names\": "
                "[\"read\", \"opne\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
                "t.json:3:22: syscalls[0].names[1]: unknown syscall 'opne'; did you mean"},
        BadCase{"duplicate_name",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\", "
                "\"read\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
                "syscalls[0].names[1]: syscall 'read' is listed twice"},
        BadCase{"arg_index",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": 6, \"value\": 1, \"op\": "
                "\"SCMP_CMP_EQ\"}]}]}",
                "t.json:2:21: syscalls[0].args[0].index: expected an integer in 0..5, found 6"},
        BadCase{"negative_value",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": 0, \"value\": -1, "
                "\"op\": \"SCMP_CMP_EQ\"}]}]}",
                "t.json:2:33: syscalls[0].args[0].value: expected a non-negative integer (up to "
                "2^64-1), found the number -1"},
        BadCase{"float_value",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": 0, \"value\": 1.5, "
                "\"op\": \"SCMP_CMP_EQ\"}]}]}",
                "found the non-integer number 1.5"},
        BadCase{"bad_op",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": 0, \"value\": 1, \"op\": "
                "\"SCMP_CMP_EQUAL\"}]}]}",
                "t.json:2:42: syscalls[0].args[0].op: unknown operator 'SCMP_CMP_EQUAL'"},
        BadCase{"value_two_without_masked_eq",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": 0, \"value\": 1, "
                "\"valueTwo\": 2, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                "t.json:2:36: syscalls[0].args[0].valueTwo: valueTwo is only used by "
                "SCMP_CMP_MASKED_EQ"},
        BadCase{"masked_eq_never_matches",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\",\n \"args\": [{\"index\": 0, \"value\": 1, "
                "\"valueTwo\": 2, \"op\": \"SCMP_CMP_MASKED_EQ\"}]}]}",
                "SCMP_CMP_MASKED_EQ can never match"},
        BadCase{"errno_for_allow",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [\n{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\", \"errnoRet\": 1}]}",
                "t.json:2:49: syscalls[0].errnoRet: an errno makes no sense for SCMP_ACT_ALLOW"},
        BadCase{"errno_range", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 5000}",
                "t.json:1:56: defaultErrnoRet: expected an errno in 1..4095 for SCMP_ACT_ERRNO, "
                "found 5000"},
        BadCase{"errno_zero", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 0}",
                "0 would make a denied syscall report success"},
        BadCase{"unknown_errno_name",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrno\": \"EPREM\"}",
                "t.json:1:53: defaultErrno: unknown errno name 'EPREM'; did you mean 'EPERM'?"},
        BadCase{"unknown_cap",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\",\n \"includes\": {\"caps\": [\"CAP_SYS_ADMN\"]}}]}",
                "t.json:2:24: syscalls[0].includes.caps[0]: unknown capability 'CAP_SYS_ADMN'; did "
                "you mean 'CAP_SYS_ADMIN'"},
        BadCase{
            "includes_arch_spelling",
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
            "\"action\": \"SCMP_ACT_ALLOW\",\n \"includes\": {\"arches\": [\"x86_64\"]}}]}",
            "syscalls[0].includes.arches[0]: expected the OCI spelling 'amd64', found 'x86_64'"},
        BadCase{
            "min_kernel",
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
            "\"action\": \"SCMP_ACT_ALLOW\",\n \"includes\": {\"minKernel\": \"five\"}}]}",
            "t.json:2:28: syscalls[0].includes.minKernel: expected a kernel version MAJOR.MINOR"},
        BadCase{"unknown_filter_field",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], "
                "\"action\": \"SCMP_ACT_ALLOW\",\n \"excludes\": {\"cap\": []}}]}",
                "t.json:2:15: syscalls[0].excludes.cap: unknown field 'cap' in 'excludes' filter; "
                "did you mean 'caps'?"},
        BadCase{"arch_spelling",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"amd64\"]}",
                "t.json:1:55: architectures[0]: expected the libseccomp spelling "
                "'SCMP_ARCH_X86_64', found 'amd64'"},
        BadCase{
            "unknown_arch",
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_46\"]}",
            "architectures[0]: unknown architecture 'SCMP_ARCH_X86_46'; did you mean"},
        BadCase{"arches_and_archmap",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": "
                "[\"SCMP_ARCH_X86_64\"],\n\"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}",
                "t.json:2:1: archMap: both 'architectures' and 'archMap' are set"},
        BadCase{
            "unknown_flag",
            "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": [\"SECCOMP_FILTER_FLAG_LOGG\"]}",
            "flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_LOGG'; did you mean "
            "'SECCOMP_FILTER_FLAG_LOG'"},
        BadCase{"metadata_without_listener",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"listenerMetadata\": \"x\"}",
                "listenerMetadata: listenerMetadata needs listenerPath"},
        BadCase{"missing_names",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"action\": "
                "\"SCMP_ACT_ALLOW\"}]}",
                "syscalls[0].names: missing required field 'names'"},
        BadCase{"names_not_array",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": \"read\", "
                "\"action\": \"SCMP_ACT_ALLOW\"}]}",
                "syscalls[0].names: expected an array of strings, found the string \"read\""},
        BadCase{"duplicate_key",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\",\n \"defaultAction\": \"SCMP_ACT_ALLOW\"}",
                "t.json:2:2: defaultAction: duplicate key"},
        BadCase{"meta_unknown_field",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"silk\": {\"name\": \"a\", \"extend\": "
                "\"b\"}}",
                "silk.extend: unknown field 'extend' in silk metadata; did you mean 'extends'?"},
        BadCase{"meta_extends_itself",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"silk\": {\"name\": \"a\", \"extends\": "
                "\"a\"}}",
                "silk.extends: a profile cannot extend itself"},
        BadCase{"meta_clone3",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"silk\": {\"clone3\": \"ENOSYS\"}}",
                "silk.clone3: unknown clone3 policy 'ENOSYS'"},
        BadCase{"meta_horizon",
                "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"silk\": {\"horizon\": \"latest\"}}",
                "silk.horizon: expected a kernel version MAJOR.MINOR"},
        BadCase{"too_deep",
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                "JSON nested deeper than 64 levels"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(ProfileJson, ReportsEveryProblemNotOnlyTheFirst) {
  const char* text = R"({
  "defaultAction": "SCMP_ACT_ERRNO",
  "flagz": [],
  "syscalls": [
    {"names": ["read", "opne"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["write"], "action": "SCMP_ACT_ALOW"},
    {"names": ["close"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}
  ]
})";
  ProfileCheck c = CheckProfileText(text, "multi.json");
  ASSERT_EQ(c.diagnostics.size(), 4u);
  EXPECT_FALSE(c.profile);
  EXPECT_EQ(c.diagnostics[0].line, 3);  // flagz
  EXPECT_EQ(c.diagnostics[1].line, 5);  // opne
  EXPECT_EQ(c.diagnostics[1].path, "syscalls[0].names[1]");
  EXPECT_EQ(c.diagnostics[2].line, 6);  // SCMP_ACT_ALOW
  EXPECT_EQ(c.diagnostics[3].line, 7);  // errnoRet with allow
  auto err = ParseProfile(text, "multi.json");
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message().find("(4 errors)"), std::string::npos);
}

TEST(ProfileJson, LegacyNameAndNullFieldsAreAccepted) {
  auto p = ParseProfile(R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":null,
    "syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","args":null,"includes":{},"excludes":{}}]})");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->syscalls[0].names, std::vector<std::string>{"read"});
}

TEST(ProfileJson, ValidateProfileNamesPathsWithoutLines) {
  Profile p;
  SyscallRule r;
  r.names = {"reed"};
  p.syscalls.push_back(r);
  auto d = ValidateProfile(p, "code");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].line, 0);
  EXPECT_EQ(d[0].path, "syscalls[0].names[0]");
  EXPECT_NE(d[0].ToString().find(
                "code: syscalls[0].names[0]: unknown syscall 'reed'; did you mean 'read'"),
            std::string::npos)
      << d[0].ToString();
}

std::string NamesProfile(const std::vector<std::string>& names) {
  nlohmann::json j = {{"defaultAction", "SCMP_ACT_ERRNO"},
                      {"syscalls", {{{"names", names}, {"action", "SCMP_ACT_ALLOW"}}}}};
  return j.dump();
}

TEST(ProfileJson, ErrorsBeyondTheFirstHundredAreCountedNotListed) {
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) names.push_back("nosuch" + std::to_string(i));
  ProfileCheck c = CheckProfileText(NamesProfile(names), "t.json");
  EXPECT_FALSE(c.profile);
  ASSERT_EQ(c.diagnostics.size(), kMaxDiagnostics);
  EXPECT_EQ(c.omitted, 4900u);
  EXPECT_EQ(c.diagnostics[0].path, "syscalls[0].names[0]");
  EXPECT_GT(c.diagnostics[0].line, 0);
  auto parsed = ParseProfile(NamesProfile(names), "t.json");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message().find("... and 4900 more (only the first 100 are listed)"),
            std::string::npos);
}

// A 1 MiB syscall name costs no suggestion search and is cut short in the message.
TEST(ProfileJson, HugeNamesAreReportedShort) {
  ProfileCheck c = CheckProfileText(NamesProfile({std::string(1 << 20, 'a')}), "t.json");
  ASSERT_EQ(c.diagnostics.size(), 1u);
  EXPECT_LT(c.diagnostics[0].message.size(), 300u) << c.diagnostics[0].message.substr(0, 300);
  EXPECT_NE(c.diagnostics[0].message.find("(1048576 bytes)"), std::string::npos);
  // A long key full of '/' (JSON pointers are not escaped) over a big array.
  std::string text = "{\"" + std::string(1 << 20, '/') + "\": [";
  for (int i = 0; i < 10000; ++i) text += i ? ",0" : "0";
  text += "], \"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": []}";
  ProfileCheck k = CheckProfileText(text, "t.json");
  ASSERT_EQ(k.diagnostics.size(), 1u);
  EXPECT_EQ(k.diagnostics[0].line, 1);
  EXPECT_EQ(k.diagnostics[0].column, 2);
}

TEST(ProfileJson, TooManyValuesAreRefusedBeforeParsing) {
  std::string text = "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [";
  for (int i = 0; i < 200000; ++i) text += i ? ",0" : "0";
  text += "]}";
  ProfileCheck c = CheckProfileText(text, "t.json");
  ASSERT_EQ(c.diagnostics.size(), 1u);
  EXPECT_NE(c.diagnostics[0].message.find("JSON values"), std::string::npos);
}

// Bounded memory: 100k unknown syscall names are checked under a 256 MiB address-space
// limit (in a child, so the limit stays there).
TEST(ProfileJson, ManyErrorsFitInBoundedMemory) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan reserves terabytes of shadow address space: an RLIMIT_AS bound cannot hold";
#endif
  std::vector<std::string> names;
  for (int i = 0; i < 100000; ++i) names.push_back("nosuch" + std::to_string(i));
  std::string text = NamesProfile(names);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct rlimit lim = {256u << 20, 256u << 20};
    if (::setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(3);
    ProfileCheck c = CheckProfileText(text, "t.json");
    ::_exit(c.diagnostics.size() == kMaxDiagnostics && c.omitted == 99900 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(JsonSourceMap, PositionsOfValuesKeysAndMissingFields) {
  std::string text = "{\n  \"a\": [1, {\"b\": \"x\\\"y\"}],\n  \"c\": true\n}";
  auto map = internal::JsonSourceMap::Scan(text);
  EXPECT_EQ(map.ValuePos("").line, 1);
  EXPECT_EQ(map.KeyPos("/a").line, 2);
  EXPECT_EQ(map.KeyPos("/a").column, 3);
  EXPECT_EQ(map.ValuePos("/a/1/b").column, 18);
  EXPECT_EQ(map.ValuePos("/c").line, 3);
  EXPECT_EQ(map.ValuePos("/c").column, 8);
  // A missing field points at its object.
  EXPECT_EQ(map.ValuePos("/a/1/zz").column, 12);
  EXPECT_TRUE(map.duplicates().empty());
  EXPECT_EQ(JsonPointerToDisplay("/syscalls/3/names/0"), "syscalls[3].names[0]");
  // Columns count characters, not bytes.
  auto utf = internal::JsonSourceMap::Scan("{\"é\": 1, \"x\": 2}");
  EXPECT_EQ(utf.KeyPos("/x").column, 10);
}

// Random byte-level mutations of a valid profile: never a crash, and anything accepted
// writes and re-reads to the same profile. (The libFuzzer target in tests/fuzz goes
// further; this keeps a quick version in every unit run.)
TEST(ProfileJson, MutatedInputNeverCrashesAndAcceptedInputRoundTrips) {
  auto base = ReadFile(kPodmanProfile);
  ASSERT_TRUE(base) << base.error().ToString();
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\":,0123456789-.eE \n\\atrufnl";
  int accepted = 0;
  for (int i = 0; i < 300; ++i) {
    std::string t = *base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % t.size();
      switch (rng() % 3) {
        case 0:
          t[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          t.erase(at, 1 + rng() % 8);
          break;
        default:
          t.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
    }
    ProfileCheck c = CheckProfileText(t, "m.json");
    if (c.profile) {
      ++accepted;
      auto again = ParseProfile(WriteProfile(*c.profile));
      ASSERT_TRUE(again) << again.error().ToString();
      EXPECT_EQ(*again, *c.profile);
    } else {
      ASSERT_FALSE(c.diagnostics.empty());
      for (const auto& d : c.diagnostics) EXPECT_FALSE(d.message.empty());
    }
  }
  RecordProperty("accepted", accepted);
}

}  // namespace
}  // namespace silk::policy
