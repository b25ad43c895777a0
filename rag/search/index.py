"""Indexing: chunk vectors in the vector store and jieba BM25, persisted together behind one manifest.

Build steps write into a fresh folder under ``index/`` and publish it by atomically replacing
``index/manifest.json``; until that rename, readers keep using the previous build, so an
interrupted build leaves the old index usable.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import RagError, Unavailable
from rag.files import fsync_dir, is_no_space, no_space_error, sha256_file, tmp_name
from rag.search.bm25 import BM25Index
from rag.search.manifest import (
    FORMAT_VERSION,
    IDS,
    KEYS,
    MANIFEST,
    build_lock,
    clean_leftovers,
    manifest_digest,
    prepared,
    read_manifest,
    recover,
    verify_files,
)
from rag.search.store import ChunkStore, chunk_int_id
from rag.search.vectors import VectorStore, open_store, store_class
from rag.settings import Settings

__all__ = [
    "BuildStats",
    "LoadedIndex",
    "build",
    "build_lock",
    "clean_leftovers",
    "load",
    "read_manifest",
    "recover",
    "verify_files",
]

log = logging.getLogger(__name__)


# --- build and load --------------------------------------------------------------------------------
@dataclass
class BuildStats:
    chunks: int
    embedded: int
    reused: int
    removed: int
    added: int
    index_type: str
    seconds: float
    embed_seconds: float


def build(
    settings: Settings, *, docs: list | None = None, rebuild: bool = False, progress: bool = True, embedder=None
) -> BuildStats:
    """Build the index; with `docs`, write them to the chunk store first, published together: the
    store's change stays uncommitted until the new manifest is complete, so a process killed at any
    point leaves the previous store with its index (or, after the commit, the new pair; see
    `recover`). Without `docs` the store is indexed as it is (after `rag ingest`). With `rebuild`, a
    damaged chunk store is replaced and no cached vector is reused."""
    from rag.chunk.document import doc_summary

    with build_lock(settings):
        clean_leftovers(settings)
        if docs is None:
            return _build(settings, rebuild=rebuild, progress=progress, embedder=embedder)
        store = ChunkStore(settings.index_dir, create=True, replace_damaged=rebuild)
        try:
            store.write(docs, [doc_summary(d) for d in docs], commit=False)
            return _build(settings, rebuild=rebuild, progress=progress, embedder=embedder, chunk_store=store)
        finally:
            store.rollback()
            store.close()


def _build(
    settings: Settings, *, rebuild: bool, progress: bool, embedder, chunk_store: ChunkStore | None = None
) -> BuildStats:
    """Embed the chunk store (reusing cached vectors), update the vector store by diff, and
    publish it with a new BM25 index atomically (the manifest names the store generation).
    A pending write of `chunk_store` is committed just before the manifest is renamed into place."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rag.search.embed import EmbeddingCache, get_embedder

    t0 = time.perf_counter()
    own = chunk_store is None
    reader = chunk_store if chunk_store is not None else ChunkStore(settings.index_dir)
    try:
        generation = reader.generation
        ids, texts, search_texts, meta = searchable_rows(reader)
    finally:
        if own:
            reader.close()
    if not ids:
        raise RagError("the chunk store has no text to index; run `rag ingest` on some reports first")
    embedder = embedder or get_embedder(settings)
    cache = EmbeddingCache(settings.index_dir / "cache", embedder.model_id, embedder.dim)
    if rebuild:
        cache.vectors = {}
    old = _reusable_manifest(settings) if not rebuild else None
    te = time.perf_counter()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
    )
    with Progress(*columns, disable=not progress, transient=True) as bar:
        todo = sum(1 for t in texts if cache.key(t) not in cache.vectors)
        task = bar.add_task("embed", total=todo, rate="")
        started = time.perf_counter()

        def tick(n: int) -> None:
            bar.advance(task, n)
            done = bar.tasks[0].completed
            bar.update(task, rate=f"{done / max(1e-6, time.perf_counter() - started):.1f} chunks/s")

        vectors, computed = cache.embed(embedder, texts, on_progress=tick)
    embed_seconds = time.perf_counter() - te
    keys = [cache.key(t) for t in texts]
    del texts
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    prev = _previous_keys(settings, old) if old and old.get("embedder_id") == embedder.model_id else None
    store, fresh = _updated_store(settings, old, prev, embedder, ids, keys, vectors, meta, stamp)
    kind = store.kind
    bm25 = BM25Index.build(search_texts)
    del search_texts

    build_dir = settings.index_dir / f"build-{stamp}"
    # Written by hand, not with `files.atomic_writer`: the chunk store commits between the manifest's
    # fsync and its rename (see `recover`), a step that helper has no place for.
    tmp = tmp_name(settings.index_dir / MANIFEST)
    try:
        build_dir.mkdir(parents=True, exist_ok=False)
        store_entries = store.persist(build_dir)
        bm25.persist(build_dir / "bm25")
        np.save(build_dir / IDS, np.asarray(ids, dtype=np.int64))
        np.save(build_dir / KEYS, np.asarray(keys, dtype="S40"))
        cache.save(keep=set(keys) | set(cache.vectors) if not rebuild else None)
        files = {str(p.relative_to(build_dir)): _synced_sha256(p) for p in sorted(build_dir.rglob("*")) if p.is_file()}
        manifest = {
            "format_version": FORMAT_VERSION,
            "embedder_id": embedder.model_id,
            "dim": embedder.dim,
            "index_type": kind,
            "chunk_count": len(ids),
            "build_dir": build_dir.name,
            "files": files,
            "store_generation": generation,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **store_entries,
        }
        manifest["manifest_sha256"] = manifest_digest(manifest)
        with tmp.open("wb") as fh:  # complete and on disk before the store commits (see `recover`)
            fh.write(json.dumps(manifest, ensure_ascii=False).encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        for f in [build_dir, build_dir / "bm25"]:
            fsync_dir(f)
        if chunk_store is not None:
            chunk_store.commit()
        os.replace(tmp, settings.index_dir / MANIFEST)
        fsync_dir(settings.index_dir)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(build_dir, ignore_errors=True)
        if fresh:
            store.drop()
        if isinstance(exc, Exception) and is_no_space(exc):
            raise no_space_error(settings.index_dir, "the index") from exc
        raise
    finally:
        store.close()
    for other in settings.index_dir.glob("build-*"):
        if other != build_dir:
            shutil.rmtree(other, ignore_errors=True)
    if fresh and old:
        _drop_previous(settings, old, manifest)
    old_ids, new_ids = set(prev or ()), set(ids)
    return BuildStats(
        chunks=len(ids),
        embedded=computed,
        reused=len(ids) - computed,
        removed=len(old_ids - new_ids),
        added=len(new_ids - old_ids) if prev is not None else len(ids),
        index_type=kind,
        seconds=time.perf_counter() - t0,
        embed_seconds=embed_seconds,
    )


def searchable_rows(reader) -> tuple[list[int], list[str], list[str], list[dict]]:
    """What an index is built from, streamed out of a chunk store (no Chunk list is kept): the
    searchable chunks' int ids, the texts to embed, the texts BM25 indexes, and the fields a
    vector search can be limited to."""
    from rag.search.embed import embed_text

    levels = {d["id"]: (d.get("meta") or {}).get("level", "") for d in reader.documents()}
    ids: list[int] = []
    texts: list[str] = []
    search_texts: list[str] = []
    meta: list[dict] = []
    for c in reader.iter_chunks(searchable_only=True):
        ids.append(chunk_int_id(c.id))
        texts.append(embed_text(c))
        search_texts.append(c.search_text)
        meta.append({"doc": c.doc, "place": c.place, "level": levels.get(c.doc, ""), "year": c.year})
    return ids, texts, search_texts, meta


def _synced_sha256(path: Path) -> str:
    """The file's sha256, after making sure its content is on disk (the manifest that names it
    may be published next; the writers used here do not fsync)."""
    with path.open("rb") as fh:
        os.fsync(fh.fileno())
    return sha256_file(path)


def _reusable_manifest(settings: Settings) -> dict | None:
    """The published manifest when its files can be built on (an update by diff); None when there
    is none or it or one of its files is damaged (the build then starts afresh)."""
    try:
        old = read_manifest(settings)
        if old is not None and store_class(old.get("vector_store", "faiss")).in_build_folder:
            verify_files(settings.index_dir / old.get("build_dir", ""), old.get("files") or {})
    except RagError as exc:
        log.warning("%s; building a new index from scratch", exc)
        return None
    return old


def _updated_store(
    settings: Settings,
    old: dict | None,
    prev_keys: dict[int, str] | None,
    embedder,
    ids: list[int],
    keys: list[str],
    vectors: np.ndarray,
    meta: list[dict],
    stamp: str,
) -> tuple[VectorStore, bool]:
    """The vector store for this build and whether it is new. An update of the previous build's
    store (same backend and embedder, deletable index) is a diff: vectors whose chunk id left or
    whose text changed are deleted, new and changed ones upserted; else a store is filled afresh."""
    backend = store_class(settings.vectors.store)
    store: VectorStore | None = None
    if old is not None and prev_keys is not None and old.get("vector_store", "faiss") == backend.name:
        store = backend.reuse(settings, old, embedder.dim, len(ids))
    if store is not None and prev_keys is not None:
        now = dict(zip(ids, keys))
        gone = [i for i, k in prev_keys.items() if now.get(i) != k]
        todo = [n for n, (i, k) in enumerate(zip(ids, keys)) if prev_keys.get(i) != k]
        store.delete([i for i in gone if i not in now])
        store.upsert([ids[n] for n in todo], vectors[todo], [meta[n] for n in todo])
        if store.count() == len(ids):
            return store, False
        store.close()  # the store disagrees with its manifest (an interrupted update): fill a new one
    store = backend.create(settings, embedder.dim, len(ids), stamp)
    store.upsert(ids, vectors, meta)
    return store, True


def _previous_keys(settings: Settings, old: dict) -> dict[int, str] | None:
    """Chunk int id → embedding key of the previous build (None when it did not record them)."""
    d = settings.index_dir / old.get("build_dir", "")
    try:
        ids = np.load(d / IDS, allow_pickle=False)
        keys = np.load(d / KEYS, allow_pickle=False)
    except (OSError, ValueError):
        return None
    return dict(zip(ids.tolist(), (k.decode("ascii") for k in keys.tolist()))) if len(ids) == len(keys) else None


def _drop_previous(settings: Settings, old: dict, new: dict) -> None:
    """The previous build's vector store where it outlives its build folder (a Milvus collection)."""
    try:
        previous = store_class(old.get("vector_store", "faiss"))
    except RagError:  # a store this version does not know: nothing of it to drop
        return
    previous.drop_previous(settings, old, new)


@dataclass
class LoadedIndex:
    manifest: dict
    store: VectorStore
    bm25: BM25Index
    ids: np.ndarray  # BM25 position → chunk int id


def check_manifest(manifest: dict, embedder_id: str | None, where: str, what: str) -> None:
    """Unavailable, naming the fix, when a published index (`what`, found `where`) is of another
    format or embedder."""
    if manifest.get("format_version") != FORMAT_VERSION:
        raise Unavailable(
            f"{where} has format {manifest.get('format_version')}, this version reads {FORMAT_VERSION}; "
            "run `rag index --rebuild`"
        )
    if embedder_id is not None and manifest.get("embedder_id") != embedder_id:
        raise Unavailable(
            f"{what} was built with embedder {manifest.get('embedder_id')} but the configured one is "
            f"{embedder_id}; run `rag index --rebuild`"
        )


def load(settings: Settings, embedder_id: str | None = None, *, verify: bool = True) -> LoadedIndex:
    """The published index; a clear error when it is missing, damaged, stale or from another
    embedder. Every file the manifest lists is checked against its sha256 (`verify_files`) before
    it is opened: a damaged file is reported, never searched. A publish that a killed build left
    half-done is finished first (`recover`)."""
    if prepared(settings):
        with build_lock(settings):
            recover(settings)
    manifest = read_manifest(settings)
    if manifest is None:
        raise Unavailable(f"no index in {settings.index_dir}; run `rag index`")
    check_manifest(manifest, embedder_id, f"the index in {settings.index_dir}", "the index")
    d = settings.index_dir / manifest["build_dir"]
    if not d.exists():
        raise Unavailable(f"the index folder {d} is missing; run `rag index --rebuild`")
    if verify:
        verify_files(d, manifest.get("files") or {})
    try:
        store = open_store(settings, manifest, d)
        bm25 = BM25Index.load(d / "bm25")
        ids = np.load(d / IDS, allow_pickle=False)
    except RagError:
        raise
    except Exception as exc:  # noqa: BLE001 - faiss, numpy and bm25s each raise their own on a bad file
        raise Unavailable(
            f"the index in {d} cannot be read ({type(exc).__name__}: {str(exc)[:120]}); run `rag index --rebuild`"
        ) from exc
    if not store.holds(len(ids)) or len(ids) != manifest["chunk_count"] or len(ids) != bm25.num_docs:
        raise Unavailable("the index files disagree with their manifest; run `rag index --rebuild`")
    return LoadedIndex(manifest, store, bm25, ids)
