import functools, http.server, os, sys, threading, urllib.error, urllib.request

seed = int(os.environ.get("SILK_RUN", "0"))
root = "/tmp/www"
os.makedirs(root, exist_ok=True)
bodies = {}
for i in range(5):
    body = ("page %d of run %d\n" % (i, seed)).encode() * (10 + i * seed)
    bodies["/p%d.txt" % i] = body
    with open(root + "/p%d.txt" % i, "wb") as f:
        f.write(body)

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    # socketserver ignores a failing accept and polls again, so a profile that denies
    # accept4 would leave the client waiting; such a server is broken: fail at once.
    def get_request(self):
        try:
            return super().get_request()
        except OSError as e:
            print("http failed: accept: %r" % e, file=sys.stderr)
            os._exit(1)

handler = functools.partial(Quiet, directory=root)
server = Server(("127.0.0.1", 0), handler)
port = server.server_address[1]
# shutdown() waits for the serving loop to notice, which polls every poll_interval
# (default 0.5 s: most of a run's wall time).
t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
t.start()
# A profile that breaks the server must fail the run quickly, not hang it until the
# box's timeout: the client checks that the server thread is alive before each request,
# waits at most 2 s for an answer, and on any failure exits at once (os._exit) instead
# of waiting for a server that may never shut down. A passing run takes the same path.
try:
    for path, body in bodies.items():
        if not t.is_alive():
            raise RuntimeError("the server thread died")
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
            assert r.status == 200 and r.read() == body
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/missing" % port, timeout=2)
        raise RuntimeError("expected 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
except BaseException as e:
    print("http failed: %r" % e, file=sys.stderr)
    os._exit(1)
server.shutdown()
t.join()
print("http ok")
