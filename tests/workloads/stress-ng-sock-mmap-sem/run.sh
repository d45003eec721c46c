# stress-ng's exit status alone proves nothing: under a profile that denies clone it
# dispatches no stressor, cannot even write its error message, and still exits 0; with
# accept denied the sock stressor still counts its bogo operations (the client's failure
# message is lost when the server kills it). So a run passes only when stress-ng (-v)
# reports a successful run with sane metrics and no "fail:" or "error:" line, its own
# metrics (--yaml) show that every stressor did all its bogo operations, and the sock
# server sent all its messages: 511 sends (16 to 8176 bytes) per accepted connection,
# one connection per bogo operation. --timeout bounds a stressor that a profile slows down.
# System V semaphores: the POSIX sem stressor of Debian 12's stress-ng 0.15.06 does not
# stop at --sem-ops and always runs to --timeout.
set -eu
# stress-ng stops its stressors with kill(2), but whether a run calls it depends on
# timing (a sock client or a switch child that exits before it is killed): without kill
# some runs hang and others pass, which no oracle can judge. So the run makes the need
# explicit: it sends signal 0 to itself first, and a profile without kill fails at once.
kill -0 $$
sock_ops=50
stress-ng -v --metrics-brief --yaml /tmp/metrics.yaml --timeout 10s \
  --sock 1 --sock-ops $sock_ops \
  --mmap 1 --mmap-ops 5 --mmap-bytes 1m \
  --sem-sysv 1 --sem-sysv-ops 2000 \
  --futex 1 --futex-ops 2000 \
  >/tmp/stress-ng.out 2>&1 || { cat /tmp/stress-ng.out >&2; exit 1; }
cat /tmp/stress-ng.out >&2
fail() {
  echo "stress-ng: $*" >&2
  exit 1
}
! grep -qE "(fail|error):" /tmp/stress-ng.out || fail "a stressor failed"
grep -q "successful run completed" /tmp/stress-ng.out || fail "no successful run"
grep -q "all stressor metrics validated and sane" /tmp/stress-ng.out || fail "metrics not sane"
for want in sock=$sock_ops mmap=5 sem-sysv=2000 futex=2000; do
  name=${want%=*}
  ops=${want#*=}
  got=$(awk -v s="$name" '$2 == "stressor:" { cur = $3 } $1 == "bogo-ops:" && cur == s { print $2 }' /tmp/metrics.yaml)
  [ -n "$got" ] && [ "$got" -ge "$ops" ] || fail "$name did ${got:-no} of $ops bogo ops"
done
sent=$(awk '$4 == "sock:" && $6 == "messages" { print $5 }' /tmp/stress-ng.out)
[ "${sent:-0}" -eq $((511 * sock_ops)) ] || fail "the sock server sent ${sent:-no} of $((511 * sock_ops)) messages"
echo "stress-ng ok"
