#!/usr/bin/env bash
# Chapter 2: compatibility boxes. A command in a box (namespaces, minimal read-only root,
# no capabilities, cgroup limits, the gen0-sliver API profile), exit codes, the denial
# report, limits that hold, a JSON spec, and a sweep after a SIGKILLed supervisor.
set -euo pipefail
. "$SILK_SOURCE_DIR/ci/demo_lib.sh"

step "a box: its own pid 1, hostname, network (lo only), a read-only minimal root"
# shellcheck disable=SC2016 # $$ and $(hostname) are expanded by the shell in the box
expect 0 "$SILK" box run --hostname demo -- /bin/sh -c \
  'echo "pid $$ on $(hostname)"; ls /; ls /sys/class/net; touch /usr/x 2>/dev/null || echo "/usr is read-only"'

step "no capabilities at all, no_new_privs, seccomp filter on"
expect 0 "$SILK" box run -- /bin/sh -c 'grep -E "^(Cap(Eff|Bnd|Prm)|NoNewPrivs|Seccomp):" /proc/self/status'

step "exit status passes through; a missing command is 127 with a clear message"
expect 7 "$SILK" box run -- /bin/sh -c 'exit 7'
expect 127 "$SILK" box run -- no-such-command

step "which syscall was denied? --report-denials answers"
expect 1 "$SILK" box run --report-denials -- /usr/bin/python3 -c \
  'import ctypes, sys; libc = ctypes.CDLL(None); sys.exit(0 if libc.syscall(323, 0) >= 0 else 1)'

step "limits hold: a fork bomb stops at --pids, a memory hog is killed at --memory"
expect 0 "$SILK" box run --pids 20 -- /usr/bin/python3 -c '
import os, signal
n = 0
try:
    while n < 1000:
        if os.fork() == 0:
            signal.pause()
        n += 1
except OSError as e:
    print(f"fork bomb stopped after {n} forks: {e.strerror}")'
expect 137 "$SILK" box run --memory 32M -- /usr/bin/python3 -c 'b = bytearray(256 << 20)'

step "the same box as a JSON spec (the node manager's format); unknown fields are refused"
cat >"$work/box.json" <<'JSON'
{"command": "/bin/sh", "args": ["-c", "echo spec box $(hostname)"],
 "hostname": "fromspec", "memory_max": "64M", "pids_max": 50, "cpu_weight": 200}
JSON
expect 0 "$SILK" box run --spec "$work/box.json"
echo '{"command": "true", "memroy_max": "1G"}' >"$work/bad.json"
expect 125 "$SILK" box run --spec "$work/bad.json"

step "a SIGKILLed supervisor: its box dies with it, the next sweep reclaims the rest"
# The box says it is up through a FIFO: the supervisor is killed while its box runs.
mkfifo "$work/up"
"$SILK" box run --box-id demo-killed --memory 64M -- /bin/sh -c 'echo up; exec sleep 60' \
  >"$work/up" &
sup=$!
read -r _ <"$work/up"
kill -9 "$sup"
wait "$sup" 2>/dev/null || true
expect 0 "$SILK" box sweep >"$work/sweep.txt"
cat "$work/sweep.txt"
grep -qw demo-killed "$work/sweep.txt" ||
  { echo "$chapter: the sweep did not reclaim demo-killed" >&2; exit 1; }

step "named boxes live on their own: create, start, list, signal, stop, delete"
# A private state root, so that the demo's boxes never meet anybody else's; the box's
# unprivileged host uid must get through to it (silk says so otherwise).
chmod 0711 "$work"
boxes="$work/boxes"
expect 0 "$SILK" box create --state-dir "$boxes" demo-web -- /bin/sh -c \
  'echo serving; trap "echo stopping; exit 0" TERM; while :; do sleep 0.1; done'
expect 0 "$SILK" box start --state-dir "$boxes" demo-web
expect 0 "$SILK" box list --state-dir "$boxes"
expect 0 "$SILK" box stop --state-dir "$boxes" --timeout 5 demo-web
cat "$boxes/demo-web/output.log"
grep -q stopping "$boxes/demo-web/output.log" ||
  { echo "$chapter: the box's TERM trap did not run" >&2; exit 1; }
expect 0 "$SILK" box delete --state-dir "$boxes" demo-web
expect 1 "$SILK" box state --state-dir "$boxes" demo-web
