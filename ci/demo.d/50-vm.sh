#!/usr/bin/env bash
# thinix VMs through libvirt: check the host (and apply the fix silk knows: /dev/kvm's
# mode, which no udev sets here), then boot the image of chapter 40 and run commands in
# it: in a compatibility box under the gen0-sliver API profile (generation 1 hosting
# generation 2, in miniature), directly, and several VMs at once. Then bad input.
set -euo pipefail
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
"$SILK" vm run --image "$image" --no-box --json -- /bin/true >/tmp/silk-demo-vm1.json &
pid1=$!
"$SILK" vm run --image "$image" --no-box --json -- /bin/true >/tmp/silk-demo-vm2.json &
pid2=$!
wait "$pid1" "$pid2"
python3 - <<'PY'
import json
a, b = (json.load(open(f"/tmp/silk-demo-vm{i}.json")) for i in (1, 2))
assert a["domain"] != b["domain"], "two VMs shared a name"
print(f'{a["domain"]} and {b["domain"]}: both exited {a["exit_status"]}, {b["exit_status"]}; '
      f'ready after {a["timings"]["ready"]:.1f} s and {b["timings"]["ready"]:.1f} s')
PY
rm -f /tmp/silk-demo-vm1.json /tmp/silk-demo-vm2.json

echo
echo "== silk vm list (nothing left behind)"
# silk returns on the guest's shutdown event; libvirt then kills and reaps QEMU and
# removes the domain on its own (~2 s here, where PID 1 reaps slowly).
for _ in $(seq 1 100); do
  [ "$("$SILK" vm list --json)" = "[]" ] && break
  sleep 0.1
done
"$SILK" vm list

echo
echo "== bad input: a tampered image is refused before boot"
work=$(mktemp -d /tmp/silk-demo-vm-XXXXXX)
trap 'rm -rf "$work"' EXIT
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
