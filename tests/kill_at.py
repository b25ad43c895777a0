"""Run the real `rag` command line (or the API server) in this process and SIGKILL it at a named
point of a write, for the crash tests (tests/test_index.py, tests/test_api_faults.py). Nothing in the
product has a fault hook: a function on the write path is wrapped here before the command starts.

    python tests/kill_at.py POINT [N] -- index --quiet …     # `rag index --quiet …`, killed at POINT
    python tests/kill_at.py POINT [N] -- serve …             # the server, killed at POINT

Points (N: how many times the point is passed before the kill, default 1):
  embed       after N batches of passages were embedded (the embedder's progress)
  store-write the chunk store's rows written, not committed
  vectors     the vector file written into the new build folder
  bm25        the BM25 files written
  cache       half of the embedding cache's new file written
  commit      the chunk store committed, the manifest not yet renamed into place
  publish     the manifest renamed into place, the old build folder not yet removed
  upload      an uploaded report saved, before the chunk store and index are rebuilt
  token       the server streaming an answer: after N tokens
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str, n: int) -> None:
    """Wrap the function on the write path that `point` names so that its n-th pass kills."""
    passes = {"left": n}

    def countdown() -> None:
        passes["left"] -= 1
        if passes["left"] <= 0:
            die()

    if point == "embed":
        import rag.search.embed

        real_embed = rag.search.embed.EmbeddingCache.embed

        def embed(self, embedder, texts, batch=16, on_progress=None):
            def progress(k: int) -> None:
                if on_progress:
                    on_progress(k)
                countdown()

            return real_embed(self, embedder, texts, batch=batch, on_progress=progress)

        rag.search.embed.EmbeddingCache.embed = embed
    elif point == "store-write":
        import rag.search.store

        real_write = rag.search.store.ChunkStore._write

        def write(self, rows, wanted, commit):
            changed = real_write(self, rows, wanted, commit)
            if changed:
                countdown()
            return changed

        rag.search.store.ChunkStore._write = write
    elif point == "vectors":
        import rag.search.vectors

        real_persist = rag.search.vectors.FaissStore.persist

        def persist(self, build_dir):
            out = real_persist(self, build_dir)
            countdown()
            return out

        rag.search.vectors.FaissStore.persist = persist
    elif point == "bm25":
        import rag.search.bm25

        real_bm25 = rag.search.bm25.BM25Index.persist

        def persist_bm25(self, path):
            real_bm25(self, path)
            countdown()

        rag.search.bm25.BM25Index.persist = persist_bm25
    elif point == "cache":
        import numpy as np

        import rag.search.embed

        real_savez = np.savez

        def savez(file, *args, **kwargs):
            if hasattr(file, "write") and "embeddings-" in str(getattr(file, "name", "")):
                import io

                buf = io.BytesIO()
                real_savez(buf, *args, **kwargs)
                data = buf.getvalue()
                file.write(data[: len(data) // 2])
                file.flush()
                countdown()
            return real_savez(file, *args, **kwargs)

        rag.search.embed.np.savez = savez
    elif point == "commit":
        import rag.search.store

        real_commit = rag.search.store.ChunkStore.commit

        def commit(self):
            pending = self.pending
            real_commit(self)
            if pending:
                countdown()

        rag.search.store.ChunkStore.commit = commit
    elif point == "publish":
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            real_replace(src, dst, *args, **kwargs)
            if Path(dst).name == "manifest.json":
                countdown()

        os.replace = replace
    elif point == "upload":
        import rag.library

        real_rebuild = rag.library.Library._rebuild

        def rebuild(self, embedder, *, must_index=None, **kwargs):
            if must_index:
                countdown()
            return real_rebuild(self, embedder, must_index=must_index, **kwargs)

        rag.library.Library._rebuild = rebuild
    elif point == "token":
        import rag.answer.assistant

        real_ask = rag.answer.assistant.Assistant.ask

        def ask(self, *args, on_event=None, **kwargs):
            def event(kind, data):
                if on_event:
                    on_event(kind, data)
                if kind == "token":
                    countdown()

            return real_ask(self, *args, on_event=event, **kwargs)

        rag.answer.assistant.Assistant.ask = ask
    else:
        raise SystemExit(f"unknown point {point!r}")


def main(argv: list[str]) -> None:
    split = argv.index("--")
    head, command = argv[:split], argv[split + 1 :]
    arm(head[0], int(head[1]) if len(head) > 1 else 1)
    from api.cli import app

    app(command, prog_name="rag")


if __name__ == "__main__":
    main(sys.argv[1:])
