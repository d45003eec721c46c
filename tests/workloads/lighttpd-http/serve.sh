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
tries=0
while sleep 0.05; ! busybox wget -q -O /dev/null "http://127.0.0.1:$port/p0.html" 2>/dev/null; do
  tries=$((tries + 1))
  [ $tries -lt 100 ] || { cat /tmp/lighttpd/error.log >&2; exit 1; }
done
i=0
while [ $i -lt 5 ]; do
  got=$(busybox wget -q -O - "http://127.0.0.1:$port/p$i.html")
  [ "$got" = "page $i of run $run" ]
  i=$((i + 1))
done
# A server that lives past one second runs its once-a-second maintenance (lighttpd calls
# sysinfo there); a profile learned from a run that ended sooner would miss it.
sleep 1.2
if busybox wget -q -O /dev/null "http://127.0.0.1:$port/missing.html" 2>/dev/null; then
  echo "expected 404" >&2
  exit 1
fi
kill -KILL $server
trap - EXIT
echo "lighttpd ok"
