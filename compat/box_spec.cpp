#include "compat/box_spec.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/file.hpp"
#include "base/json_object.hpp"
#include "base/strings.hpp"
#include "base/unique_fd.hpp"
#include "policy/profile_json.hpp"

namespace silk::compat {
namespace {

// A box's /etc/passwd is read up to this much for DefaultBoxGid.
constexpr size_t kMaxPasswdBytes = 1u << 20;

using nlohmann::json;

constexpr std::pair<const char*, UserNamespaceMode> kUserNamespaceModes[] = {
    {"auto", UserNamespaceMode::kAuto},
    {"always", UserNamespaceMode::kAlways},
    {"never", UserNamespaceMode::kNever},
};

std::vector<std::string> UserNamespaceModeNames() {
  std::vector<std::string> names;
  for (const auto& [name, mode] : kUserNamespaceModes) names.emplace_back(name);
  return names;
}

struct RlimitName {
  const char* name;
  int resource;
};
const RlimitName kRlimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

// `text` for an error message, cut to a readable length (input may be megabytes).
std::string Shown(const std::string& text) {
  constexpr size_t kMax = 64;
  return text.size() <= kMax ? text : text.substr(0, kMax) + "...";
}

// Bytes of RAM + swap the host has (/proc/meminfo), or 0 when unknown.
uint64_t HostMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t value = 0, total = 0;
  while (in >> key >> value) {
    if (key == "MemTotal:" || key == "SwapTotal:") total += value << 10;
    std::getline(in, unit);
  }
  return total;
}

// Whether `id` is covered by the inside ranges of `maps`.
bool Mapped(uint32_t id, const std::vector<IdMapping>& maps) {
  for (const auto& m : maps)
    if (id >= m.inside && id - m.inside < m.count) return true;
  return false;
}

// An RFC 1123 host name: dot-separated labels of letters, digits and '-', each 1..63
// characters, not starting or ending with '-'.
bool IsHostname(const std::string& h) {
  if (h.empty() || h.size() > 64) return false;
  size_t start = 0;
  while (start <= h.size()) {
    size_t end = h.find('.', start);
    if (end == std::string::npos) end = h.size();
    size_t len = end - start;
    if (len == 0 || len > 63 || h[start] == '-' || h[end - 1] == '-') return false;
    for (size_t i = start; i < end; ++i)
      if (!isalnum(static_cast<unsigned char>(h[i])) && h[i] != '-') return false;
    start = end + 1;
  }
  return true;
}

// A size: a number of bytes or a string like "256M".
void ReadSize(JsonObjectReader& r, std::string_view key, uint64_t& out) {
  const json* v = r.Find(key);
  if (!v) return;
  if (v->is_string()) {
    auto size = ParseSize(v->get<std::string>());
    if (size)
      out = *size;
    else
      r.Problem(key, size.error().message());
    return;
  }
  JsonObjectReader::UintAt(*v, r.Child(key), UINT64_MAX, r.problems(), out);
}

void ReadIdMaps(JsonObjectReader& r, std::string_view key, std::vector<IdMapping>& out) {
  const json* v = r.Array(key, "{inside, outside, count} mappings");
  if (!v) return;
  out.clear();
  for (size_t i = 0; i < v->size(); ++i) {
    JsonObjectReader mr((*v)[i], JsonPointerChild(r.Child(key), i), "id mapping", r.problems());
    IdMapping m;
    mr.Uint("inside", m.inside, UINT32_MAX);
    mr.Uint("outside", m.outside, UINT32_MAX);
    mr.Uint("count", m.count, UINT32_MAX);
    mr.Finish();
    out.push_back(m);
  }
}

void ReadRlimits(JsonObjectReader& r, std::vector<RlimitSpec>& out) {
  const json* v = r.Find("rlimits");
  if (!v) return;
  if (!v->is_object()) {
    r.Problem("rlimits", "expected an object {\"nofile\": {\"soft\": N, \"hard\": N}}, found " +
                             DescribeJson(*v));
    return;
  }
  for (auto it = v->begin(); it != v->end(); ++it) {
    std::string p = JsonPointerChild(r.Child("rlimits"), it.key());
    RlimitSpec rl;
    rl.resource = it.key();
    if (it->is_number()) {
      JsonObjectReader::UintAt(*it, p, UINT64_MAX, r.problems(), rl.soft);
      rl.hard = rl.soft;
    } else if (it->is_object()) {
      JsonObjectReader lr(*it, p, "rlimit", r.problems());
      lr.Uint("soft", rl.soft);
      lr.Uint("hard", rl.hard);
      lr.Finish();
    } else {
      r.problems().Report(
          p, "expected a number or {\"soft\": N, \"hard\": N}, found " + DescribeJson(*it));
    }
    out.push_back(rl);
  }
}

void ReadNetwork(JsonObjectReader& r, NetworkSpec& out) {
  auto nr = r.Object("network", "network settings");
  if (!nr) return;
  nr->OneOf("mode", out.mode, {{"none", NetworkMode::kNone}, {"veth", NetworkMode::kVeth}},
            "network mode");
  nr->String("bridge", out.bridge);
  nr->String("address", out.address);
  nr->String("gateway", out.gateway);
  ReadSize(*nr, "egress_rate", out.egress_rate);
  nr->Finish();
}

// Fills `s` from the spec object `root`; problems go to `problems`.
void ReadBoxSpec(const json& root, JsonProblems& problems, BoxSpec& s) {
  JsonObjectReader r(root, "", "box spec", problems);
  r.String("command", s.command);
  r.Strings("args", s.args);
  r.Strings("env", s.env);
  r.String("cwd", s.cwd);
  r.String("rootfs", s.rootfs);
  ReadSize(r, "scratch_size", s.scratch_size);
  ReadSize(r, "disk_max", s.disk_max);
  r.String("hostname", s.hostname);
  r.String("profile", s.profile);
  ReadSize(r, "memory_max", s.memory_max);
  r.Uint("pids_max", s.pids_max, UINT32_MAX);
  r.Uint("cpu_weight", s.cpu_weight, UINT32_MAX);
  r.Uint("io_weight", s.io_weight, UINT32_MAX);
  r.Strings("capabilities", s.capabilities);
  const bool uid_given = r.Uint("uid", s.uid, UINT32_MAX);
  if (!r.Uint("gid", s.gid, UINT32_MAX) && uid_given) s.gid = DefaultBoxGid(s.uid, s.rootfs);
  r.Bool("raw_sockets", s.raw_sockets);
  r.Bool("report_denials", s.report_denials);
  r.Bool("tty", s.tty);
  r.Bool("init", s.init);
  r.Bool("nest", s.nest);
  if (std::string word; r.String("user_namespace", word)) {
    if (auto mode = ParseUserNamespaceMode(word))
      s.user_namespace = *mode;
    else
      r.UnknownWord("user_namespace", word, UserNamespaceModeNames(), "user namespace mode");
  }
  ReadIdMaps(r, "uid_map", s.uid_map);
  ReadIdMaps(r, "gid_map", s.gid_map);
  ReadRlimits(r, s.rlimits);
  ReadNetwork(r, s.network);
  r.Finish();
}

Result<void> CheckCidr(const std::string& cidr, const std::string& field) {
  auto slash = cidr.find('/');
  in_addr a{};
  if (slash == std::string::npos || inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1)
    return Fail(
        ErrorCode::kInvalidInput,
        field + ": '" + Shown(cidr) + "' is not an IPv4 address in CIDR form (e.g. 10.77.0.2/24)");
  auto len = ParseUint(cidr.substr(slash + 1), 32);
  if (!len)
    return Fail(ErrorCode::kInvalidInput,
                field + ": prefix length of '" + Shown(cidr) + "' must be 0..32");
  return {};
}

}  // namespace

Result<UserNamespaceMode> ParseUserNamespaceMode(std::string_view word) {
  for (const auto& [name, mode] : kUserNamespaceModes)
    if (word == name) return mode;
  return Fail(ErrorCode::kInvalidInput,
              "unknown user namespace mode '" + Shown(std::string(word)) +
                  "'; expected auto, always or never" +
                  DidYouMean(Shown(std::string(word)), UserNamespaceModeNames(), 1));
}

const char* UserNamespaceModeName(UserNamespaceMode mode) {
  for (const auto& [name, m] : kUserNamespaceModes)
    if (m == mode) return name;
  return "auto";
}

Result<NetworkSpec> ParseNetworkFlag(std::string_view text_in) {
  const std::string text(text_in);
  NetworkSpec n;
  if (text == "none") return n;
  n.mode = NetworkMode::kVeth;
  for (const auto& kv : Split(text, ',')) {
    auto eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "bridge") {
      n.bridge = v;
    } else if (k == "address") {
      n.address = v;
    } else if (k == "gateway") {
      n.gateway = v;
    } else if (k == "egress") {
      n.egress_rate = SILK_TRY(WithContext(ParseSize(v), "egress"));
    } else {
      return Fail(ErrorCode::kInvalidInput,
                  "unknown key '" + Shown(k) +
                      "'; expected none or bridge=BR,address=CIDR[,gateway=IP][,egress=RATE]");
    }
  }
  return n;
}

Result<void> ValidateBoxId(const std::string& id) {
  auto bad = [&id](const std::string& what) {
    return Fail(ErrorCode::kInvalidInput, "box id '" + Shown(id) + "' " + what +
                                              "; use 1..64 characters of A-Z a-z 0-9 _ . -, "
                                              "starting with a letter or digit");
  };
  if (id.empty() || id.size() > 64) return bad("has " + std::to_string(id.size()) + " characters");
  if (!isalnum(static_cast<unsigned char>(id[0])))
    return bad("does not start with a letter or digit");
  for (char c : id)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return bad("contains a character other than letters, digits, '_', '.' and '-'");
  if (id.find("..") != std::string::npos) return bad("contains \"..\"");
  return {};
}

int CapabilityNumber(const std::string& name) {
  // Ordered by capability number (include/uapi/linux/capability.h).
  const auto& names = policy::KnownCapabilities();
  for (size_t i = 0; i < names.size(); ++i)
    if (name == names[i]) return static_cast<int>(i);
  return -1;
}

int RlimitNumber(const std::string& name) {
  for (const auto& r : kRlimits)
    if (name == r.name) return r.resource;
  return -1;
}

uint32_t DefaultBoxGid(uint32_t uid, const std::string& rootfs) {
  if (uid == 0) return 0;
  // The rootfs is the box's, maybe a stranger's: its links resolve inside it, and its
  // etc/passwd is opened for reading only once it is known to be a regular file (an
  // O_PATH handle first): opening a device node can act (a watchdog arms on open).
  open_how how = {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd root(open(rootfs.empty() ? "/" : rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return uid;
  UniqueFd path(static_cast<int>(syscall(SYS_openat2, root.get(), "etc/passwd", &how, sizeof how)));
  struct stat st;
  if (!path || fstat(path.get(), &st) != 0 || !S_ISREG(st.st_mode)) return uid;
  // The same inode the handle holds, now for reading.
  UniqueFd fd(open(("/proc/self/fd/" + std::to_string(path.get())).c_str(),
                   O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return uid;
  std::string text;
  char buf[8192];
  ssize_t n;
  while (text.size() <= kMaxPasswdBytes && (n = read(fd.get(), buf, sizeof buf)) > 0)
    text.append(buf, static_cast<size_t>(n));
  for (const std::string& line : Split(text.substr(0, kMaxPasswdBytes), '\n')) {
    auto f = Split(line, ':');  // name:password:uid:gid:gecos:home:shell
    if (f.size() < 4 || f[2] != std::to_string(uid)) continue;
    char* end = nullptr;
    errno = 0;
    unsigned long gid = std::strtoul(f[3].c_str(), &end, 10);
    if (errno == 0 && end != f[3].c_str() && *end == '\0' && gid != 0 && gid < UINT32_MAX)
      return static_cast<uint32_t>(gid);
    return uid;
  }
  return uid;
}

Result<BoxSpec> ParseBoxSpec(const std::string& json_text, const std::string& source) {
  json root = SILK_TRY(ParseStrictJson(json_text, source,
                                       {.max_bytes = kMaxSpecBytes,
                                        .max_depth = kMaxSpecDepth,
                                        .what = "a box spec",
                                        .needed_depth = 3}));
  BoxSpec s;
  JsonProblems problems;
  ReadBoxSpec(root, problems, s);
  SILK_TRY(problems.Check(source));
  auto valid = Validate(s);
  if (!valid) return Fail(std::move(valid.error()).Wrap(source));
  return s;
}

Result<BoxSpec> LoadBoxSpec(const std::string& path) {
  std::string text = SILK_TRY(ReadRegularFile(path, kMaxSpecBytes));
  return ParseBoxSpec(text, path);
}

std::string BoxSpecToJson(const BoxSpec& s) {
  json j;
  j["command"] = s.command;
  j["args"] = s.args;
  j["env"] = s.env;
  j["cwd"] = s.cwd;
  j["rootfs"] = s.rootfs;
  j["scratch_size"] = s.scratch_size;
  j["disk_max"] = s.disk_max;
  j["hostname"] = s.hostname;
  j["profile"] = s.profile;
  j["memory_max"] = s.memory_max;
  j["pids_max"] = s.pids_max;
  j["cpu_weight"] = s.cpu_weight;
  j["io_weight"] = s.io_weight;
  json rl = json::object();
  for (const auto& r : s.rlimits) rl[r.resource] = {{"soft", r.soft}, {"hard", r.hard}};
  j["rlimits"] = rl;
  j["capabilities"] = s.capabilities;
  j["user_namespace"] = UserNamespaceModeName(s.user_namespace);
  auto maps = [](const std::vector<IdMapping>& m) {
    json a = json::array();
    for (const auto& e : m)
      a.push_back({{"inside", e.inside}, {"outside", e.outside}, {"count", e.count}});
    return a;
  };
  j["uid_map"] = maps(s.uid_map);
  j["gid_map"] = maps(s.gid_map);
  j["uid"] = s.uid;
  j["gid"] = s.gid;
  j["network"] = {{"mode", s.network.mode == NetworkMode::kVeth ? "veth" : "none"},
                  {"bridge", s.network.bridge},
                  {"address", s.network.address},
                  {"gateway", s.network.gateway},
                  {"egress_rate", s.network.egress_rate}};
  j["raw_sockets"] = s.raw_sockets;
  j["report_denials"] = s.report_denials;
  j["tty"] = s.tty;
  j["init"] = s.init;
  j["nest"] = s.nest;
  return j.dump(2);
}

Result<void> Validate(const BoxSpec& s) {
  auto bad = [](const std::string& field, const std::string& what) {
    return Fail(ErrorCode::kInvalidInput, field + ": " + what);
  };
  if (s.command.empty()) return bad("command", "missing: name the program the box runs");
  if (s.command.find('\0') != std::string::npos) return bad("command", "contains a NUL byte");
  for (size_t i = 0; i < s.env.size(); ++i)
    if (s.env[i].find('=') == std::string::npos || s.env[i].front() == '=')
      return bad("env[" + std::to_string(i) + "]",
                 "'" + Shown(s.env[i]) + "' is not of the form NAME=VALUE");
  if (s.cwd.empty() || s.cwd[0] != '/')
    return bad("cwd", "must be an absolute path inside the box");
  if (!s.rootfs.empty()) {
    if (s.rootfs[0] != '/' || s.rootfs.find('\0') != std::string::npos)
      return bad("rootfs", "'" + Shown(s.rootfs) + "' must be an absolute host path");
    // A missing rootfs is reported when the box's view is planned (kNotFound).
    char resolved[PATH_MAX];
    if (realpath(s.rootfs.c_str(), resolved) && std::string(resolved) == "/")
      return bad("rootfs", "'" + Shown(s.rootfs) +
                               "' is the host's root directory; give a directory holding the "
                               "box's root file system (or no rootfs for the read-only view)");
  }
  if (s.scratch_size < (1u << 20))
    return bad("scratch_size",
               std::to_string(s.scratch_size) + " bytes is too small (at least 1M)");
  if (s.memory_max != 0 && s.scratch_size > s.memory_max && s.scratch_size != kDefaultScratchSize)
    return bad("scratch_size", std::to_string(s.scratch_size) + " bytes is more than memory_max (" +
                                   std::to_string(s.memory_max) +
                                   "), which the box's tmpfs pages are charged to; give at "
                                   "most memory_max");
  if (uint64_t host = HostMemoryBytes(); host != 0 && s.scratch_size > host)
    return bad("scratch_size", std::to_string(s.scratch_size) +
                                   " bytes is more than this host's RAM + swap (" +
                                   std::to_string(host) +
                                   " bytes); /scratch, /tmp and /dev/shm share it, give less");
  if (s.disk_max != 0 && s.disk_max < kMinDiskSize)
    return bad("disk_max (--disk)", std::to_string(s.disk_max) +
                                        " bytes is below the minimum volume of 16M (ext4's "
                                        "journal and metadata would leave the box little); give "
                                        "at least 16M, or 0 for no volume");
  if (!IsHostname(s.hostname))
    return bad("hostname", "'" + Shown(s.hostname) +
                               "' is not a host name: 1..64 characters, dot-separated labels "
                               "of letters, digits and '-' (not first or last in a label)");
  if (s.profile.empty()) return bad("profile", "empty: name a profile file or a built-in profile");
  if (s.nest && s.user_namespace == UserNamespaceMode::kNever)
    return bad("nest",
               "a nest-ready box holds every capability of its own user namespace, so "
               "it needs one: drop user_namespace \"never\" (--userns never)");
  if (s.nest && !s.rootfs.empty())
    return bad("nest",
               "a nest-ready box uses the default root fs view (the host's /usr, /etc "
               "read-only): drop rootfs (--rootfs)");
  if (s.memory_max != 0 && s.memory_max < (4u << 20))
    return bad("memory_max", std::to_string(s.memory_max) +
                                 " bytes is too small (at least 4M, or 0 for no limit)");
  if (s.pids_max > (1u << 22)) return bad("pids_max", "at most 4194304 (or 0 for no limit)");
  if (s.cpu_weight < 1 || s.cpu_weight > 10000)
    return bad("cpu_weight", std::to_string(s.cpu_weight) + " is out of range 1..10000");
  if (s.io_weight > 10000)
    return bad("io_weight",
               std::to_string(s.io_weight) + " is out of range 1..10000 (0 = not set)");
  for (const auto& r : s.rlimits) {
    if (RlimitNumber(r.resource) < 0)
      return bad("rlimits." + Shown(r.resource),
                 "unknown resource; known: as core cpu data fsize locks memlock msgqueue nice "
                 "nofile nproc rss rtprio rttime sigpending stack");
    if (r.soft > r.hard)
      return bad("rlimits." + Shown(r.resource), "soft limit exceeds hard limit");
  }
  const std::vector<std::string>& caps = policy::KnownCapabilities();
  for (size_t i = 0; i < s.capabilities.size(); ++i)
    if (CapabilityNumber(s.capabilities[i]) < 0) {
      return bad("capabilities[" + std::to_string(i) + "]",
                 "unknown capability '" + Shown(s.capabilities[i]) + "'" +
                     DidYouMean(Shown(s.capabilities[i]), caps, 1));
    }
  if (s.user_namespace == UserNamespaceMode::kNever && geteuid() != 0)
    return bad("user_namespace", "\"never\" needs root; unprivileged boxes need a user namespace");
  for (const auto* maps : {&s.uid_map, &s.gid_map}) {
    const char* name = maps == &s.uid_map ? "uid_map" : "gid_map";
    for (const auto& m : *maps) {
      if (m.count == 0) return bad(name, "count must be at least 1");
      // (uid_t)-1 means "unchanged" to the kernel: no range may reach it.
      if (uint64_t{m.inside} + m.count > UINT32_MAX || uint64_t{m.outside} + m.count > UINT32_MAX)
        return bad(name, "range " + std::to_string(m.inside) + ":" + std::to_string(m.outside) +
                             ":" + std::to_string(m.count) + " reaches 4294967295 ((uid_t)-1)");
      // A box is never host root (the user namespace is what keeps its root unprivileged):
      // no range may map onto host id 0; `"user_namespace": "never"` is the way to say so.
      if (m.outside == 0)
        return bad(name, "range " + std::to_string(m.inside) + ":0:" + std::to_string(m.count) +
                             " maps onto host id 0, which would make the box host root; map "
                             "an unprivileged host range (or omit " +
                             name + " for a leased one)");
    }
  }
  struct IdField {
    const char* field;
    uint32_t id;
    const std::vector<IdMapping>* maps;
    const char* map_name;
  };
  for (const IdField& f : {IdField{"uid", s.uid, &s.uid_map, "uid_map"},
                           IdField{"gid", s.gid, &s.gid_map, "gid_map"}}) {
    if (f.id == UINT32_MAX)
      return bad(f.field,
                 "4294967295 is (uid_t)-1, which the kernel reads as \"unchanged\" "
                 "(the box would keep running as root); give a real id");
    if (!f.maps->empty() && !Mapped(f.id, *f.maps))
      return bad(f.field, std::to_string(f.id) + " is not mapped by " + f.map_name +
                              "; give an id inside one of its \"inside\" ranges");
    if (f.maps->empty() && f.id >= kDefaultIdRangeSize)
      return bad(f.field, std::to_string(f.id) + " is outside the box's id range (0.." +
                              std::to_string(kDefaultIdRangeSize - 1) + "); give " + f.map_name +
                              " to use a larger id");
  }
  if (s.network.mode == NetworkMode::kVeth) {
    if (s.network.bridge.empty())
      return bad("network.bridge", "required when network.mode is veth");
    if (s.network.bridge.size() > 15)
      return bad("network.bridge", "interface names have at most 15 characters");
    if (s.network.address.empty())
      return bad("network.address", "required when network.mode is veth");
    SILK_TRY(CheckCidr(s.network.address, "network.address"));
    in_addr a{};
    if (!s.network.gateway.empty() && inet_pton(AF_INET, s.network.gateway.c_str(), &a) != 1)
      return bad("network.gateway", "'" + Shown(s.network.gateway) + "' is not an IPv4 address");
  } else if (!s.network.bridge.empty() || !s.network.address.empty() ||
             s.network.egress_rate != 0 || !s.network.gateway.empty()) {
    return bad("network", "bridge/address/gateway/egress_rate need network.mode \"veth\"");
  }
  return {};
}

}  // namespace silk::compat
