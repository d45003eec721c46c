import functools, http.server, os, threading, urllib.request

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

handler = functools.partial(Quiet, directory=root)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
port = server.server_address[1]
t = threading.Thread(target=server.serve_forever)
t.start()
try:
    for path, body in bodies.items():
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            assert r.status == 200 and r.read() == body
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/missing" % port, timeout=10)
        raise SystemExit("expected 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
finally:
    server.shutdown()
    t.join()
print("http ok")
