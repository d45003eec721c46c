// p1: `silk policy ...` end to end: runs the built silk binary and checks exit codes
// (0 ok, 1 failure, 2 usage) and output.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file.hpp"
#include "policy/builtin.hpp"
#include "policy/effective.hpp"
#include "policy/profile_json.hpp"
#include "policy/resolve.hpp"
#include "profile_test_util.hpp"

namespace silk::policy {
namespace {

using testing::EffectiveText;
using testing::TempDir;

struct CliRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs silk with `args` and the shell redirections `redirect`, capturing what reaches
// the pipe.
CliRun SilkRedirected(const std::string& args, const std::string& redirect) {
  std::string cmd = std::string(SILK_BINARY_DIR) + "/cli/silk " + args + " " + redirect;
  CliRun r;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.output.append(buf, n);
  int status = ::pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// stdout and stderr.
CliRun Silk(const std::string& args) { return SilkRedirected(args, "2>&1"); }
// stdout alone: what a script reading --json sees.
CliRun SilkStdout(const std::string& args) { return SilkRedirected(args, "2>/dev/null"); }
// stderr alone.
CliRun SilkStderr(const std::string& args) { return SilkRedirected(args, "2>&1 >/dev/null"); }

TEST(PolicyCli, LintOkAndErrors) {
  TempDir dir;
  ASSERT_TRUE(
      WriteFileAtomic(dir.File("bad.json"),
                      "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [\n"
                      "    {\"names\": [\"opne\"], \"action\": \"SCMP_ACT_ALLOW\"}\n  ]\n}\n"));
  CliRun ok = Silk("policy lint gen0-sliver podman-default");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("<builtin:gen0-sliver>: ok"), std::string::npos) << ok.output;
  CliRun bad = Silk("policy lint gen0-sliver " + dir.File("bad.json"));
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find(dir.File("bad.json") +
                            ":4:16: syscalls[0].names[0]: unknown syscall 'opne'; did you mean"),
            std::string::npos)
      << bad.output;
  CliRun json = Silk("policy lint --json " + dir.File("bad.json"));
  EXPECT_EQ(json.exit_code, 1);
  auto j = nlohmann::json::parse(json.output, nullptr, false);
  ASSERT_TRUE(j.is_array()) << json.output;
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["line"], 4);
  EXPECT_EQ(j[0]["column"], 16);
  // Invalid UTF-8 is a syntax error, reported as valid JSON.
  ASSERT_TRUE(WriteFileAtomic(dir.File("latin1.json"),
                              "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"x\": \"\xe9t\xe9\"}"));
  CliRun latin1 = Silk("policy lint --json " + dir.File("latin1.json"));
  EXPECT_EQ(latin1.exit_code, 1) << latin1.output;
  auto l = nlohmann::json::parse(latin1.output, nullptr, false);
  ASSERT_TRUE(l.is_array()) << latin1.output;
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["line"], 1);
  EXPECT_EQ(l[0]["column"], 44);  // where decoding failed: the byte after \xe9
  CliRun missing = Silk("policy lint " + dir.File("absent.json"));
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  CliRun usage = Silk("policy lint");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
}

// A FIFO fails at once instead of blocking in open(); a device is refused instead of
// read whole.
TEST(PolicyCli, LintAndShowReadRegularFilesOnly) {
  TempDir dir;
  ASSERT_EQ(::mkfifo(dir.File("fifo").c_str(), 0600), 0);
  CliRun fifo = Silk("policy lint " + dir.File("fifo") + " /dev/zero");
  EXPECT_EQ(fifo.exit_code, 1) << fifo.output;
  EXPECT_NE(fifo.output.find(dir.File("fifo") + " is a FIFO; expected a regular file"),
            std::string::npos)
      << fifo.output;
  EXPECT_NE(fifo.output.find("/dev/zero is a character device"), std::string::npos) << fifo.output;
  EXPECT_NE(fifo.output.find("2 errors"), std::string::npos) << fifo.output;
  CliRun show = Silk("policy show /dev/urandom");
  EXPECT_EQ(show.exit_code, 1) << show.output;
  EXPECT_NE(show.output.find("/dev/urandom is a character device"), std::string::npos)
      << show.output;
  CliRun compile = Silk("policy compile " + dir.File("fifo") + " --out " + dir.File("out"));
  EXPECT_EQ(compile.exit_code, 1) << compile.output;
  EXPECT_NE(compile.output.find("is a FIFO"), std::string::npos) << compile.output;
}

// lint runs the checks compile runs: a rule whose 200 argument conditions do not fit
// classic BPF's jumps fails both.
TEST(PolicyCli, LintRefusesWhatCompileRefuses) {
  TempDir dir;
  nlohmann::json args = nlohmann::json::array();
  for (int i = 0; i < 200; ++i)
    args.push_back({{"index", i % 6}, {"value", i}, {"op", "SCMP_CMP_NE"}});
  nlohmann::json profile = {
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"syscalls", {{{"names", {"personality"}}, {"action", "SCMP_ACT_ALLOW"}, {"args", args}}}}};
  ASSERT_TRUE(WriteFileAtomic(dir.File("p.json"), profile.dump()));
  CliRun compile = Silk("policy compile " + dir.File("p.json") + " --out " + dir.File("out"));
  EXPECT_EQ(compile.exit_code, 1) << compile.output;
  CliRun lint = Silk("policy lint " + dir.File("p.json"));
  EXPECT_EQ(lint.exit_code, 1) << lint.output;
  EXPECT_NE(lint.output.find("8-bit offsets; split the rule"), std::string::npos) << lint.output;
}

// 100k unknown names: the first kMaxDiagnostics are listed, the rest counted.
TEST(PolicyCli, LintListsAtMostTheFirstHundredErrors) {
  TempDir dir;
  nlohmann::json names = nlohmann::json::array();
  for (int i = 0; i < 100000; ++i) names.push_back("nosuch" + std::to_string(i));
  nlohmann::json profile = {{"defaultAction", "SCMP_ACT_ERRNO"},
                            {"syscalls", {{{"names", names}, {"action", "SCMP_ACT_ALLOW"}}}}};
  ASSERT_TRUE(WriteFileAtomic(dir.File("p.json"), profile.dump()));
  CliRun lint = Silk("policy lint " + dir.File("p.json"));
  EXPECT_EQ(lint.exit_code, 1);
  EXPECT_NE(lint.output.find("... and 99900 more errors (only the first 100 are listed)"),
            std::string::npos)
      << lint.output.substr(lint.output.size() > 500 ? lint.output.size() - 500 : 0);
  EXPECT_NE(lint.output.find("\n100000 errors\n"), std::string::npos);
  EXPECT_LT(std::count(lint.output.begin(), lint.output.end(), '\n'), 110);
}

TEST(PolicyCli, ShowTextAndJson) {
  CliRun text = Silk("policy show gen0-sliver --caps none");
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("profile gen0-sliver (extends podman-default), generation 0"),
            std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("errno(ENOSYS)"), std::string::npos);
  CliRun json = Silk("policy show podman-default --arch x86 --caps none --json");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto j = nlohmann::json::parse(json.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << json.output;
  EXPECT_EQ(j["effective"]["arch"], "SCMP_ARCH_X86");
  EXPECT_GT(j["effective"]["syscalls"].size(), 300u);
  CliRun bad_arch = Silk("policy show gen0-sliver --arch amd46");
  EXPECT_EQ(bad_arch.exit_code, 2) << bad_arch.output;
  EXPECT_NE(bad_arch.output.find("amd64"), std::string::npos) << bad_arch.output;
  CliRun bad_caps = Silk("policy show gen0-sliver --caps CAP_SYS_ADMN");
  EXPECT_EQ(bad_caps.exit_code, 2) << bad_caps.output;
  CliRun missing = Silk("policy show no-such-profile");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
}

TEST(PolicyCli, ExportWritesPlainOciWithTheSameEffectivePolicy) {
  TempDir dir;
  std::string out = dir.File("podman-amd64.json");
  CliRun r =
      Silk("policy export podman-default --out " + out + " --arch amd64 --caps none --kernel 6.1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto text = ReadFile(out);
  ASSERT_TRUE(text);
  for (const char* absent : {"\"silk\"", "archMap", "includes", "excludes", "comment"})
    EXPECT_EQ(text->find(absent), std::string::npos) << absent;
  auto exported = ParseProfile(*text, out);
  ASSERT_TRUE(exported) << exported.error().ToString();
  EXPECT_EQ(exported->architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));

  auto builtin = BuiltinProfile("podman-default");
  ASSERT_TRUE(builtin);
  ResolveOptions o;
  o.arch = "amd64";
  o.caps = {};
  o.kernel = KernelVersion{6, 1};
  auto resolved = Resolve(*builtin, o);
  ASSERT_TRUE(resolved);
  // podman-default allows clone3 by name, so an exported profile read without
  // metadata must mean the same.
  for (const char* arch : {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}) {
    auto a = MakeEffective(*resolved, arch);
    auto b = MakeEffective(*exported, arch);
    ASSERT_TRUE(a && b) << arch;
    EXPECT_EQ(EffectiveText(*a), EffectiveText(*b)) << arch;
  }

  // gen0-sliver: the clone3 policy and horizon become explicit rules.
  std::string gen0 = dir.File("gen0.json");
  ASSERT_EQ(Silk("policy export gen0-sliver -o " + gen0).exit_code, 0);
  auto g = ReadProfileFile(gen0);
  ASSERT_TRUE(g) << g.error().ToString();
  bool clone3_enosys = false;
  for (const auto& rule : g->syscalls)
    for (const auto& n : rule.names)
      if (n == "clone3") clone3_enosys = rule.action == Action::kErrno && rule.errno_ret == 38u;
  EXPECT_TRUE(clone3_enosys);

  CliRun usage = Silk("policy export gen0-sliver");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
  EXPECT_NE(usage.output.find("--out"), std::string::npos) << usage.output;
}

TEST(PolicyCli, ImportAttachesMetadata) {
  TempDir dir;
  std::string out = dir.File("mine.json");
  CliRun r = Silk(
      "policy import /usr/share/containers/seccomp.json --out " + out +
      " --name gen1-web --extends podman-default --generation 1 --horizon 6.1 --clone3 enosys");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto p = ReadProfileFile(out);
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(p->meta.name, "gen1-web");
  EXPECT_EQ(p->meta.extends, "podman-default");
  EXPECT_EQ(p->meta.generation, 1);
  auto debian = ReadProfileFile("/usr/share/containers/seccomp.json");
  ASSERT_TRUE(debian);
  Profile rules_only = *p;
  rules_only.meta = {};
  EXPECT_EQ(rules_only, *debian);

  EXPECT_EQ(
      Silk("policy import /usr/share/containers/seccomp.json --out " + out + " --clone3 maybe")
          .exit_code,
      2);
  EXPECT_EQ(
      Silk("policy import /usr/share/containers/seccomp.json --out " + out + " --name 'bad name'")
          .exit_code,
      2);
  EXPECT_EQ(Silk("policy import " + dir.File("absent.json") + " --out " + out).exit_code, 1);
}

// A generation-1 profile: a few syscalls, all allowed by gen0-sliver.
constexpr const char* kGen1 = R"({
  "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["read", "write", "exit_group", "close", "mmap"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
  ],
  "silk": {"name": "gen1", "extends": "gen0-sliver", "generation": 1, "horizon": "6.1"}
})";

// Asks for bpf (gen0-sliver: EPERM) and any personality (gen0-sliver: a few values).
constexpr const char* kGreedy = R"({
  "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [{"names": ["read", "bpf", "personality"], "action": "SCMP_ACT_ALLOW"}],
  "silk": {"name": "greedy", "extends": "gen1", "generation": 2, "horizon": "6.1"}
})";

TEST(PolicyCli, SubsetExitsZeroExactlyForSubsetsAndPrintsEveryReason) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("gen1.json"), kGen1));
  ASSERT_TRUE(WriteFileAtomic(dir.File("greedy.json"), kGreedy));
  CliRun yes = Silk("policy subset gen0-sliver podman-default");
  EXPECT_EQ(yes.exit_code, 0) << yes.output;
  EXPECT_NE(yes.output.find("gen0-sliver ⊆ podman-default"), std::string::npos) << yes.output;
  EXPECT_EQ(Silk("policy subset " + dir.File("gen1.json") + " gen0-sliver").exit_code, 0);
  // The reverse is not a subset: clone3 and the i386/x32 entries gen0-sliver refuses.
  // Resolved as a box (no capabilities), podman-default allows neither chroot nor the
  // audit socket; with Docker's default capabilities (CAP_SYS_CHROOT, CAP_AUDIT_WRITE) it
  // allows both, and those are two more reasons.
  CliRun no = Silk("policy subset podman-default gen0-sliver");
  EXPECT_EQ(no.exit_code, 1) << no.output;
  for (const char* reason : {"clone3", "SCMP_ARCH_X86:", "SCMP_ARCH_X32:"})
    EXPECT_NE(no.output.find(reason), std::string::npos) << reason << " in " << no.output;
  EXPECT_EQ(no.output.find(" chroot"), std::string::npos) << no.output;
  EXPECT_EQ(no.output.find(" socket"), std::string::npos) << no.output;
  CliRun docker = Silk("policy subset podman-default gen0-sliver --caps default");
  EXPECT_EQ(docker.exit_code, 1) << docker.output;
  for (const char* reason : {" chroot", " socket", "clone3", "SCMP_ARCH_X86:", "SCMP_ARCH_X32:"})
    EXPECT_NE(docker.output.find(reason), std::string::npos) << reason << " in " << docker.output;
  CliRun greedy =
      Silk("policy subset --json " + dir.File("greedy.json") + " " + dir.File("gen1.json"));
  EXPECT_EQ(greedy.exit_code, 1) << greedy.output;
  auto j = nlohmann::json::parse(greedy.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << greedy.output;
  EXPECT_FALSE(j["subset"].get<bool>());
  std::set<std::string> syscalls;
  for (const auto& v : j["violations"]) syscalls.insert(v["syscall"].get<std::string>());
  EXPECT_EQ(syscalls, (std::set<std::string>{"bpf", "personality"}));
  EXPECT_EQ(Silk("policy subset gen0-sliver").exit_code, 2);
}

TEST(PolicyCli, DiffExitsZeroExactlyWhenEffectivePoliciesAreEqual) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("gen1.json"), kGen1));
  // Debian's file and the built-in import differ only in metadata.
  // Nothing on stdout; stderr names the capability set only (-q drops that too).
  CliRun same = SilkStdout("policy diff podman-default /usr/share/containers/seccomp.json");
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_TRUE(same.output.empty()) << same.output;
  CliRun quiet = Silk("policy diff -q podman-default /usr/share/containers/seccomp.json");
  EXPECT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_TRUE(quiet.output.empty()) << quiet.output;
  CliRun differ = SilkStdout("policy diff --json gen0-sliver " + dir.File("gen1.json"));
  EXPECT_EQ(differ.exit_code, 1) << differ.output;
  auto j = nlohmann::json::parse(differ.output, nullptr, false);
  ASSERT_TRUE(j.is_object()) << differ.output;
  EXPECT_EQ(j["cap_set"], "none") << differ.output;
  ASSERT_TRUE(j["differences"].is_array()) << differ.output;
  bool personality_changed = false, open_removed = false;
  for (const auto& e : j["differences"]) {
    if (e["syscall"] == "personality" && e["kind"] == "changed") personality_changed = true;
    if (e["syscall"] == "open" && e["kind"] == "removed") open_removed = true;
  }
  EXPECT_TRUE(personality_changed) << differ.output;
  EXPECT_TRUE(open_removed) << differ.output;
}

TEST(PolicyCli, CheckVerifiesEveryPairOfALineage) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("gen1.json"), kGen1));
  CliRun ok = Silk("policy check " + dir.path());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("ok         gen1 ⊆ gen0-sliver"), std::string::npos) << ok.output;
  EXPECT_NE(ok.output.find("ok         gen0-sliver ⊆ podman-default"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(dir.File("greedy.json"), kGreedy));
  CliRun bad = Silk("policy check " + dir.path());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("VIOLATION  greedy ⊄ gen1 (" + dir.File("greedy.json") + ")"),
            std::string::npos)
      << bad.output;
  EXPECT_NE(bad.output.find("bpf"), std::string::npos) << bad.output;
  // Lineage errors (here a cycle) fail the check too, naming the files.
  ASSERT_TRUE(WriteFileAtomic(
      dir.File("gen1.json"),
      std::string(kGen1).replace(std::string(kGen1).find("gen0-sliver"), 11, "greedy")));
  CliRun cycle = Silk("policy check " + dir.path());
  EXPECT_NE(cycle.output.find("cycle"), std::string::npos) << cycle.output;
  // A lineage that cannot be loaded is trouble (2), not "does not hold" (1).
  EXPECT_EQ(cycle.exit_code, 2) << cycle.output;
  EXPECT_EQ(Silk("policy check /nonexistent/dir").exit_code, 2);
}

// --- issue 12: a command line that fits its ecosystem

TEST(PolicyCli, ComparisonsExitTwoForTroubleAsDiffAndCmpDo) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("gen1.json"), kGen1));
  ASSERT_TRUE(WriteFileAtomic(dir.File("bad.json"), "{\"defaultAction\": \"SCMP_ACT_ALOW\"}"));
  const std::string gen1 = dir.File("gen1.json"), bad = dir.File("bad.json"),
                    absent = dir.File("absent.json");
  // 0 subset/equal, 1 not a subset/different ...
  EXPECT_EQ(Silk("policy subset " + gen1 + " gen0-sliver").exit_code, 0);
  EXPECT_EQ(Silk("policy subset gen0-sliver " + gen1).exit_code, 1);
  EXPECT_EQ(Silk("policy diff gen0-sliver gen0-sliver").exit_code, 0);
  EXPECT_EQ(Silk("policy diff gen0-sliver " + gen1).exit_code, 1);
  // ... 2 for a missing file, a bad profile, a bad option, a missing argument.
  for (const std::string& args : std::vector<std::string>{
           "policy subset " + absent + " gen0-sliver", "policy subset gen0-sliver " + bad,
           "policy subset gen0-sliver podman-default --caps CAP_NOPE",
           "policy diff " + absent + " " + gen1, "policy diff " + gen1 + " " + bad,
           "policy diff gen0-sliver", "policy check " + dir.File("none"),
           "policy check " + dir.path()}) {
    CliRun r = Silk(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find("silk: "), std::string::npos) << args << ": " << r.output;
  }
  // The help says so.
  for (const char* cmd : {"subset", "diff", "check"}) {
    CliRun help = Silk(std::string("policy ") + cmd + " --help");
    EXPECT_NE(help.output.find("2 trouble"), std::string::npos) << cmd << ": " << help.output;
  }
}

TEST(PolicyCli, EmptyLineageIsAnErrorWithTheReason) {
  TempDir dir;
  CliRun r = Silk("policy check " + dir.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("empty lineage: " + dir.path() + " holds no *.json profile"),
            std::string::npos)
      << r.output;
}

TEST(PolicyCli, PositionalsAndTyposAreNamedAsTheUserTypesThem) {
  CliRun diff = Silk("policy diff gen0-sliver");
  EXPECT_EQ(diff.exit_code, 2);
  EXPECT_NE(diff.output.find("missing B"), std::string::npos) << diff.output;
  EXPECT_EQ(diff.output.find("'--b'"), std::string::npos) << diff.output;
  EXPECT_NE(diff.output.find("Try 'silk policy diff --help'"), std::string::npos) << diff.output;
  CliRun show = Silk("policy show");
  EXPECT_NE(show.output.find("missing PROFILE"), std::string::npos) << show.output;
  CliRun help = Silk("policy show --help");
  EXPECT_EQ(help.output.find("--profile"), std::string::npos) << help.output;
  CliRun typo = Silk("polcy show gen0-sliver");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.output.find("did you mean 'policy'"), std::string::npos) << typo.output;
  CliRun sub = Silk("policy shwo gen0-sliver");
  EXPECT_NE(sub.output.find("did you mean 'show'"), std::string::npos) << sub.output;
}

// Every --json command: stdout is one JSON document, on success and on failure.
TEST(PolicyCli, JsonIsJsonOnStdoutOnSuccessAndFailure) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir.File("gen1.json"), kGen1));
  const std::string absent = dir.File("absent.json");
  struct Case {
    std::string args;
    int exit_code;
    std::string field;  // of the error object; "" for a success
  };
  const std::vector<Case> cases = {
      {"policy show gen0-sliver --json", 0, ""},
      {"policy show " + absent + " --json", 1, "PROFILE"},
      {"policy show gen0-sliver --json --arch amd46", 2, "--arch"},
      {"policy subset --json " + dir.File("gen1.json") + " gen0-sliver", 0, ""},
      {"policy subset --json " + absent + " gen0-sliver", 2, "CHILD"},
      {"policy subset --json gen0-sliver", 2, "PARENT"},
      {"policy diff --json gen0-sliver " + absent, 2, "B"},
      {"policy check --json " + dir.path(), 0, ""},
      {"policy check --json " + dir.File("none"), 2, "DIR"},
      {"policy compile gen0-sliver --json --out " + dir.File("g.bpf"), 0, ""},
      {"policy compile " + absent + " --json --out " + dir.File("g.bpf"), 1, "PROFILE"},
      {"policy compile gen0-sliver --json --format elf --out " + dir.File("g.bpf"), 2, "--format"},
      {"policy show gen0-sliver --json --no-such-flag", 2, "--no-such-flag"},
      {"image verify --json " + dir.File("no-image"), 1, "DIR"},
      {"image show --json " + dir.File("no-image"), 1, "DIR"},
  };
  for (const auto& c : cases) {
    CliRun r = SilkStdout(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args << ": " << r.output;
    auto j = nlohmann::json::parse(r.output, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << c.args << ": stdout is not JSON: " << r.output;
    if (c.field.empty()) {
      EXPECT_FALSE(j.is_object() && j.contains("error")) << c.args << ": " << r.output;
      continue;
    }
    ASSERT_TRUE(j.is_object() && j.contains("error")) << c.args << ": " << r.output;
    EXPECT_TRUE(j["error"]["code"].is_string()) << c.args;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty()) << c.args;
    EXPECT_EQ(j["error"]["field"], c.field) << c.args << ": " << r.output;
    // The person watching still gets the message on stderr.
    EXPECT_NE(SilkStderr(c.args).output.find("silk: "), std::string::npos) << c.args;
  }
  EXPECT_EQ(
      nlohmann::json::parse(
          SilkStdout("policy subset --json " + absent + " gen0-sliver").output)["error"]["code"],
      "not_found");
}

TEST(PolicyCli, NoticesGoToStderrAndQuietDropsThem) {
  TempDir dir;
  for (const std::string& args : std::vector<std::string>{
           "policy compile gen0-sliver --out " + dir.File("g.bpf"),
           "policy export gen0-sliver --out " + dir.File("e.json"),
           "policy import /usr/share/containers/seccomp.json --out " + dir.File("i.json")}) {
    CliRun out = SilkStdout(args);
    EXPECT_EQ(out.exit_code, 0) << args;
    EXPECT_EQ(out.output, "") << args << ": stdout carries no notice";
    EXPECT_NE(SilkStderr(args).output.find("wrote "), std::string::npos) << args;
    CliRun quiet = Silk(args + " -q");
    EXPECT_EQ(quiet.exit_code, 0) << args;
    EXPECT_EQ(quiet.output, "") << args << " -q: " << quiet.output;
    CliRun global = Silk("-q " + args);
    EXPECT_EQ(global.output, "") << "silk -q " << args << ": " << global.output;
  }
}

// One count of allowed syscalls, defined once (policy::CountAllowed) and stated in the help.
TEST(PolicyCli, ShowStatesTheAllowedCountRegressPrints) {
  CliRun json = SilkStdout("policy show gen0-sliver --json --caps none");
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto j = nlohmann::json::parse(json.output);
  const size_t total = j["allowed"]["total"];
  EXPECT_EQ(total, j["allowed"]["any_arguments"].get<size_t>() +
                       j["allowed"]["under_conditions"].get<size_t>());
  EXPECT_GT(j["allowed"]["under_conditions"].get<size_t>(), 0u);
  CliRun text = Silk("policy show gen0-sliver --caps none");
  EXPECT_NE(text.output.find("allowed:  " + std::to_string(total) + " syscalls"), std::string::npos)
      << text.output;
  EXPECT_NE(Silk("policy show --help").output.find("silk regress prints the same count"),
            std::string::npos);
  EXPECT_NE(Silk("regress --help").output.find("the count silk policy show prints"),
            std::string::npos);
}

// The syscalls a `policy show` text lists under "allow (N):" (wrapped, indented 4).
std::set<std::string> AllowedInShowText(const std::string& text) {
  std::set<std::string> names;
  size_t at = text.find("\n  allow (");
  if (at == std::string::npos) return names;
  at = text.find('\n', at + 1);
  while (at != std::string::npos && text.compare(at + 1, 4, "    ") == 0) {
    size_t end = text.find('\n', at + 1);
    std::string line = text.substr(at + 5, end == std::string::npos ? end : end - at - 5);
    for (size_t i = 0; i < line.size();) {
      size_t sp = line.find(' ', i);
      if (sp == std::string::npos) sp = line.size();
      if (sp > i) names.insert(line.substr(i, sp - i));
      i = sp + 1;
    }
    at = end;
  }
  return names;
}

// One default for capabilities: a box has none, so `policy show` (and every command that
// resolves a profile) resolves for none unless --caps says otherwise, and says which set
// it used. podman-default allows chroot only under CAP_SYS_CHROOT, so
// `silk box run --profile podman-default -- chroot / true` is refused, and show agrees.
TEST(PolicyCli, ProfilesResolveForNoCapabilitiesAsABoxAndSaySo) {
  CliRun none = SilkStdout("policy show podman-default --arch amd64");
  ASSERT_EQ(none.exit_code, 0) << none.output;
  EXPECT_NE(none.output.find("with capabilities none (a box's default"), std::string::npos)
      << none.output;
  std::set<std::string> allowed = AllowedInShowText(none.output);
  EXPECT_GT(allowed.size(), 250u) << none.output;
  EXPECT_TRUE(allowed.count("read")) << none.output;
  EXPECT_FALSE(allowed.count("chroot")) << none.output;

  CliRun docker = SilkStdout("policy show podman-default --arch amd64 --caps default");
  ASSERT_EQ(docker.exit_code, 0) << docker.output;
  EXPECT_NE(docker.output.find("with capabilities default (Docker's 14)"), std::string::npos)
      << docker.output;
  EXPECT_TRUE(AllowedInShowText(docker.output).count("chroot")) << docker.output;

  // --json names the set ("cap_set", as --caps reads it back) and its members.
  auto allows_chroot = [](const nlohmann::json& j) {
    for (const auto& c : j["effective"]["syscalls"])
      if (c["name"] == "chroot")
        for (const auto& r : c["rules"])
          if (r["verdict"] == "allow") return true;
    return false;
  };
  auto jn = nlohmann::json::parse(SilkStdout("policy show podman-default --json").output);
  EXPECT_EQ(jn["cap_set"], "none");
  EXPECT_TRUE(jn["caps"].empty());
  EXPECT_FALSE(allows_chroot(jn));
  auto jd =
      nlohmann::json::parse(SilkStdout("policy show podman-default --json --caps default").output);
  EXPECT_EQ(jd["cap_set"], "default");
  EXPECT_EQ(jd["caps"].size(), kDefaultCaps.size());
  EXPECT_TRUE(allows_chroot(jd));
  auto jc = nlohmann::json::parse(
      SilkStdout("policy show podman-default --json --caps sys_chroot,CAP_KILL").output);
  EXPECT_EQ(jc["cap_set"], "CAP_SYS_CHROOT,CAP_KILL");
  EXPECT_TRUE(allows_chroot(jc));
  // "" is none, as ParseCapList reads it.
  EXPECT_EQ(nlohmann::json::parse(
                SilkStdout("policy show podman-default --json --caps ''").output)["cap_set"],
            "none");

  // The other resolving commands name the set on stderr (or in their JSON).
  TempDir dir;
  for (const std::string& args : std::vector<std::string>{
           "policy subset gen0-sliver podman-default", "policy diff gen0-sliver gen0-sliver",
           "policy export podman-default -o " + dir.File("e.json"),
           "policy compile podman-default -o " + dir.File("p.bpf"), "policy lint podman-default"}) {
    CliRun r = SilkStderr(args);
    EXPECT_NE(r.output.find("capabilities none (a box's default"), std::string::npos)
        << args << ": " << r.output;
    CliRun d = SilkStderr(args + " --caps default");
    EXPECT_NE(d.output.find("capabilities default (Docker's 14)"), std::string::npos)
        << args << " --caps default: " << d.output;
  }
  ASSERT_TRUE(WriteFileAtomic(dir.File("gen1.json"), kGen1));
  CliRun check = SilkStderr("policy check " + dir.path());
  EXPECT_NE(check.output.find("capabilities none (a box's default"), std::string::npos)
      << check.output;
  auto subset = nlohmann::json::parse(
      SilkStdout("policy subset --json gen0-sliver podman-default --caps default").output);
  EXPECT_EQ(subset["cap_set"], "default");
  auto lineage = nlohmann::json::parse(SilkStdout("policy check --json " + dir.path()).output);
  EXPECT_EQ(lineage["cap_set"], "none");
  EXPECT_EQ(lineage["pairs"].size(), 2u) << lineage.dump();
  auto compiled = nlohmann::json::parse(
      SilkStdout("policy compile podman-default --json -o " + dir.File("p.bpf")).output);
  EXPECT_EQ(compiled["cap_set"], "none");

  // The help says what the default is and how to get Docker's.
  for (const char* cmd : {"show", "export", "compile", "subset", "diff", "check", "lint"}) {
    CliRun help = Silk(std::string("policy ") + cmd + " --help");
    EXPECT_NE(help.output.find("'none' (the default: a box"), std::string::npos)
        << cmd << ": " << help.output;
    EXPECT_NE(help.output.find("--caps default gives Docker's 14"), std::string::npos)
        << cmd << ": " << help.output;
  }
}

// A profile that names a parent must be a subset of it.
TEST(PolicyCli, ImportRefusesAChildThatIsNotASubsetOfItsParent) {
  TempDir dir;
  const std::string out = dir.File("web.json");
  // Debian's Podman profile is not ⊆ gen0-sliver: refused with every reason, nothing written.
  CliRun r = Silk("policy import /usr/share/containers/seccomp.json --out " + out +
                  " --name web --extends gen0-sliver");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("names parent 'gen0-sliver' but is not a subset of it"),
            std::string::npos)
      << r.output;
  for (const char* reason : {"clone3", "SCMP_ARCH_X86:", "SCMP_ARCH_X32:"})
    EXPECT_NE(r.output.find(reason), std::string::npos) << reason << " in " << r.output;
  EXPECT_FALSE(ReadFile(out)) << "a refused import wrote " << out;
  // A parent in the --out directory is found by its silk name.
  ASSERT_TRUE(WriteFileAtomic(dir.File("gen1.json"), kGen1));
  ASSERT_TRUE(WriteFileAtomic(dir.File("small-in.json"),
                              R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                                  "architectures": ["SCMP_ARCH_X86_64"],
                                  "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})"));
  CliRun small = Silk("policy import " + dir.File("small-in.json") + " --out " +
                      dir.File("small.json") + " --extends gen1");
  EXPECT_EQ(small.exit_code, 0) << small.output;
  // The greedy profile asks for bpf, which gen1 does not allow.
  ASSERT_TRUE(WriteFileAtomic(dir.File("asks.json"), kGreedy));
  CliRun asks = Silk("policy import " + dir.File("asks.json") + " --out " +
                     dir.File("asks-out.json") + " --extends gen1");
  EXPECT_EQ(asks.exit_code, 1) << asks.output;
  EXPECT_NE(asks.output.find("bpf"), std::string::npos) << asks.output;
  EXPECT_FALSE(ReadFile(dir.File("asks-out.json")));
  // A parent that is nowhere is named, with the nearest names.
  CliRun nowhere = Silk("policy import " + dir.File("gen1.json") + " --out " + dir.File("x.json") +
                        " --extends gen0-silver");
  EXPECT_EQ(nowhere.exit_code, 1) << nowhere.output;
  EXPECT_NE(nowhere.output.find("did you mean 'gen0-sliver'"), std::string::npos) << nowhere.output;
}

}  // namespace
}  // namespace silk::policy
