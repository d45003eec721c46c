#!/usr/bin/env bash
# The box commands a user runs, timed against their peers' commands by hyperfine in one
# run (ratios, not absolute times, are what to read on a shared machine):
#   one-shot:  `silk box run -- /bin/true`  vs  `bwrap --unshare-all ... /bin/true`
#   lifecycle: `silk box create --start NAME -- sleep` (returns once the command runs)
#              vs `crun run --detach` of an OCI bundle (create + start), each followed by
#              its delete, timed as one command pair
#   exec:      `silk box exec NAME -- /bin/true` into a running box  vs  `crun exec` into a
#              running container of the same bundle
# Root only. crun refuses this hybrid-cgroup host, so everything runs in a private mount
# namespace with /sys/fs/cgroup/unified unmounted (silk then uses the v1 controllers).
# Usage: bench/box_cli_bench.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=${1:-build}
runs=${2:-30}
silk=$(realpath "$build/cli/silk")
for tool in hyperfine bwrap crun; do
  command -v "$tool" >/dev/null || { echo "box_cli_bench: $tool is missing (ci/setup installs it)" >&2; exit 2; }
done
[[ $EUID -eq 0 ]] || { echo "box_cli_bench: needs root" >&2; exit 2; }

work=$(mktemp -d /tmp/silk-box-cli-bench-XXXXXX)
chmod 0711 "$work"
cleanup() {
  "$silk" box delete --state-dir "$work/state" --force bench >/dev/null 2>&1 || true
  "$silk" box delete --state-dir "$work/state" --force bench-exec >/dev/null 2>&1 || true
  crun delete -f silk-bench >/dev/null 2>&1 || true
  crun delete -f silk-bench-exec >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# An OCI bundle with the same view as silk's default root: /usr read-only, /bin /lib
# /lib64 as links into it, and the namespaces silk gives a box.
bundle=$work/bundle
mkdir -p "$bundle/rootfs"/{usr,proc,dev,sys,tmp}
ln -s usr/bin "$bundle/rootfs/bin"
ln -s usr/lib "$bundle/rootfs/lib"
ln -s usr/lib64 "$bundle/rootfs/lib64"
(cd "$bundle" && crun spec)
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
c = json.load(open(path))
c["root"] = {"path": "rootfs", "readonly": True}
c["process"]["args"] = ["/bin/sleep", "1000"]
c["process"]["terminal"] = False
c["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]})
c["linux"]["namespaces"].append({"type": "cgroup"})
json.dump(c, open(path, "w"))
PY

state=$work/state
bwrap_cmd="bwrap --unshare-all --die-with-parent --ro-bind /usr /usr --symlink usr/bin /bin \
--symlink usr/lib /lib --symlink usr/lib64 /lib64 --proc /proc --dev /dev /bin/true"
unshare -m bash -s <<SH
set -euo pipefail
umount /sys/fs/cgroup/unified 2>/dev/null || true
hyperfine --style basic --warmup 3 --runs $runs --export-json $work/oneshot.json \
  -n "silk box run" "$silk box run --state-dir $state -- /bin/true" \
  -n "bwrap" "$bwrap_cmd"
hyperfine --style basic --warmup 3 --runs $runs --export-json $work/lifecycle.json \
  -n "silk box create --start + delete" \
  "$silk box create --state-dir $state --start bench -- /bin/sleep 1000 >/dev/null && $silk box delete --state-dir $state --force bench" \
  -n "crun run --detach + delete" \
  "crun run --detach --bundle $bundle silk-bench && crun delete -f silk-bench"
$silk box create --state-dir $state --start bench-exec -- /bin/sleep 1000 >/dev/null
crun run --detach --bundle $bundle silk-bench-exec
hyperfine --style basic --warmup 3 --runs $runs --export-json $work/exec.json \
  -n "silk box exec" "$silk box exec --state-dir $state bench-exec -- /bin/true" \
  -n "crun exec" "crun exec silk-bench-exec /bin/true"
$silk box delete --state-dir $state --force bench-exec
crun delete -f silk-bench-exec
SH

python3 - "$work/oneshot.json" "$work/lifecycle.json" "$work/exec.json" <<'PY'
import json, sys
for path in sys.argv[1:]:
    rs = json.load(open(path))["results"]
    silk = rs[0]["median"]
    for r in rs:
        print(f"{r['command']:40s} median {r['median']*1000:8.2f} ms   silk / this {silk / r['median']:.2f}x")
PY
