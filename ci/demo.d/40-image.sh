#!/usr/bin/env bash
# thinix images: build the signed, reproducible guest image (Debian's cloud kernel is
# downloaded once with apt-get download, then cached in /var/cache/silk/kernels), show
# and verify it, then tamper with copies and watch verification refuse them, naming the
# component that changed.
set -euo pipefail
. "$SILK_SOURCE_DIR/ci/demo_lib.sh"
image=/var/lib/silk/images/thinix

echo "== silk image build thinix"
"$SILK" image build thinix --out "$image"

echo
echo "== silk image verify (the signature, then every component's SHA-256)"
"$SILK" image verify "$image"
"$SILK" image show "$image" --json | python3 -c '
import json, sys
i = json.load(sys.stdin)
print("initramfs: %.1f MiB %s, %d entries; kernel %s" % (
    i["initramfs_size"] / 2**20, i["compression"], i["file_count"], i["kernel_version"]))'

refused() {  # refused DIR EXPECTED-TEXT
  local out
  if out=$("$SILK" image verify "$1" 2>&1); then
    echo "ci/demo: a tampered image verified: $1" >&2
    exit 1
  fi
  echo "$out"
  grep -qF "$2" <<<"$out" || { echo "ci/demo: expected '$2'" >&2; exit 1; }
}

echo
echo "== tamper 1: one byte of the kernel"
cp -a "$image" "$work/kernel"
printf '\x00' | dd of="$work/kernel/vmlinuz" bs=1 seek=4096 conv=notrunc status=none
refused "$work/kernel" "component kernel (vmlinuz) changed"

echo
echo "== tamper 2: a line added to /init inside the initramfs (repacked with cpio + zstd)"
cp -a "$image" "$work/init"
mkdir "$work/unpacked"
(cd "$work/unpacked" && zstd -dc "$work/init/initramfs.img" | cpio -idm --quiet)
echo 'echo owned' >>"$work/unpacked/init"
(cd "$work/unpacked" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | zstd -q -3 >"$work/init/initramfs.img")
refused "$work/init" "component initramfs file init changed"

echo
echo "== tamper 3: the manifest's kernel command line"
cp -a "$image" "$work/manifest"
sed -i 's/panic=-1/panic=0/' "$work/manifest/manifest.json"
refused "$work/manifest" "component manifest (manifest.json)"

echo
echo "== the original still verifies"
"$SILK" image verify "$image"
