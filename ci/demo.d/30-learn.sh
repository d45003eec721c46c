#!/usr/bin/env bash
# Chapter 30: learn -> tighten -> regress. The lineage podman-default -> learned for the
# sqlite3 workloads -> minimised, each step checked ⊆ its parent by the algebra, then
# the whole suite regression-tested under every generation.
set -euo pipefail
. "$SILK_SOURCE_DIR/ci/demo_lib.sh"

suite=$SILK_SOURCE_DIR/tests/workloads
mkdir -p "$work/lineage" "$work/sqlite"
cp -r "$suite/sqlite3-cli" "$suite/python-sqlite3" "$work/sqlite/"

echo "== learn: what does python3+sqlite3 use under podman-default? (threads, ⊆ parent)"
"$SILK" policy learn --from podman-default --suite "$suite/python-sqlite3" --out "$work/py.json"

echo "== learning speed: 200k read/write calls (busybox dd bs=1), counted in the kernel vs each"
echo "   notified to the supervisor (--notify-all); both must learn the same profile"
for mode in count notify-all; do
  flag=()
  if [ "$mode" = notify-all ]; then flag=(--notify-all); fi
  "$SILK" policy learn --from podman-default "${flag[@]}" --json --out "$work/dd-$mode.json" \
    -- busybox dd if=/dev/zero of=/dev/null bs=1 count=100000 \
    > "$work/dd-$mode.summary" 2> "$work/dd-$mode.log" ||
    { cat "$work/dd-$mode.log"; exit 1; }
  python3 -c '
import json, sys
j = json.load(sys.stdin)
run = j["runs"][0]
print("%10s: %8.1f ms, %d syscalls, %d syscall numbers counted in the kernel"
      % (sys.argv[1], run["ms"], run["syscalls"], run["counted_in_kernel"]))
if sys.argv[1] == "count" and j["counting_unavailable"]:
    sys.exit("counting unavailable: " + j["counting_unavailable"])' "$mode" \
    < "$work/dd-$mode.summary"
done
"$SILK" policy diff "$work/dd-count.json" "$work/dd-notify-all.json" >/dev/null ||
  { echo "counted and notified learning disagree"; exit 1; }

echo "== learn again over the sqlite3 CLI and merge (union ∩ parent)"
"$SILK" policy learn --from podman-default --suite "$suite/sqlite3-cli" \
  --merge "$work/py.json" --out "$work/both.json" --name sqlite-learned
"$SILK" policy subset "$work/both.json" podman-default

echo "== tighten: podman-default -> gen1 for the sqlite suite (learned, then minimised)"
"$SILK" policy export podman-default --caps none --out "$work/lineage/podman-default.json"
"$SILK" policy tighten "$work/lineage/podman-default.json" --suite "$work/sqlite" \
  --out "$work/lineage/gen1.json" --name gen1
"$SILK" policy tighten "$work/lineage/gen1.json" --suite "$work/sqlite" --minimize --jobs 2 \
  --out "$work/lineage/gen2.json" --name gen2
"$SILK" policy check "$work/lineage"

oracle='sqlite3 /tmp/d.db "create table t(x); insert into t values (1);"'
echo "== bad input: a shell oracle under gen1 (learned without sh) -> refused, with the denial"
if "$SILK" policy minimize --profile "$work/lineage/gen1.json" --oracle "$oracle"; then
  echo "expected a refusal"; exit 1
fi
echo "== minimise gen1 against the sqlite3 CLI workload alone, on 2 workers, with the report"
"$SILK" policy minimize --profile "$work/lineage/gen1.json" --suite "$suite/sqlite3-cli" \
  --jobs 2 --out "$work/cli-min.json"
"$SILK" policy subset "$work/cli-min.json" "$work/lineage/gen1.json"

echo "== regress: the sqlite suite plus busybox under every generation"
cp -r "$suite/busybox-applets" "$work/sqlite/"
set +e
"$SILK" regress --profiles "$work/lineage" --suite "$work/sqlite" \
  --junit "$work/junit.xml" --html "$work/report.html" --baseline "$work/base.json" \
  --update-baseline
"$SILK" regress --profiles "$work/lineage" --suite "$work/sqlite" --baseline "$work/base.json"
rc=$?
set -e
echo "regress against its own baseline: exit $rc (0 = no regression; busybox breaks at gen1"
echo "because gen1 was learned for the sqlite workloads only, and the baseline records that)"
[ "$rc" -eq 0 ]
grep -c "<testcase" "$work/junit.xml"
grep -q "<svg" "$work/report.html" && echo "HTML report with the allow-set chart: $(wc -c < "$work/report.html") bytes"
