#!/usr/bin/env bash
# Chapter 1: API profiles. The built-in lineage (podman-default -> gen0-sliver), strict
# linting, import and export for other runtimes, subset proofs with reasons, lineage
# checks, diff and compile. Every step runs the real silk binary ($SILK) and checks its
# exit code.
set -euo pipefail
. "$SILK_SOURCE_DIR/ci/demo_lib.sh"

step "built-in profiles: gen0-sliver extends podman-default (Debian's Podman profile)"
expect 0 "$SILK" policy show gen0-sliver --caps none >"$work/show.txt"
head -n 7 "$work/show.txt"
grep -E '^  (allow|errno|kill|trap|conditional|everything)' "$work/show.txt"

step "lint: every problem in an error-laden profile, with file:line:column (exit 1)"
cat >"$work/broken.json" <<'JSON'
{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["amd64"],
  "syscalls": [
    {"names": ["read", "wirte", "read"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 6, "value": 8, "op": "SCMP_CMP_EQUALS"}]},
    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMN"]}}
  ],
  "silk": {"name": "broken", "extend": "gen0-sliver"}
}
JSON
expect 1 "$SILK" policy lint "$work/broken.json"

step "import: Debian's Podman profile as a silk profile with metadata"
expect 0 "$SILK" policy import /usr/share/containers/seccomp.json --name imported \
  --clone3 allow --out "$work/imported.json"
expect 0 "$SILK" policy lint "$work/imported.json"

step "export: plain OCI JSON for runc/crun, resolved for amd64 without capabilities"
expect 0 "$SILK" policy export gen0-sliver --arch amd64 --caps none --out "$work/gen0-oci.json"
grep -c '"SCMP_ACT_' "$work/gen0-oci.json" | sed 's/^/rules: /'
if grep -q '"silk"\|archMap\|includes' "$work/gen0-oci.json"; then
  echo "10-policy: export left silk metadata or Docker extensions in" >&2
  exit 1
fi

# A small generation-1 profile for a web workload, and a greedy one that asks for more
# than its parent grants.
mkdir -p "$work/lineage"
cat >"$work/lineage/gen1-web.json" <<'JSON'
{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 38,
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["accept4", "bind", "brk", "close", "connect", "epoll_create1", "epoll_ctl",
               "epoll_wait", "execve", "exit", "exit_group", "fcntl", "fstat", "futex",
               "getpid", "getrandom", "listen", "mmap", "mprotect", "munmap", "newfstatat",
               "openat", "read", "recvfrom", "rt_sigaction", "rt_sigprocmask", "sendto",
               "setsockopt", "write"],
     "action": "SCMP_ACT_ALLOW"},
    {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}
  ],
  "silk": {"name": "gen1-web", "extends": "gen0-sliver", "generation": 1, "horizon": "6.1"}
}
JSON
cat >"$work/lineage/gen1-greedy.json" <<'JSON'
{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 38,
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["read", "write", "exit_group", "bpf", "socket"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GE"}]}
  ],
  "silk": {"name": "gen1-greedy", "extends": "gen0-sliver", "generation": 1, "horizon": "6.1"}
}
JSON

step "subset: gen0-sliver ⊆ podman-default and gen1-web ⊆ gen0-sliver (exit 0)"
expect 0 "$SILK" policy subset gen0-sliver podman-default
expect 0 "$SILK" policy subset "$work/lineage/gen1-web.json" gen0-sliver

step "subset: gen1-greedy ⊄ gen0-sliver, with every reason (exit 1)"
expect 1 "$SILK" policy subset "$work/lineage/gen1-greedy.json" gen0-sliver

step "check: every parent/child pair of a lineage directory (exit 1: one violation)"
expect 1 "$SILK" policy check "$work/lineage"
rm "$work/lineage/gen1-greedy.json"
expect 0 "$SILK" policy check "$work/lineage"

step "diff: like diff(1), exit 0 iff the effective policies are equal"
expect 0 "$SILK" policy diff podman-default "$work/imported.json"
expect 1 "$SILK" policy diff gen0-sliver "$work/lineage/gen1-web.json" >"$work/diff.txt"
head -n 12 "$work/diff.txt"

step "compile: gen0-sliver to BPF (silk's own generator, checked by its BPF interpreter)"
expect 0 "$SILK" policy compile gen0-sliver --out "$work/gen0.bpf"
expect 0 "$SILK" policy compile gen0-sliver --format pfc --out "$work/gen0.pfc"
echo "BPF: $(($(stat -c %s "$work/gen0.bpf") / 8)) instructions; PFC: $(wc -l <"$work/gen0.pfc") lines"
