"""Moving a library from one machine's files (SQLite chunk store, FAISS or Milvus Lite) to the
shared servers (PostgreSQL, Milvus server), for replicas to serve.

What is copied is what the library is made of: the uploaded originals with their names and dates,
and the list of excluded seed reports. The chunks are cut again from those originals by the same
code, so they are the same chunks with the same ids, and the vectors come from the embedding cache
of the index folder (nothing is embedded again). The source is only read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rag.errors import Conflict, RagError
from rag.library import Library
from rag.library_shared import EXCLUDED_KEY, SharedLibrary
from rag.search.store import ChunkStore
from rag.settings import Settings


@dataclass
class Copied:
    documents: int
    uploads: int
    excluded: int
    chunks: int
    embedded: int
    seconds: float


def shared_settings(settings: Settings, store_url: str, milvus_uri: str) -> Settings:
    """`settings` pointed at the shared servers (everything else unchanged)."""
    store = settings.store.model_copy(update={"url": store_url})
    vectors = settings.vectors.model_copy(update={"store": "milvus", "milvus_uri": milvus_uri})
    return settings.model_copy(update={"store": store, "vectors": vectors})


def copy_library(source: Settings, target: Settings, *, embedder=None) -> Copied:
    """Copy the local library of `source` into the shared one of `target` (which must be empty),
    then check that the target holds the same documents with the same chunks."""
    if source.store.url:
        raise RagError("the source library is already shared (RAG_STORE__URL is set); nothing to copy")
    if not target.store.url:
        raise RagError("name the shared store to copy to (a postgresql:// URL)")
    local = Library(source)
    uploads = local.uploads()
    excluded = sorted(local.excluded())
    files = {doc_id: local.file_of(doc_id) for doc_id in uploads}
    store = ChunkStore(source.index_dir)
    try:
        expected = {d["id"]: d.get("sha256") for d in store.documents()}
        expected_chunks = store.count()
    finally:
        store.close()
    shared = SharedLibrary(target)
    try:
        if shared.uploads() or shared._db().documents():
            raise Conflict("the shared library is not empty; copy into a new database")

        def fill(db) -> None:
            for doc_id, info in uploads.items():
                path = files[doc_id]
                db.put_upload(doc_id, path.suffix, path.read_bytes(), {**info, "suffix": path.suffix})
            db.meta_set(EXCLUDED_KEY, json.dumps(excluded))

        change = shared._change(fill, embedder, None)
        db = shared._db()
        got = {d["id"]: d.get("sha256") for d in db.documents()}
        if got != expected or db.count() != expected_chunks:
            missing = sorted(set(expected) - set(got)) + sorted(set(got) - set(expected))
            raise RagError(
                f"the copy differs from the source ({len(got)} documents and {db.count()} chunks against "
                f"{len(expected)} and {expected_chunks}{'; ' + ', '.join(missing[:5]) if missing else ''}): "
                "is the seeds folder the same?"
            )
    finally:
        shared.close()
    return Copied(len(got), len(uploads), len(excluded), change.chunks, change.embedded, change.seconds)
