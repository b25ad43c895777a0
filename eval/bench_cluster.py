"""Two service replicas sharing one library on real servers, all on loopback: a Milvus server, a
PostgreSQL cluster, llama-cpp-python's OpenAI-compatible server with the small model, and two
`rag serve` processes (A and B) with index folders of their own.

    .venv/bin/python eval/bench_cluster.py [--quick] [--work /tmp/cluster] [--questions N] [--keep]

The scenario, timed:
  1. start everything; A indexes the seed reports into the shared library, B starts on it;
  2. questions through B (answered, cited) and the same through A;
  3. upload a report through A; how long until B answers a question about it, citing it;
  4. delete it through B; how long until A no longer lists or cites it;
  5. kill -9 A in the middle of uploading a large report; B keeps answering meanwhile; the library
     is checked (the store's own checksums, one generation, the manifest, no half document); A
     restarts on it and answers as B does.
The last line on stdout is one JSON object: {"ok": true|false, ...figures}. `--quick` asks fewer
questions (the whole run takes a few minutes; most of it is starting the servers and the model).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.deploy.milvus_server import MilvusLocal  # noqa: E402
from rag.deploy.postgres_server import PostgresLocal  # noqa: E402
from rag.deploy.replicas import shared_env, start_llm_server, start_replica  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.settings import Settings  # noqa: E402

# An invented report (places and figures no seed has), small enough to index in a few seconds.
UPLOAD = """甲市2026年政府工作报告

——2026年1月20日在甲市第九届人民代表大会第五次会议上

各位代表：

现在，我代表市人民政府，向大会报告工作，请予审议。

一、2025年工作回顾

过去一年，全市地区生产总值增长5.3%。

二、2026年工作安排

（一）加快发展智慧农业

今年全市新建智慧农业示范园区43个，培育农业科技小巨人企业17家。

（二）推进城市更新

改造城镇老旧小区212个，新增城市绿地面积58公顷。
"""
UPLOAD_Q = "甲市今年要新建多少个智慧农业示范园区？"
UPLOAD_FIGURE = "43"
LARGE = ROOT / "eval" / "corpus" / "reports" / "01_national_2015.txt"  # several hundred chunks to embed


def log(*a: object) -> None:
    print(*a, file=sys.stderr, flush=True)


def ask(url: str, question: str, timeout: float = 300) -> dict:
    r = httpx.post(f"{url}/v1/ask", json={"question": question}, timeout=timeout)
    r.raise_for_status()
    return r.json()


def docs(url: str) -> set[str]:
    r = httpx.get(f"{url}/v1/documents", timeout=30)
    r.raise_for_status()
    return {d["id"] for d in r.json()}


def cites(body: dict, doc: str) -> bool:
    return any(c["doc"] == doc for c in body.get("citations") or [])


def wait_for(check, timeout: float, step: float = 0.2) -> float | None:
    """Seconds until `check()` holds (None when it did not within `timeout`)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if check():
                return round(time.monotonic() - t0, 2)
        except httpx.HTTPError:
            pass
        time.sleep(step)
    return None


def memory_mib(pid: int | None) -> float | None:
    """Proportional set size of a process and its children (shared pages counted once overall)."""
    if not pid:
        return None
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                children = (task / "children").read_text().split()
                todo += [int(c) for c in children]
        except (OSError, ValueError):
            continue
    return round(total / 1024, 1)


def postmaster_pid(pg) -> int | None:
    try:
        return int((pg.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def seed_questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if line.strip()]
    picked = [r for r in rows if r.get("answerable", True) and r.get("type") in (None, "number", "fact")]
    return [r["question"] for r in (picked or rows)[:n]]


def check_library(store_url: str) -> dict:
    """The shared store's own checks: every document against its checksum, one published
    manifest at the store's generation, no document without chunks."""
    from rag.search import shared_index
    from rag.search.store_pg import PgChunkStore

    store = PgChunkStore(store_url)
    try:
        n = store.verify()
        manifest = shared_index.read_shared_manifest(store) or {}
        ids = {d["id"] for d in store.documents()}
        empty = [d for d in ids if not store.ids_where(docs=[d], searchable_only=False)]
        return {
            "documents": n,
            "chunks": store.count(searchable_only=True),
            "manifest_chunks": manifest.get("chunk_count"),
            "generation_matches": manifest.get("store_generation") == store.generation,
            "empty_documents": empty,
            "uploads_without_document": sorted(set(store.uploads()) - ids),
            "ids": sorted(ids),
        }
    finally:
        store.close()


def run(args) -> dict:
    fig: dict = {"ok": False}
    work = Path(args.work or tempfile.mkdtemp(prefix="rag-cluster-"))
    if work.exists() and not args.keep:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    from rag.models import require_llm

    model = require_llm(settings, "small")
    t0 = time.monotonic()
    with MilvusLocal(work / "milvus") as milvus, PostgresLocal(work / "postgres") as pg:
        fig["milvus_start_s"] = round(milvus.start_s or 0, 1)
        llm = start_llm_server(model, work / "logs")
        procs = [llm]
        try:
            fig["llm_start_s"] = round(llm.wait("/v1/models", 300), 1)
            llm_url = f"{llm.url}/v1"

            for name in ("A", "B"):  # the embeddings of the seeds, as `make setup` left them: not computed again
                if (ROOT / "index" / "cache").is_dir() and not (work / name / "index" / "cache").exists():
                    shutil.copytree(ROOT / "index" / "cache", work / name / "index" / "cache")

            def env(name: str) -> dict:
                return shared_env(
                    store_url=pg.url, milvus_uri=milvus.uri, index_dir=work / name / "index", llm_url=llm_url
                )

            a = start_replica("A", env("A"), work / "logs")
            procs.append(a)
            fig["a_start_s"] = round(a.wait("/readyz", 900), 1)  # indexes the seeds into the empty library
            b = start_replica("B", env("B"), work / "logs")
            procs.append(b)
            fig["b_start_s"] = round(b.wait("/readyz", 900), 1)  # builds only its keyword index
            log(f"servers up: milvus {fig['milvus_start_s']} s, A {fig['a_start_s']} s, B {fig['b_start_s']} s")

            # 2. the same questions through both replicas
            same, times = 0, []
            questions = seed_questions(args.questions)
            for q in questions:
                t = time.monotonic()
                through_b = ask(b.url, q)
                times.append(time.monotonic() - t)
                through_a = ask(a.url, q)
                same += through_b["answer"] == through_a["answer"] and [c["quote"] for c in through_b["citations"]] == [
                    c["quote"] for c in through_a["citations"]
                ]
            fig["questions"] = len(questions)
            fig["same_answer_both_replicas"] = same
            fig["ask_b_p50_s"] = round(statistics.median(times), 2)

            fig["memory_mib"] = {
                "milvus_server": memory_mib(milvus.pid),
                "postgresql": memory_mib(postmaster_pid(pg)),
                "llm_server_small": memory_mib(llm.proc.pid),
                "replica_a": memory_mib(a.proc.pid),
                "replica_b": memory_mib(b.proc.pid),
            }

            # 3. upload through A, answerable through B
            up = httpx.post(f"{a.url}/v1/documents", files={"file": ("甲市.txt", UPLOAD.encode())}, timeout=600)
            up.raise_for_status()
            doc = up.json()["document"]["id"]
            fig["upload_s"] = round(up.elapsed.total_seconds(), 2)
            fig["upload_listed_on_b_s"] = wait_for(lambda: doc in docs(b.url), 60)
            fig["upload_searchable_on_b_s"] = wait_for(
                lambda: any(
                    h["doc"] == doc
                    for h in httpx.post(f"{b.url}/v1/search", json={"question": UPLOAD_Q, "k": 3}, timeout=30).json()
                ),
                60,
            )
            body = ask(b.url, UPLOAD_Q)
            fig["upload_answered_on_b"] = UPLOAD_FIGURE in body["answer"] and cites(body, doc)
            log(f"upload through A listed on B after {fig['upload_listed_on_b_s']} s: {body['answer'][:60]}")

            # 4. delete through B, gone from A
            r = httpx.delete(f"{b.url}/v1/documents/{doc}", timeout=600)
            r.raise_for_status()
            fig["delete_gone_on_a_s"] = wait_for(lambda: doc not in docs(a.url), 60)
            body = ask(a.url, UPLOAD_Q)
            fig["deleted_not_cited_on_a"] = not cites(body, doc)

            # 5. kill -9 A during a large upload; B answers meanwhile; the library stays whole
            before = check_library(pg.url)
            result: dict = {}

            def upload_large() -> None:
                try:
                    result["r"] = httpx.post(
                        f"{a.url}/v1/documents", files={"file": (LARGE.name, LARGE.read_bytes())}, timeout=600
                    )
                except httpx.HTTPError as exc:
                    result["error"] = type(exc).__name__

            thread = threading.Thread(target=upload_large)
            thread.start()
            time.sleep(args.kill_after)
            a.kill()
            thread.join(60)
            fig["killed_during_upload"] = "r" not in result
            answered = 0
            for q in questions[:3]:
                body = ask(b.url, q)
                answered += bool(body["citations"]) and not body["refused"]
            fig["b_answers_after_kill"] = f"{answered}/{min(3, len(questions))}"
            after = check_library(pg.url)
            fig["library_after_kill"] = {k: v for k, v in after.items() if k != "ids"}
            fig["library_unchanged_after_kill"] = after["ids"] == before["ids"]
            consistent = (
                after["generation_matches"]
                and after["manifest_chunks"] == after["chunks"]
                and not after["empty_documents"]
                and not after["uploads_without_document"]
            )
            fig["library_consistent_after_kill"] = consistent
            a2 = start_replica("A2", env("A"), work / "logs")
            procs.append(a2)
            fig["a_restart_s"] = round(a2.wait("/readyz", 900), 1)
            q = questions[0]
            fig["a_restarted_answers_as_b"] = ask(a2.url, q)["answer"] == ask(b.url, q)["answer"]
            fig["total_s"] = round(time.monotonic() - t0, 1)
            fig["ok"] = bool(
                fig["same_answer_both_replicas"] == len(questions)
                and fig["upload_listed_on_b_s"] is not None
                and fig["upload_listed_on_b_s"] <= 5
                and fig["upload_answered_on_b"]
                and fig["delete_gone_on_a_s"] is not None
                and fig["delete_gone_on_a_s"] <= 5
                and fig["deleted_not_cited_on_a"]
                and answered == min(3, len(questions))
                and consistent
                and fig["a_restarted_answers_as_b"]
            )
        finally:
            for p in reversed(procs):
                p.stop()
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="Fewer questions: a few minutes in all.")
    ap.add_argument("--questions", type=int, default=0, help="Seed questions asked through both replicas.")
    ap.add_argument("--kill-after", type=float, default=4.0, help="Seconds into the large upload to kill A.")
    ap.add_argument("--work", type=Path, help="Folder for the servers' data (default: a new temporary one).")
    ap.add_argument("--keep", action="store_true", help="Keep the work folder (and reuse it).")
    args = ap.parse_args()
    args.questions = args.questions or (3 if args.quick else 12)
    try:
        fig = run(args)
    except (RagError, httpx.HTTPError) as exc:
        fig = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
    for k, v in fig.items():
        log(f"{k:32s} {v}")
    print(json.dumps(fig, ensure_ascii=False))
    sys.exit(0 if fig.get("ok") else 1)


if __name__ == "__main__":
    main()
