import json, os, random
from concurrent.futures import ThreadPoolExecutor

seed = int(os.environ.get("SILK_RUN", "0"))

def work(i):
    rng = random.Random(seed * 1000 + i)
    doc = {"id": i, "values": [rng.random() for _ in range(200)],
           "tags": {str(k): rng.choice(["a", "b", "ü", "\u2603"]) for k in range(50)}}
    text = json.dumps(doc, ensure_ascii=(i % 2 == 0), sort_keys=True)
    back = json.loads(text)
    assert back == doc
    return len(text)

with ThreadPoolExecutor(max_workers=4) as pool:
    sizes = list(pool.map(work, range(32)))
with open("/tmp/sizes.json", "w") as f:
    json.dump(sizes, f)
with open("/tmp/sizes.json") as f:
    assert json.load(f) == sizes
print("json ok", sum(sizes))
