"""Milvus Lite alone: upsert N random 384-d vectors through the product's MilvusStore (HNSW), then
flush and search, printing time and memory as it goes. For the memory question bench_scale.py cannot
answer at 10^6 (its own process also holds the synthetic corpus).

    .venv/bin/python eval/probe_milvus_lite.py 1000000 /tmp/milvus-lean
"""
import re, sys, time
from pathlib import Path
import numpy as np
from rag.settings import Settings, VectorSettings
from rag.search.vectors import MilvusStore
n = int(sys.argv[1]); d = Path(sys.argv[2]); d.mkdir(parents=True, exist_ok=True)
s = Settings(index_dir=d, vectors=VectorSettings(store="milvus", milvus_index_type="hnsw"))
st = MilvusStore(s, 384, "gov_report_chunks_lean", create=True)
rng = np.random.default_rng(0)
t = time.perf_counter()
def rss():
    txt = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", txt).group(1)) // 1024 for k in ("VmRSS", "VmHWM")}
for s0 in range(0, n, 50_000):
    x = rng.standard_normal((50_000, 384), dtype=np.float32); x /= np.linalg.norm(x, axis=1, keepdims=True)
    st.upsert(list(range(s0, s0 + 50_000)), x, [{"doc": f"d{i // 60}", "place": "甲市", "level": "county", "year": 2024} for i in range(s0, s0 + 50_000)])
    print(s0 + 50_000, round(time.perf_counter() - t), rss(), flush=True)
t2 = time.perf_counter(); c = st.count(); st.persist(d)
print("flushed", c, round(time.perf_counter() - t2), rss(), flush=True)
q = rng.standard_normal(384).astype(np.float32)
for i in range(3):
    t3 = time.perf_counter(); st.search(q, 30); print("search s", round(time.perf_counter() - t3, 3), flush=True)
print("done", rss(), flush=True)
