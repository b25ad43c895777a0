"""The index of a library that several service replicas share: chunks in PostgreSQL, vectors in
a Milvus server, and each replica's keyword index rebuilt from the store.

Why this shape: the vectors and the chunks are the expensive, shared part; BM25 over jieba tokens is
cheap to rebuild from the store's rows and is kept by each replica on its own disk, named after the
store generation it was built from. The published index is a small manifest in the store itself
(key ``manifest``), committed in the same transaction as the chunk change it describes, so a reader
sees a store and a manifest that belong together.

A change is made by one writer at a time (the store's writer lock) in this order:

1. the chunk ids whose vectors will change are recorded, committed (key ``vector_sync``);
2. the chunks are written in a pending transaction, new and changed vectors upserted in Milvus;
3. the manifest is written and the transaction committed: every replica sees the change;
4. vectors of chunks that left are deleted, and the record cleared.

A writer killed anywhere leaves the store as before (step 3 is one transaction) and a record that
the next writer finishes (`finish_sync`): each recorded id gets the vector of the chunk the store
holds, or none. Readers map the ids Milvus returns through their own id list and skip the others,
so vectors of an uncommitted change are never cited.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from rag.errors import RagError, Unavailable
from rag.files import fsync_dir
from rag.search.bm25 import BM25Index
from rag.search.index import BuildStats, LoadedIndex, check_manifest, searchable_rows
from rag.search.manifest import FORMAT_VERSION, IDS
from rag.search.vectors.milvus_store import MilvusStore
from rag.settings import Settings

log = logging.getLogger(__name__)

MANIFEST_KEY = "manifest"
SYNC_KEY = "vector_sync"
REPLICA_DIR = "replica"  # under the index folder: this replica's keyword indexes, one per generation


def check_shared(settings: Settings) -> None:
    """A shared chunk store needs vectors every replica reaches: a Milvus server."""
    if settings.vectors.store != "milvus" or not settings.vectors.milvus_uri:
        raise RagError(
            "a shared chunk store (RAG_STORE__URL) needs the vectors in a Milvus server: set "
            "RAG_VECTORS__STORE=milvus and RAG_VECTORS__MILVUS_URI=http://host:19530"
        )


def read_shared_manifest(store) -> dict | None:
    raw = store.meta_get(MANIFEST_KEY)
    return json.loads(raw) if raw else None


def _committed(settings: Settings):
    """A second connection: what readers see while this writer's change is pending."""
    from rag.search.stores import open_chunk_store

    return open_chunk_store(settings)


def finish_sync(settings: Settings, committed, manifest: dict | None, embedder) -> int:
    """Finish the vector change a killed writer left (see the module's docstring); returns the
    number of ids put right. `committed` must not hold a pending change."""
    recorded = json.loads(committed.meta_get(SYNC_KEY) or "[]")
    if not recorded:
        return 0
    if manifest is not None and manifest.get("embedder_id") == embedder.model_id:
        chunks = {i: c for i, c in committed.by_int_ids(recorded).items() if c.searchable}
        vectors = MilvusStore.open(settings, manifest, settings.index_dir)
        try:
            levels = {d["id"]: (d.get("meta") or {}).get("level", "") for d in committed.documents()}
            _upsert_chunks(settings, vectors, embedder, chunks, levels)
            vectors.delete([i for i in recorded if i not in chunks])
        finally:
            vectors.close()
    committed.meta_set(SYNC_KEY, "[]")
    log.warning("finished the vector change of %d chunks that an interrupted change left", len(recorded))
    return len(recorded)


def _upsert_chunks(settings: Settings, vectors: MilvusStore, embedder, chunks: dict, levels: dict) -> None:
    from rag.search.embed import EmbeddingCache, embed_text

    if not chunks:
        return
    cache = EmbeddingCache(settings.index_dir / "cache", embedder.model_id, embedder.dim)
    ids = list(chunks)
    embedded, _ = cache.embed(embedder, [embed_text(chunks[i]) for i in ids])
    meta = [
        {"doc": c.doc, "place": c.place, "level": levels.get(c.doc, ""), "year": c.year}
        for c in (chunks[i] for i in ids)
    ]
    vectors.upsert(ids, embedded, meta)


def publish(settings: Settings, store, *, embedder, rebuild: bool = False) -> BuildStats:
    """Index what `store` holds (its pending change included) and publish it to every replica:
    vectors by diff against what readers see now, then the manifest, committed with the change.
    The caller holds the store's writer lock. On any failure the pending change is rolled back."""
    from rag.search.embed import EmbeddingCache

    check_shared(settings)
    t0 = time.perf_counter()
    committed = _committed(settings)
    vectors: MilvusStore | None = None
    fresh = False
    try:
        old = read_shared_manifest(committed)
        finish_sync(settings, committed, old, embedder)
        reuse = (
            not rebuild
            and old is not None
            and old.get("embedder_id") == embedder.model_id
            and old.get("index_type") == settings.vectors.milvus_index_type.lower()
        )
        generation = store.generation
        if reuse and not store.pending and old is not None and old.get("store_generation") == generation:
            committed.close()
            n = int(old["chunk_count"])
            return BuildStats(n, 0, n, 0, 0, old["index_type"], time.perf_counter() - t0, 0.0)
        prev: dict[int, str] = {}
        if reuse:
            old_ids, old_texts, _, _ = searchable_rows(committed)
            prev = dict(zip(old_ids, (EmbeddingCache.key(t) for t in old_texts)))
            del old_ids, old_texts
        ids, texts, _, meta = searchable_rows(store)
        if not ids:
            raise RagError("the library has no text to index; upload a report first")
        cache = EmbeddingCache(settings.index_dir / "cache", embedder.model_id, embedder.dim)
        te = time.perf_counter()
        embedded, computed = cache.embed(embedder, texts)
        embed_seconds = time.perf_counter() - te
        keys = [cache.key(t) for t in texts]
        del texts
        cache.save()
        now = dict(zip(ids, keys))
        if reuse:
            assert old is not None
            vectors = MilvusStore.reuse(settings, old, embedder.dim, len(ids))
        if vectors is None:
            stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
            vectors, fresh, prev = MilvusStore.create(settings, embedder.dim, len(ids), stamp), True, {}
        todo = [n for n, (i, k) in enumerate(zip(ids, keys)) if prev.get(i) != k]
        gone = [i for i in prev if i not in now]
        if not fresh:
            committed.meta_set(SYNC_KEY, json.dumps(sorted({ids[n] for n in todo} | set(gone))))
        vectors.upsert([ids[n] for n in todo], embedded[todo], [meta[n] for n in todo])
        entries = vectors.persist(settings.index_dir)
        manifest = {
            "format_version": FORMAT_VERSION,
            "embedder_id": embedder.model_id,
            "dim": embedder.dim,
            "index_type": vectors.kind,
            "chunk_count": len(ids),
            "store_generation": generation,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            **entries,
        }
        store.begin()  # joins the pending change, or opens one when nothing else changed
        store.meta_set(MANIFEST_KEY, json.dumps(manifest, ensure_ascii=False))
        store.commit()
    except BaseException:
        store.rollback()
        if fresh and vectors is not None:
            vectors.drop()
        committed.close()
        if vectors is not None:
            vectors.close()
        raise
    try:
        vectors.delete(gone)
        if not fresh:
            committed.meta_set(SYNC_KEY, "[]")
        if fresh and old is not None:
            MilvusStore.drop_previous(settings, old, manifest)
    finally:
        committed.close()
        vectors.close()
    return BuildStats(
        chunks=len(ids),
        embedded=computed,
        reused=len(ids) - computed,
        removed=len(gone),
        added=len([i for i in now if i not in prev]),
        index_type=manifest["index_type"],
        seconds=time.perf_counter() - t0,
        embed_seconds=embed_seconds,
    )


def load(settings: Settings, store, embedder_id: str | None = None) -> LoadedIndex:
    """The published shared index, with this replica's keyword index for its generation (built
    from the store when this replica has none yet). Unavailable when there is none, or when the
    store moved on while it was read (the caller tries again)."""
    check_shared(settings)
    manifest = read_shared_manifest(store)
    if manifest is None:
        raise Unavailable("the shared library has no index yet; run `rag index`")
    check_manifest(manifest, embedder_id, "the shared index", "the shared index")
    generation = manifest["store_generation"]
    folder = settings.index_dir / REPLICA_DIR / generation
    if not (folder / IDS).exists():
        _build_keywords(store, generation, folder)
    bm25 = BM25Index.load(folder / "bm25")
    ids = np.load(folder / IDS, allow_pickle=False)
    vectors = MilvusStore.open(settings, manifest, settings.index_dir)
    if len(ids) != manifest["chunk_count"] or len(ids) != bm25.num_docs:
        vectors.close()
        raise Unavailable("the shared index disagrees with its manifest; run `rag index --rebuild`")
    return LoadedIndex(manifest, vectors, bm25, ids)


def _build_keywords(store, generation: str, folder: Path) -> None:
    """BM25 over the store's searchable chunks, written atomically into `folder` (a rename), and
    only when the store still is at `generation` after reading them (a commit in between means
    the rows may mix two generations)."""
    if store.generation != generation:
        raise Unavailable("the shared library changed while its index was being opened; try again")
    ids, _, search_texts, _ = searchable_rows(store)
    if store.generation != generation:
        raise Unavailable("the shared library changed while its index was being opened; try again")
    tmp = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        BM25Index.build(search_texts).persist(tmp / "bm25")
        np.save(tmp / IDS, np.asarray(ids, dtype=np.int64))
        fsync_dir(tmp)
        try:
            tmp.rename(folder)
        except OSError:  # another thread of this replica built it meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for other in sorted(folder.parent.iterdir(), key=lambda p: p.stat().st_mtime)[:-2]:
        if other != folder:  # keep this one and the one before it (a request may still use it)
            shutil.rmtree(other, ignore_errors=True)
