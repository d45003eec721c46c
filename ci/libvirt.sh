# shellcheck shell=bash
# Sourced by ci/test and ci/demo: start virtlogd and libvirtd when nothing else
# (no init system here) runs them, and stop exactly what we started, by pid.
silk_state=/run/silk-ci
silk_started_daemons=()

silk_libvirt_up() { virsh -c qemu:///system version >/dev/null 2>&1; }

# A socket file is not a daemon: after a crash or a killed session the file stays
# behind. Alive means something is listening on it.
silk_listening() { ss -xlnH 2>/dev/null | awk '{print $5}' | grep -qxF "$1"; }

# Starts `daemon` with its own pid file; remembers the pid file only if it started.
silk_start_daemon() {
  local daemon=$1 pidfile=$silk_state/$1.pid
  rm -f "$pidfile"
  "$daemon" -d -p "$pidfile" 2>/dev/null || true
  for _ in $(seq 1 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    silk_started_daemons+=("$pidfile")
  fi
}

silk_libvirt_start() {
  mkdir -p "$silk_state"
  # Without udev, /dev/kvm is root:root 0600; libvirt then re-probes QEMU on every
  # domain start (~54 s each). Give it udev's usual group and mode.
  if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
  # libvirtd answering is not enough: starting a domain also needs virtlogd.
  if ! silk_listening /run/libvirt/virtlogd-sock; then
    rm -f /run/libvirt/virtlogd-sock /run/libvirt/virtlogd-admin-sock
    silk_start_daemon virtlogd
  fi
  silk_libvirt_up && return 0
  silk_start_daemon libvirtd
  for _ in $(seq 1 100); do
    silk_libvirt_up && return 0
    sleep 0.1
  done
  echo "ci: libvirtd did not come up; see /var/log/libvirt/ and try 'libvirtd -v'" >&2
  return 1
}

silk_libvirt_stop() {
  local i pidfile pid
  for ((i = ${#silk_started_daemons[@]} - 1; i >= 0; i--)); do
    pidfile=${silk_started_daemons[$i]}
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pidfile"
  done
  silk_started_daemons=()
}
