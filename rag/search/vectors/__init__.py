"""Vector stores behind one interface, chosen by ``RAG_VECTORS__STORE``.

* ``faiss`` (default, embedded): an exact or HNSW index in a file of the build folder.
* ``milvus``: a Milvus collection; with no ``RAG_VECTORS__MILVUS_URI`` a Milvus Lite file under the
  index folder (embedded, no server), else a Milvus server or cluster reached with the same code.
"""

from rag.search.vectors.base import VectorFilter, VectorStore
from rag.search.vectors.factory import open_store, store_class
from rag.search.vectors.faiss_store import FaissStore, Fields, choose_index_type
from rag.search.vectors.milvus_store import MilvusStore

__all__ = [
    "FaissStore",
    "Fields",
    "MilvusStore",
    "VectorFilter",
    "VectorStore",
    "choose_index_type",
    "open_store",
    "store_class",
]
