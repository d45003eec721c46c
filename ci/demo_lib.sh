# shellcheck shell=bash
# Sourced by every ci/demo.d chapter: a scratch directory removed on exit, and the two
# helpers the chapters narrate with.
work=$(mktemp -d /tmp/silk-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
chapter=$(basename "$0" .sh)

step() { printf '\n== %s\n' "$*"; }

# expect RC CMD...: shows CMD (with $SILK as `silk`), runs it, and fails the demo unless
# it exits with RC.
expect() {
  local want=$1 rc=0
  shift
  echo "\$ ${*/#$SILK/silk}"
  "$@" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "$chapter: expected exit $want, got $rc from: $*" >&2
    exit 1
  fi
}
