// silk::compat::BoxSpec: what one compatibility box is (command, root fs, profile,
// resource limits, network), as a plain struct with named defaults, and its JSON form
// (the node manager's `silk box run --spec box.json`).
//
// Parsing rejects unknown fields, duplicate keys, nesting deeper than kMaxSpecDepth and
// bad values, naming the JSON path of the field ("network.address"). Validate() checks
// what the JSON types cannot (ranges, combos, values that mean something special to the
// kernel); it is the one validator for specs and `silk box run` flags, and RunBox()
// accepts only specs that passed it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace silk::compat {

// When the box gets its own user namespace.
enum class UserNamespaceMode {
  kAuto,    // when the caller is not root (rootless boxes)
  kAlways,  // also when root: box root is an unprivileged uid on the host
  kNever,   // only valid for root callers
};

// One line of /proc/<pid>/uid_map or gid_map.
struct IdMapping {
  uint32_t inside = 0;
  uint32_t outside = 0;
  uint32_t count = 1;
  friend bool operator==(const IdMapping&, const IdMapping&) = default;
};

// One setrlimit(2) call before execve. `resource` is the lower-case name without
// RLIMIT_ ("nofile", "nproc", "core", "stack", "fsize", "memlock", "as", "cpu").
struct RlimitSpec {
  std::string resource;
  uint64_t soft = 0;
  uint64_t hard = 0;
  friend bool operator==(const RlimitSpec&, const RlimitSpec&) = default;
};

enum class NetworkMode {
  kNone,  // an empty network namespace with only `lo`, up
  kVeth,  // plus a veth pair: host end on `bridge`, box end `eth0` with `address`
};

struct NetworkSpec {
  NetworkMode mode = NetworkMode::kNone;
  std::string bridge;        // kVeth: an existing bridge on the host
  std::string address;       // kVeth: box address in CIDR form, "10.77.0.2/24"
  std::string gateway;       // kVeth, optional: default route via this address
  uint64_t egress_rate = 0;  // kVeth, optional: bytes per second the box may send (tc HTB)
  friend bool operator==(const NetworkSpec&, const NetworkSpec&) = default;
};

inline constexpr const char* kDefaultProfile = "gen0-sliver";
// The one budget of /scratch, /tmp and /dev/shm together (one tmpfs).
inline constexpr uint64_t kDefaultScratchSize = 64ull << 20;
// The smallest volume a box may get (BoxSpec::disk_max): mkfs.ext4 makes smaller file
// systems, but their journal and metadata leave little of them.
inline constexpr uint64_t kMinDiskSize = 16ull << 20;
// Tasks a box may have unless its spec says otherwise (0 = no limit, only when asked).
inline constexpr uint64_t kDefaultPidsMax = 1024;
// Box uids/gids without an explicit uid_map/gid_map must lie below this: the size of the
// id range a box gets by default.
inline constexpr uint32_t kDefaultIdRangeSize = 65536;
// Spec files are read up to this size; JSON nested deeper is refused (a spec needs 3).
inline constexpr size_t kMaxSpecBytes = 4u << 20;
inline constexpr int kMaxSpecDepth = 64;
// Where a nest-ready box (BoxSpec::nest) finds the silk binary that made it.
inline constexpr const char* kNestSilkPath = "/run/silk/bin/silk";
// The profile `silk box run --nest` uses unless --profile says otherwise.
inline constexpr const char* kDefaultNestProfile = "gen0-node";
inline constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

struct BoxSpec {
  std::string command;            // program; looked up on PATH inside the box
  std::vector<std::string> args;  // arguments after the program name
  std::vector<std::string> env;   // "NAME=VALUE"; PATH defaults to kDefaultPath
  std::string cwd = "/";          // inside the box
  std::string rootfs;             // host directory; empty = read-only view of the host
  // Bytes /scratch, /tmp and /dev/shm may hold together (one tmpfs). At most the host's
  // RAM + swap, and at most memory_max when that is set (unless left at the default,
  // which is then capped at memory_max).
  uint64_t scratch_size = kDefaultScratchSize;
  // Bytes of the box's persistent volume at /data (PlanetLab's disk_max; ext4 on a sparse
  // image, compat/internal/volume.hpp): 0 = none; else at least kMinDiskSize, and at most
  // the free space where images go (checked when the box is made). Root only.
  uint64_t disk_max = 0;
  std::string hostname = "box";
  std::string profile = kDefaultProfile;  // a profile file path or a built-in name
  uint64_t memory_max = 0;                // bytes; 0 = no limit. Swap is off when set.
  uint64_t pids_max = kDefaultPidsMax;    // tasks in the box; 0 = no limit
  uint32_t cpu_weight = 100;  // cgroup v2 scale, 1..10000 (v1: shares = weight*1024/100)
  uint32_t io_weight = 0;     // 0 = not set; 1..10000 (cgroup v2 scale)
  std::vector<RlimitSpec> rlimits;
  std::vector<std::string> capabilities;  // granted, e.g. "CAP_NET_BIND_SERVICE"
  UserNamespaceMode user_namespace = UserNamespaceMode::kAuto;
  std::vector<IdMapping> uid_map;  // empty: box uid 0 -> caller's uid (rootless) or kAutoRange
  std::vector<IdMapping> gid_map;
  // The command runs as this uid/gid inside the box: never (uid_t)-1, and inside the
  // uid_map/gid_map when given, else below kDefaultIdRangeSize.
  uint32_t uid = 0;
  uint32_t gid = 0;
  NetworkSpec network;
  bool raw_sockets = false;     // grant raw/packet socket() through the supervisor
  bool report_denials = false;  // record every denied syscall (seccomp user notification)
  bool tty = false;             // mount a private /dev/pts (and /dev/ptmx)
  // pid 1 is silk's init (as tini or catatonit): it reaps orphans, forwards SIGTERM and the
  // other catchable signals to the command (its only child), and exits with its status
  // (128+N when a signal N killed it). false: the command itself is pid 1 (no reaping).
  // Learning boxes never get one (its syscalls would count as the workload's).
  bool init = true;
  // A nest-ready box (`--nest`): one that can host a node manager making boxes of its
  // own (README, "Nest-ready boxes"). It keeps every capability, but only in its own user
  // namespace (required: never "never"), and gets a delegated cgroup subtree (its own
  // cgroups, in a cgroup namespace rooted at them, mounted under /sys/fs/cgroup: their
  // directories writable, their limits and everything above out of reach), /dev/net/tun,
  // a writable /run (tmpfs: the inner silk's state root), the running silk binary at
  // kNestSilkPath, and an unmasked /proc (the kernel lets a user namespace mount a new
  // proc only where a fully visible one exists). Its seccomp filter has no listener
  // unless report_denials asks for one (compat/internal/filter.hpp: the kernel allows
  // one listener per filter chain). Root callers and the default root fs view only.
  bool nest = false;

  friend bool operator==(const BoxSpec&, const BoxSpec&) = default;
};

// The user-namespace modes by name ("auto", "always", "never"): the spec's
// "user_namespace" and `silk box run --userns` read the same words.
Result<UserNamespaceMode> ParseUserNamespaceMode(std::string_view word);
const char* UserNamespaceModeName(UserNamespaceMode mode);

// `silk box run --net`'s grammar: "none", or
// "bridge=BR,address=CIDR[,gateway=IP][,egress=RATE]" (RATE in bytes per second, with the
// K/M/G suffixes of sizes). Errors (kInvalidInput) name the key or value. The result
// still goes through Validate().
Result<NetworkSpec> ParseNetworkFlag(std::string_view text);

// Parses a JSON box spec. `source` names the input in errors ("box.json").
// Errors (kInvalidInput): malformed JSON (with line/column), more than kMaxSpecBytes,
// nesting deeper than kMaxSpecDepth, a duplicate key, an unknown field, a value of the
// wrong type or out of range, each naming the field's JSON path; then as Validate().
// Time and memory are linear in the input.
Result<BoxSpec> ParseBoxSpec(const std::string& json_text, const std::string& source);

// Reads and parses a JSON box spec file: a regular file only (a FIFO, device or
// directory is refused without blocking), at most kMaxSpecBytes.
// Errors: kNotFound, kInvalidInput for a special or too large file, or as ParseBoxSpec.
Result<BoxSpec> LoadBoxSpec(const std::string& path);

// The group a box's command runs in when only its user is given ("uid" without "gid",
// --uid without --gid): that user's primary group in the box's /etc/passwd (the
// rootfs's, resolved inside it; the host's for the default view, which binds it), else
// the gid equal to the uid. Never group root for a non-root user: a passwd entry naming
// group 0 gets the uid's number too. Root (uid 0) stays in group 0.
uint32_t DefaultBoxGid(uint32_t uid, const std::string& rootfs);

// The spec as JSON (every field, defaults included); ParseBoxSpec reads it back equal.
std::string BoxSpecToJson(const BoxSpec& spec);

// Checks the ranges and combinations a JSON type cannot express (command present,
// weights in range, CIDR address, known rlimits and capabilities, ...) and refuses
// values that mean something special to the kernel: uid/gid (uid_t)-1 or outside the
// box's id range, a rootfs that resolves to the host's `/`, a hostname that is not RFC
// 1123, a scratch size larger than the host's RAM + swap (or than memory_max), a disk_max
// below kMinDiskSize.
// Reads /proc/meminfo and resolves `rootfs`; changes nothing.
// Errors (kInvalidInput) name the field and what is accepted.
Result<void> Validate(const BoxSpec& spec);

// Checks a box id before anything is named after it (state directory, cgroups, veth):
// 1..64 characters of [A-Za-z0-9_.-], starting with a letter or digit, no "..".
// Errors: kInvalidInput naming the id and what is accepted.
Result<void> ValidateBoxId(const std::string& box_id);

// Capability names silk knows ("CAP_CHOWN" .. "CAP_CHECKPOINT_RESTORE") -> number, or -1.
int CapabilityNumber(const std::string& name);
// Rlimit names ("nofile") -> RLIMIT_* number, or -1.
int RlimitNumber(const std::string& name);

}  // namespace silk::compat
