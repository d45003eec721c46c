# stress-ng's exit status alone proves nothing: under a profile that denies clone it
# dispatches no stressor, cannot even write its error message, and still exits 0. So a
# run passes only when stress-ng (-v) reports a successful run with sane metrics and no
# "fail:" or "error:" line, and its own metrics (--yaml) show that every stressor did
# all its bogo operations. --timeout bounds a stressor that a profile slows down.
set -eu
# stress-ng stops its stressors with kill(2), but whether a run calls it depends on
# timing (a sock client or a switch child that exits before it is killed): without kill
# some runs hang and others pass, which no oracle can judge. So the run makes the need
# explicit: it sends signal 0 to itself first, and a profile without kill fails at once.
kill -0 $$
stress-ng -v --metrics-brief --yaml /tmp/metrics.yaml --timeout 10s \
  --cpu 1 --cpu-ops 100 \
  --fork 1 --fork-ops 100 \
  --pipe 1 --pipe-ops 5000 \
  --switch 1 --switch-ops 5000 \
  --vm 1 --vm-bytes 16m --vm-ops 50 \
  >/tmp/stress-ng.out 2>&1 || { cat /tmp/stress-ng.out >&2; exit 1; }
cat /tmp/stress-ng.out >&2
fail() {
  echo "stress-ng: $*" >&2
  exit 1
}
! grep -qE "(fail|error):" /tmp/stress-ng.out || fail "a stressor failed"
grep -q "successful run completed" /tmp/stress-ng.out || fail "no successful run"
grep -q "all stressor metrics validated and sane" /tmp/stress-ng.out || fail "metrics not sane"
for want in cpu=100 fork=100 pipe=5000 switch=5000 vm=50; do
  name=${want%=*}
  ops=${want#*=}
  got=$(awk -v s="$name" '$2 == "stressor:" { cur = $3 } $1 == "bogo-ops:" && cur == s { print $2 }' /tmp/metrics.yaml)
  [ -n "$got" ] && [ "$got" -ge "$ops" ] || fail "$name did ${got:-no} of $ops bogo ops"
done
echo "stress-ng ok"
