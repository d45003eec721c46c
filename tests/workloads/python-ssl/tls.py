import hashlib, os, socket, ssl, sys, threading

cert, key = sys.argv[1], sys.argv[2]
for name, text in (("/tmp/cert.pem", cert), ("/tmp/key.pem", key)):
    with open(name, "w") as f:
        f.write(text)
seed = int(os.environ.get("SILK_RUN", "0"))
payload = hashlib.sha256(str(seed).encode()).digest() * (64 + seed)

server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
server_ctx.load_cert_chain("/tmp/cert.pem", "/tmp/key.pem")
listener = socket.create_server(("127.0.0.1", 0))
port = listener.getsockname()[1]

def serve():
    conn, _ = listener.accept()
    with server_ctx.wrap_socket(conn, server_side=True) as tls:
        data = b""
        while len(data) < len(payload):
            data += tls.recv(65536)
        tls.sendall(hashlib.sha256(data).digest())

t = threading.Thread(target=serve)
t.start()
client_ctx = ssl.create_default_context(cafile="/tmp/cert.pem")
with socket.create_connection(("127.0.0.1", port)) as raw:
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        assert tls.version() == "TLSv1.3"
        tls.sendall(payload)
        digest = tls.recv(32)
t.join()
assert digest == hashlib.sha256(payload).digest()
print("tls ok", len(payload))
