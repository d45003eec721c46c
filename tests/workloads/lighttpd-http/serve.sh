set -eu
run=${SILK_RUN:-0}
port=$((18080 + run % 1000))
mkdir -p /tmp/www /tmp/lighttpd
i=0
while [ $i -lt 5 ]; do
  printf 'page %s of run %s\n' "$i" "$run" > /tmp/www/p$i.html
  i=$((i + 1))
done
cat > /tmp/lighttpd/lighttpd.conf <<CONF
server.document-root = "/tmp/www"
server.port = $port
server.bind = "127.0.0.1"
server.errorlog = "/tmp/lighttpd/error.log"
server.upload-dirs = ( "/tmp" )
index-file.names = ( "index.html" )
mimetype.assign = ( ".html" => "text/html" )
CONF
/usr/sbin/lighttpd -D -f /tmp/lighttpd/lighttpd.conf &
server=$!
trap 'kill -KILL $server 2>/dev/null || true' EXIT
# The harness's own steps take the same path every run, so that what a run does does not
# depend on timing: always sleep before a try; stop the server with SIGKILL (a graceful
# stop races the box's end) and never `wait` for it (dash's wait takes rt_sigsuspend
# only when the child is still alive); the box reaps it.
# A profile that breaks lighttpd must fail the run quickly, not hang it until the box's
# timeout (busybox wget has no timeout and waits forever on a server that accepted
# nothing, so the client is curl). While waiting for lighttpd to listen, the run fails
# at once when lighttpd has exited (kill -0, the same kill(2) the run ends with), when
# a try fails other than "connection refused" (curl exit 7; a server that accepts but
# does not answer a static file on loopback within 1 s is broken), or after 20 tries
# (lighttpd listens within a few ms). Every later request gives up after 2 s.
get() {
  curl -s --max-time 2 "$@"
}
tries=0
while sleep 0.05; do
  rc=0
  curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$port/p0.html" || rc=$?
  [ $rc -ne 0 ] || break
  tries=$((tries + 1))
  if [ $rc -ne 7 ] || ! kill -0 $server || [ $tries -ge 20 ]; then
    echo "lighttpd does not answer (curl exit $rc, try $tries)" >&2
    cat /tmp/lighttpd/error.log >&2
    exit 1
  fi
done
i=0
while [ $i -lt 5 ]; do
  got=$(get -f "http://127.0.0.1:$port/p$i.html")
  [ "$got" = "page $i of run $run" ]
  i=$((i + 1))
done
# A server that lives past one second runs its once-a-second maintenance (lighttpd calls
# sysinfo there); a profile learned from a run that ended sooner would miss it.
sleep 1.2
code=$(get -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/missing.html")
if [ "$code" != 404 ]; then
  echo "expected 404, got $code" >&2
  exit 1
fi
kill -KILL $server
trap - EXIT
echo "lighttpd ok"
