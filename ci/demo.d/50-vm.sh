#!/usr/bin/env bash
# thinix VMs through libvirt: check the host (and apply the fix silk knows: /dev/kvm's
# mode, which no udev sets here), then boot the image of chapter 40 and run commands in
# it: in a compatibility box under the gen0-sliver API profile (generation 1 hosting
# generation 2, in miniature), directly, and several VMs at once. Then bad input.
set -euo pipefail
. "$SILK_SOURCE_DIR/ci/demo_lib.sh"
image=/var/lib/silk/images/thinix

echo "== silk vmm doctor --fix"
"$SILK" vmm doctor --fix --probe --image "$image"

echo
echo "== silk vm run: a command in a compatibility box in a thinix VM"
# shellcheck disable=SC2016 # expanded by the shell in the VM's box
"$SILK" vm run --image "$image" --timings -- /bin/sh -c \
  'echo "hello from $(hostname) in $(uname -r)"; grep Seccomp: /proc/self/status'

echo
echo "== the command's exit status comes back (exit 7 inside)"
set +e
"$SILK" vm run --image "$image" --no-box -- /bin/sh -c 'echo failing on purpose >&2; exit 7'
status=$?
set -e
echo "silk vm run exited with $status"
[ "$status" = 7 ] || { echo "ci/demo: expected exit status 7, got $status" >&2; exit 1; }

echo
echo "== two VMs at once (distinct names, sockets, consoles)"
"$SILK" vm run --image "$image" --no-box --outcome "$work/vm1.json" -- /bin/true &
pid1=$!
"$SILK" vm run --image "$image" --no-box --outcome "$work/vm2.json" -- /bin/true &
pid2=$!
# `wait A B` returns B's status only: wait for each and check both.
rc1=0 rc2=0
wait "$pid1" || rc1=$?
wait "$pid2" || rc2=$?
if [ "$rc1" -ne 0 ] || [ "$rc2" -ne 0 ]; then
  echo "$chapter: two VMs at once: exit $rc1 and $rc2, expected 0 and 0" >&2
  exit 1
fi
python3 - "$work/vm1.json" "$work/vm2.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["domain"] != b["domain"], "two VMs shared a name"
assert a["exit_status"] == 0 and b["exit_status"] == 0, "a VM's command failed"
print(f'{a["domain"]} and {b["domain"]}: both exited {a["exit_status"]}, {b["exit_status"]}; '
      f'ready after {a["timings"]["ready"]:.1f} s and {b["timings"]["ready"]:.1f} s')
PY

echo
echo "== silk vm list (nothing left behind)"
# silk returns on the guest's shutdown event; libvirt then kills and reaps QEMU and
# removes the domain on its own (~2 s here, where PID 1 reaps slowly).
left=
for _ in $(seq 1 100); do
  left=$("$SILK" vm list --domains --json)
  [ "$left" = "[]" ] && break
  sleep 0.1
done
"$SILK" vm list --domains
if [ "$left" != "[]" ]; then
  echo "$chapter: domains left behind after 10 s: $left" >&2
  exit 1
fi

echo
echo "== bad input: a tampered image is refused before boot"
cp -a "$image" "$work/image"
printf '\x00' | dd of="$work/image/initramfs.img" bs=1 seek=4096 conv=notrunc status=none
if out=$("$SILK" vm run --image "$work/image" -- /bin/true 2>&1); then
  echo "ci/demo: a tampered image booted" >&2
  exit 1
fi
echo "$out"

echo
echo "== bad input: a guest that does not come up in time shows its console"
if out=$("$SILK" vm run --image "$image" --boot-timeout 2 -- /bin/true 2>&1); then
  echo "ci/demo: expected a boot timeout" >&2
  exit 1
fi
echo "$out" | head -20
