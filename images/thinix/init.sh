#!/bin/sh
# thinix /init, written by `silk image build thinix`. PID 1 of the guest: mounts the
# kernel filesystems, loads modules, configures the network and the virtio ports from
# the kernel command line, runs the silk agent or a command, and always powers off.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root TERM=linux

say() { echo "thinix: $*"; }

finish() {
  sync
  # Without ACPI (acpi=off, microvm) the kernel turns a power-off into a halt, which
  # hangs the VM: reboot instead (QEMU -no-reboot / libvirt on_reboot=destroy end it).
  if [ -d /sys/firmware/acpi ]; then poweroff -f; else reboot -f; fi
  # Only reached if the syscall failed: exiting PID 1 panics the kernel, and panic=-1
  # on the command line reboots at once. Never hang.
  say "power-off failed"
  exit 1
}

if [ "$THINIX_STAGE" != 2 ]; then
  # Stage 1. The kernel unpacked us into rootfs, which pivot_root(2) refuses (EINVAL:
  # rootfs can never be unmounted), and compatibility boxes in the guest pivot_root.
  # Move everything onto a tmpfs and switch_root into it (mv frees each file as it
  # goes, so memory does not double).
  mkdir /newroot
  mount -t tmpfs -o mode=755 tmpfs /newroot
  # switch_root insists that the old root still has /init: copy that one.
  /bin/busybox cp -p /init /newroot/init
  for f in /*; do  # /bin (busybox and its applet links) last
    case "$f" in /newroot | /bin | /init) ;; *) /bin/busybox mv "$f" /newroot/ ;; esac
  done
  /bin/busybox mv /bin /newroot/
  export THINIX_STAGE=2
  exec /newroot/bin/busybox switch_root /newroot /init
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
if mount -t cgroup2 cgroup2 /sys/fs/cgroup; then
  read -r controllers < /sys/fs/cgroup/cgroup.controllers
  # One line of space-separated names: split on purpose.
  for c in $controllers; do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || say "cannot enable cgroup controller $c"
  done
else
  say "cannot mount cgroup2"
fi
hostname thinix

while read -r m; do
  [ -n "$m" ] && { insmod "$m" || say "insmod $m failed"; }
done < /etc/thinix/modules

# Splits the kernel command line the way the kernel does: words separated by blanks,
# double quotes group blanks and are removed. No eval: nothing in it is executed.
ip_addr="" gw="" agent="" run=""
take() {
  case "$1" in
    silk.ip=*) ip_addr=${1#silk.ip=} ;;
    silk.gw=*) gw=${1#silk.gw=} ;;
    silk.agent=*) agent=${1#silk.agent=} ;;
    silk.run=*) run=${1#silk.run=} ;;
  esac
}
read -r cmdline < /proc/cmdline
word="" inq=0 have=0 i=0 n=${#cmdline}
while [ "$i" -lt "$n" ]; do
  # shellcheck disable=SC3057 # busybox sh (ash) has ${var:offset:length}
  c=${cmdline:$i:1}
  i=$((i + 1))
  if [ "$c" = '"' ]; then
    inq=$((1 - inq)); have=1
  elif [ "$inq" = 0 ] && { [ "$c" = ' ' ] || [ "$c" = '	' ]; }; then
    [ "$have" = 1 ] && take "$word"
    word="" have=0
  else
    word="$word$c"; have=1
  fi
done
[ "$have" = 1 ] && take "$word"

ip link set lo up
if [ -n "$ip_addr" ]; then
  t=0
  while [ ! -e /sys/class/net/eth0 ] && [ "$t" -lt 50 ]; do sleep 0.1; t=$((t + 1)); done
  if ip link set eth0 up && ip addr add "$ip_addr" dev eth0; then
    [ -n "$gw" ] && { ip route add default via "$gw" || say "cannot add default route via $gw"; }
  else
    say "cannot configure eth0 with $ip_addr"
  fi
fi

# /dev/virtio-ports/<name> -> ../vportNpM, as udev would (no udev here).
link_ports() {
  mkdir -p /dev/virtio-ports
  for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] || continue
    name=$(cat "$p/name")
    [ -n "$name" ] && [ ! -e "/dev/virtio-ports/$name" ] && ln -s "../${p##*/}" "/dev/virtio-ports/$name"
  done
}
link_ports

if [ -n "$agent" ]; then
  t=0
  while [ ! -e "/dev/virtio-ports/$agent" ] && [ "$t" -lt 100 ]; do
    sleep 0.1; t=$((t + 1)); link_ports
  done
  if [ -e "/dev/virtio-ports/$agent" ]; then
    /bin/silk agent --port "/dev/virtio-ports/$agent"
    say "agent exited with status $?"
  else
    say "no virtio port named $agent"
  fi
elif [ -n "$run" ]; then
  /bin/sh -c "$run"
  say "exit $?"
else
  say "no silk.agent or silk.run on the command line: shell on the console (exit powers off)"
  setsid cttyhack /bin/sh
fi
finish
