import os, random, sqlite3, threading

seed = int(os.environ.get("SILK_RUN", "0"))
rng = random.Random(seed)
path = "/tmp/learn.db"
if os.path.exists(path):
    os.remove(path)
con = sqlite3.connect(path)
con.execute("PRAGMA journal_mode=WAL")
con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v REAL)")
with con:
    con.executemany("INSERT INTO t (k, v) VALUES (?, ?)",
                    [("k%d" % rng.randrange(100), rng.random()) for _ in range(2000 + seed)])
con.execute("CREATE INDEX tk ON t(k)")
con.commit()
total = con.execute("SELECT COUNT(*) FROM t").fetchone()[0]
assert total == 2000 + seed

results = []
def reader():
    c = sqlite3.connect(path)
    results.append(c.execute("SELECT k, COUNT(*), AVG(v) FROM t GROUP BY k").fetchall())
    c.close()
threads = [threading.Thread(target=reader) for _ in range(2)]
for t in threads: t.start()
for t in threads: t.join()
assert results[0] == results[1] and sum(r[1] for r in results[0]) == total

# Lock contention on purpose, in every run: a writer meets a held write lock, waits in
# sqlite's busy handler (which sleeps and re-checks the lock) and gives up. The two
# readers above meet that path only by chance; a profile learned without it fails
# about one run in twenty.
holder = sqlite3.connect(path, isolation_level=None)
holder.execute("BEGIN EXCLUSIVE")
waiter = sqlite3.connect(path, timeout=0.05)
try:
    waiter.execute("INSERT INTO t (k, v) VALUES ('x', 0)")
    raise SystemExit("expected 'database is locked'")
except sqlite3.OperationalError as e:
    assert "locked" in str(e), e
holder.execute("ROLLBACK")
waiter.close()
holder.close()
con.close()
print("sqlite3 ok", total)
