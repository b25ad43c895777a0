"""Document management for a running service: the seed reports plus uploaded ones.

The corpus is the seeds folder plus ``<index_dir>/uploads/``. Uploaded files are named by an id the
server generates (never by a client path) and their display names are kept in
``uploads/uploads.json``. Removing a seed report does not touch the seeds folder: its id is
recorded in ``<index_dir>/excluded.json``.

Every change re-ingests incrementally (a report whose file has not changed is not cut again; twin
linking runs over the whole corpus, as in `ingest_paths`), rewrites the chunk store, and rebuilds the
indexes, where cached vectors mean only new chunks are embedded. The caller gets a new `Retriever`
to swap in: what is being served is never touched while the new index is built.

A change is recorded in ``<index_dir>/.change.json`` before any file is touched. The chunk store and
the index are published together (`rag.search.index.build`), so after a crash the store says whether the
change took effect: the next change, or the service's start (`sync`), finishes it (a committed
removal deletes the hidden file) or undoes it (an upload that was not published is deleted and the
upload list restored), and the index last published is served as it was.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.chunk.document import Document
from rag.chunk.twins import link_twins
from rag.errors import DocumentNotFound, DuplicateReport, InvalidReport, LastDocument, RagError
from rag.files import atomic_write_bytes, atomic_write_text, pid_alive
from rag.ingest import find_reports, load_file, read_report
from rag.read.formats import FORMAT_SUFFIX, SUFFIXES
from rag.search.store import ChunkStore
from rag.settings import Settings
from rag.uploads import display_name, validate_upload

log = logging.getLogger(__name__)

UPLOADS = "uploads"
UPLOADS_META = "uploads.json"
EXCLUDED = "excluded.json"
JOURNAL = ".change.json"  # the change in progress, to finish or undo it after a crash
_UPLOAD_ID = re.compile(r"^upload-[0-9a-f]{12}$")


@dataclass
class Change:
    """What a change did, for the response and the logs."""

    document: dict | None
    documents: int
    chunks: int
    embedded: int
    reused: int
    seconds: float

    @classmethod
    def of(cls, doc: Document | None, docs: list[Document], stats, t0: float) -> Change:
        """The change that indexed `docs` (`stats`: its `BuildStats`), naming the uploaded `doc`."""
        summary = None
        if doc is not None:
            summary = {
                "id": doc.id,
                "title": doc.title,
                "place": doc.meta.place,
                "year": doc.meta.year,
                "chunks": len(doc.chunks),
                "chars": doc.chars,
                "format": doc.fmt,
            }
        return cls(summary, len(docs), stats.chunks, stats.embedded, stats.reused, round(time.perf_counter() - t0, 3))


def indexed_upload(docs: list[Document], must_index: str | None) -> Document | None:
    """The document of the upload `must_index` among the cut `docs`; InvalidReport when it gave no
    paragraph to index."""
    if not must_index:
        return None
    doc = next((d for d in docs if d.id == must_index), None)
    if doc is None or not any(c.searchable for c in doc.chunks):
        raise InvalidReport("the report has no paragraphs to index")
    return doc


class Library:
    """The corpus of a service and the one writer that changes it (writers are serialised)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.uploads_dir = settings.index_dir / UPLOADS
        self._write_lock = threading.Lock()
        # cut documents by (path, size, mtime) of the file and its metadata sidecar: an unchanged
        # report is not cut again (twin links are recomputed on a copy every time)
        self._cut: dict[tuple, list[Document]] = {}

    def writer(self) -> threading.Lock:
        """The lock this process's changes hold while they build and publish."""
        return self._write_lock

    # --- what the corpus is -------------------------------------------------------------------
    def excluded(self) -> set[str]:
        path = self.settings.index_dir / EXCLUDED
        if not path.exists():
            return set()
        return set(json.loads(path.read_text(encoding="utf-8")))

    def uploads(self) -> dict[str, dict]:
        """Uploaded documents by id: display name, size, time of upload."""
        path = self.uploads_dir / UPLOADS_META
        if not path.exists():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))

    def seed_files(self) -> list[Path]:
        if not self.settings.seeds_dir.exists():
            return []
        return find_reports([self.settings.seeds_dir])

    def files(self) -> list[Path]:
        """The report files that make up the corpus, in ingestion order."""
        excluded = self.excluded()
        seeds = [p for p in self.seed_files() if p.stem not in excluded]
        uploads = sorted(self.uploads_dir.glob("upload-*.*")) if self.uploads_dir.exists() else []
        return seeds + [p for p in uploads if _UPLOAD_ID.match(p.stem) and p.suffix in SUFFIXES]

    def file_of(self, doc_id: str) -> Path:
        """The original file a document was read from (for a record of a dataset: the dataset)."""
        for f in self.files():
            if f.stem == doc_id or doc_id.startswith(f.stem + "-r"):
                return f
        raise DocumentNotFound(f"no document '{doc_id}'")

    def source(self, doc_id: str) -> str:
        return "upload" if _UPLOAD_ID.match(doc_id) else "seed"

    def in_sync(self) -> bool:
        """Whether the chunk store on disk holds exactly the corpus files, unchanged."""
        try:
            store = ChunkStore(self.settings.index_dir)
        except RagError:
            return False
        try:
            stored = {d["id"]: d.get("sha256") for d in store.documents()}
        finally:
            store.close()
        wanted: dict[str, str] = {}
        for f in self.files():
            text = read_report(f)
            if text is not None:
                wanted[f.stem] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return stored == wanted

    # --- changes --------------------------------------------------------------------------------
    def add(
        self, data: bytes, name: str | None, *, max_bytes: int, embedder=None, publish: Callable[[], None] | None = None
    ) -> Change:
        """Validate, save atomically under a generated id, rebuild, publish; undone on failure.

        `publish` is called with the writer lock held once the new index is complete: the caller
        loads it and swaps it in, so that changes are published in the order they were made."""
        fmt, text = validate_upload(data, max_bytes, name or "")
        digest = hashlib.sha256(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")).hexdigest()
        with self._write_lock:
            self.recover()
            if digest in self._corpus_hashes():
                raise DuplicateReport("this report is already in the library")
            doc_id = f"upload-{uuid.uuid4().hex[:12]}"
            target = self.uploads_dir / f"{doc_id}{FORMAT_SUFFIX.get(fmt, '.txt')}"
            before = self.uploads()
            meta = dict(before)
            meta[doc_id] = {
                "name": display_name(name),
                "bytes": len(data),
                "uploaded": time.strftime("%Y-%m-%dT%H:%M:%S"),
            }
            self._begin({"op": "add", "id": doc_id, "file": target.name, "uploads": before})
            try:
                atomic_write_bytes(target, data)
                change = self._rebuild(embedder, must_index=doc_id, publish=publish, write_meta=meta)
            except InvalidReport:  # found before anything was written
                target.unlink(missing_ok=True)
                self._end()
                raise
            except BaseException:
                target.unlink(missing_ok=True)
                self._write_json(self.uploads_dir / UPLOADS_META, before)
                self._restore(embedder)
                self._end()
                raise
            self._end()
            return change

    def remove(self, doc_id: str, *, embedder=None, publish: Callable[[], None] | None = None) -> Change:
        """Remove an upload, or exclude a seed report (its file stays), then rebuild."""
        with self._write_lock:
            self.recover()
            present = {p.stem for p in self.files()}
            if doc_id not in present:
                raise DocumentNotFound(f"no document '{doc_id}'")
            if len(present) == 1:
                raise LastDocument("this is the last document; upload another one before removing it")
            if self.source(doc_id) == "upload":
                before = self.uploads()
                meta = {k: v for k, v in before.items() if k != doc_id}
                path = self.file_of(doc_id)
                hidden = path.with_name(f".{doc_id}.removed")
                self._begin({"op": "remove", "id": doc_id, "file": path.name, "hidden": hidden.name, "uploads": before})
                os.replace(path, hidden)  # kept until the rebuild succeeds
                try:
                    change = self._rebuild(embedder, publish=publish, write_meta=meta)
                except BaseException:
                    os.replace(hidden, path)
                    self._write_json(self.uploads_dir / UPLOADS_META, before)
                    self._restore(embedder)
                    self._end()
                    raise
                hidden.unlink(missing_ok=True)
                self._end()
                return change
            excluded = self.excluded()
            self._begin({"op": "exclude", "id": doc_id, "excluded": sorted(excluded)})
            self._write_json(self.settings.index_dir / EXCLUDED, sorted(excluded | {doc_id}))
            try:
                change = self._rebuild(embedder, publish=publish)
            except BaseException:
                self._write_json(self.settings.index_dir / EXCLUDED, sorted(excluded))
                self._restore(embedder)
                self._end()
                raise
            self._end()
            return change

    def sync(self, embedder=None) -> Change | None:
        """Rebuild when the stored corpus differs from the files (e.g. after `rag index` on seeds only)."""
        with self._write_lock:
            self.recover()
            if self.in_sync() and (self.settings.index_dir / "manifest.json").exists():
                return None
            return self._rebuild(embedder)

    def rebuild(self, embedder=None, publish: Callable[[], None] | None = None) -> Change:
        """Ingest and index the corpus as it is (e.g. when the store and the index disagree)."""
        with self._write_lock:
            self.recover()
            return self._rebuild(embedder, publish=publish)

    # --- crash recovery -----------------------------------------------------------------------------
    def _begin(self, record: dict) -> None:
        """Record the change about to be made (see the module's docstring)."""
        self._write_json(self.settings.index_dir / JOURNAL, {"pid": os.getpid(), **record})

    def _end(self) -> None:
        (self.settings.index_dir / JOURNAL).unlink(missing_ok=True)

    def recover(self) -> str | None:
        """Finish or undo a change that a killed process left (its record names a process that no
        longer runs). Returns "finished" or "undone", or None when there was nothing to do."""
        from rag.search.index import build_lock
        from rag.search.index import recover as recover_index

        path = self.settings.index_dir / JOURNAL
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            pid = int(record.get("pid", 0))
        except (OSError, ValueError, AttributeError):  # a record cut short: written before any change
            path.unlink(missing_ok=True)
            return None
        if pid != os.getpid() and pid_alive(pid):
            return None  # a change in progress in another process
        with build_lock(self.settings):
            recover_index(self.settings)  # a publish cut between the store's commit and the manifest
        try:
            store = ChunkStore(self.settings.index_dir)
            try:
                stored = {r[0] for r in store.reports()}
            finally:
                store.close()
        except RagError:
            stored = set()
        op, doc_id = record.get("op"), record.get("id")
        done = (doc_id in stored) if op == "add" else (doc_id not in stored)
        if op == "add" and not done:
            (self.uploads_dir / record["file"]).unlink(missing_ok=True)
            self._write_json(self.uploads_dir / UPLOADS_META, record.get("uploads") or {})
        elif op == "remove":
            hidden = self.uploads_dir / record["hidden"]
            if done:
                hidden.unlink(missing_ok=True)
            else:
                if hidden.exists():
                    os.replace(hidden, self.uploads_dir / record["file"])
                self._write_json(self.uploads_dir / UPLOADS_META, record.get("uploads") or {})
        elif op == "exclude" and not done:
            self._write_json(self.settings.index_dir / EXCLUDED, record.get("excluded") or [])
        path.unlink(missing_ok=True)
        self._cut.clear()
        outcome = "finished" if done else "undone"
        log.warning("a %s of %s interrupted by a crash was %s", op, doc_id, outcome)
        return outcome

    # --- internals ----------------------------------------------------------------------------------
    def _corpus_hashes(self) -> set[str]:
        out = set()
        for f in self.files():
            text = read_report(f)
            if text is not None:
                out.add(hashlib.sha256(text.encode("utf-8")).hexdigest())
        return out

    def ingest(self, files: list[Path] | None = None) -> list[Document]:
        """The corpus (`files`, default: `files()`) as `ingest_paths` would cut it, cutting only
        files that changed since last time."""
        files = self.files() if files is None else files
        if not files:
            raise RagError("the library is empty: no seed reports and no uploads")
        docs: list[Document] = []
        seen: set[str] = set()
        keep: dict[tuple, list[Document]] = {}
        for f in files:
            sidecar = f.with_name(f.name + ".meta.toml")
            st = f.stat()
            key = (str(f), st.st_size, st.st_mtime_ns, sidecar.stat().st_mtime_ns if sidecar.exists() else None)
            cut = self._cut.get(key)
            if cut is None:
                cut = load_file(f, self.settings)
                if not cut:
                    log.warning("skipping empty file %s", f)
                    continue
            keep[key] = cut
            for doc in cut:
                if doc.id in seen:
                    raise RagError(f"two reports share the name {doc.id}; rename one")
                seen.add(doc.id)
                docs.append(copy.deepcopy(doc))
        self._cut = keep
        link_twins(docs, self.settings.twin_threshold)
        return docs

    def _rebuild(
        self,
        embedder,
        *,
        must_index: str | None = None,
        publish: Callable[[], None] | None = None,
        write_meta: dict | None = None,
    ) -> Change:
        from rag.search.index import build

        t0 = time.perf_counter()
        docs = self.ingest()
        doc = indexed_upload(docs, must_index)
        if write_meta is not None:
            self._write_json(self.uploads_dir / UPLOADS_META, write_meta)
        stats = build(self.settings, docs=docs, progress=False, embedder=embedder)
        if publish is not None:
            publish()
        return Change.of(doc, docs, stats, t0)

    def _restore(self, embedder) -> None:
        """After a failed change, put the store and index back to the corpus as it now is."""
        try:
            self._rebuild(embedder)
        except Exception:  # the previous index stays published; the next change retries
            log.exception("could not rebuild the index after a failed change")

    @staticmethod
    def _write_json(path: Path, data) -> None:
        atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1))
