"""The library of a service replica when several replicas share one (``RAG_STORE__URL``).

What the replicas share lives in the store: the uploaded originals, the list of excluded seed
reports, the chunks and the published index's manifest; the vectors live in a Milvus server. Each
replica reads its seed reports from its own seeds folder (the replicas of one library run the same
release with the same seeds) and keeps copies of the uploaded originals under
``<index_dir>/uploads/`` to cut and serve them.

A change (upload, removal, rebuild) is made under the store's writer lock, which serialises the
replicas, in one pending transaction of its own connection: the upload's row, the chunks and the
manifest commit together (`rag.search.shared_index.publish`). A replica killed in the middle leaves
the library as it was; no journal is needed. Other replicas notice the new generation and load it
(`api.services.Services` follows the store).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag.chunk.document import doc_summary
from rag.errors import DocumentNotFound, DuplicateReport, LastDocument
from rag.files import atomic_write_bytes
from rag.ingest import read_report
from rag.library import Change, Library, indexed_upload
from rag.read.formats import FORMAT_SUFFIX
from rag.search import shared_index
from rag.settings import Settings
from rag.uploads import display_name, validate_upload

if TYPE_CHECKING:
    from rag.search.store_pg import PgChunkStore

EXCLUDED_KEY = "excluded"


def make_library(settings: Settings) -> Library:
    """The library the settings describe: files in the index folder, or shared through a store."""
    return SharedLibrary(settings) if settings.store.url else Library(settings)


class SharedLibrary(Library):
    """A library whose uploads, exclusions, chunks and index are shared with other replicas."""

    def __init__(self, settings: Settings):
        super().__init__(settings)
        shared_index.check_shared(settings)
        self._reader: PgChunkStore | None = None
        self._reader_lock = threading.Lock()

    # --- connections ------------------------------------------------------------------------------
    def _db(self) -> PgChunkStore:
        """This replica's reading connection (committed state), opened on first use."""
        with self._reader_lock:
            if self._reader is None:
                self._reader = self._connect()
            return self._reader

    def _connect(self) -> PgChunkStore:
        from rag.search.store_pg import PgChunkStore

        return PgChunkStore(self.settings.store.url, create=True)

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    # --- what the corpus is -------------------------------------------------------------------------
    def excluded(self, db=None) -> set[str]:
        return set(json.loads((db or self._db()).meta_get(EXCLUDED_KEY) or "[]"))

    def uploads(self, db=None) -> dict[str, dict]:
        return {k: {n: v for n, v in info.items() if n != "suffix"} for k, info in (db or self._db()).uploads().items()}

    def files(self, db=None) -> list[Path]:
        """Seed files not excluded, then the uploads, each copied from the store the first time
        this replica needs it (an upload's content never changes under its id)."""
        db = db or self._db()
        excluded = self.excluded(db)
        seeds = [p for p in self.seed_files() if p.stem not in excluded]
        uploads = []
        for doc_id, info in sorted(db.uploads().items()):
            path = self.uploads_dir / f"{doc_id}{info.get('suffix') or '.txt'}"
            if not path.exists():
                atomic_write_bytes(path, db.upload_data(doc_id))
            uploads.append(path)
        return seeds + uploads

    def in_sync(self, db=None) -> bool:
        """Whether the store holds exactly this replica's corpus files, unchanged, and an index of it."""
        db = db or self._db()
        manifest = shared_index.read_shared_manifest(db)
        if manifest is None or manifest.get("store_generation") != db.generation:
            return False
        stored = {d["id"]: d.get("sha256") for d in db.documents()}
        wanted: dict[str, str] = {}
        for f in self.files(db):
            text = read_report(f)
            if text is not None:
                wanted[f.stem] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return stored == wanted

    # --- changes ------------------------------------------------------------------------------------
    def add(
        self, data: bytes, name: str | None, *, max_bytes: int, embedder=None, publish: Callable[[], None] | None = None
    ) -> Change:
        fmt, text = validate_upload(data, max_bytes, name or "")
        digest = hashlib.sha256(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")).hexdigest()
        doc_id = f"upload-{uuid.uuid4().hex[:12]}"
        suffix = FORMAT_SUFFIX.get(fmt, ".txt")
        info = {"name": display_name(name), "bytes": len(data), "uploaded": time.strftime("%Y-%m-%dT%H:%M:%S")}

        def change(db) -> str:
            if digest in self._hashes(db):
                raise DuplicateReport("this report is already in the library")
            atomic_write_bytes(self.uploads_dir / f"{doc_id}{suffix}", data)  # this replica's copy
            db.put_upload(doc_id, suffix, data, {**info, "suffix": suffix})
            return doc_id

        try:
            return self._change(change, embedder, publish)
        except BaseException:
            (self.uploads_dir / f"{doc_id}{suffix}").unlink(missing_ok=True)
            raise

    def remove(self, doc_id: str, *, embedder=None, publish: Callable[[], None] | None = None) -> Change:
        def change(db) -> None:
            present = {p.stem for p in self.files(db)}
            if doc_id not in present:
                raise DocumentNotFound(f"no document '{doc_id}'")
            if len(present) == 1:
                raise LastDocument("this is the last document; upload another one before removing it")
            if self.source(doc_id) == "upload":
                db.drop_upload(doc_id)
            else:
                db.meta_set(EXCLUDED_KEY, json.dumps(sorted(self.excluded(db) | {doc_id})))

        return self._change(change, embedder, publish)

    def sync(self, embedder=None) -> Change | None:
        with self._write_lock:
            if self.in_sync():
                return None
        return self._change(lambda db: None, embedder, None)

    def rebuild(self, embedder=None, publish: Callable[[], None] | None = None) -> Change:
        return self._change(lambda db: None, embedder, publish, rebuild=True)

    def recover(self) -> str | None:
        """Nothing to finish: a change is one transaction (vectors are put right by the next change)."""
        return None

    def _hashes(self, db) -> set[str]:
        out = set()
        for f in self.files(db):
            text = read_report(f)
            if text is not None:
                out.add(hashlib.sha256(text.encode("utf-8")).hexdigest())
        return out

    def _change(
        self,
        change: Callable[[object], str | None],
        embedder,
        publish: Callable[[], None] | None,
        *,
        rebuild: bool = False,
    ) -> Change:
        """Make `change` on a writer connection, re-cut and re-index the corpus as it then is,
        and publish it all in one commit; undone entirely on failure."""
        from rag.search.embed import get_embedder

        t0 = time.perf_counter()
        embedder = embedder or get_embedder(self.settings)
        with self._write_lock:
            db = self._connect()
            try:
                with db.writer_lock():
                    db.begin()
                    must_index = change(db)
                    docs = self.ingest(self.files(db))
                    doc = indexed_upload(docs, must_index)
                    db.write(docs, [doc_summary(d) for d in docs], commit=False)
                    stats = shared_index.publish(self.settings, db, embedder=embedder, rebuild=rebuild)
                if publish is not None:
                    publish()
            except BaseException:
                db.rollback()
                raise
            finally:
                db.close()
        return Change.of(doc, docs, stats, t0)
