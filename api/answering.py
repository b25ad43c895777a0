"""Answering off the event loop, one at a time, behind a bounded queue.

The LLM is not thread-safe and a 2-core machine runs one generation at a time anyway, so answers run
in a single worker thread while the event loop stays free for search and document listing. At most
`max_queue` answering requests are admitted at once (one running, the rest waiting); the next one
gets 503 with Retry-After straight away instead of piling up. A client that goes away cancels its
generation: the worker's cancel event is set, and a job that has not started yet is skipped.

Streaming: the worker reports `Assistant.ask` events into an asyncio queue through
`loop.call_soon_threadsafe`; the response generator reads them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import AsyncIterator

from fastapi import Request

from rag.answer import Answer, Assistant

from .errors import BUSY, ApiError

log = logging.getLogger(__name__)


@dataclass
class AnswerJob:
    """One standalone question, ready for `Assistant.ask`."""
    question: str  # what the user typed (reported back as `question`)
    standalone: str  # after follow-up rewriting (what is answered)
    model: str  # pipeline model name: default | small
    k: int | None = None
    max_tokens: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


class Ticket:
    """A place in the queue; released exactly once, when its job has finished (or never ran)."""

    def __init__(self, queue: "AnswerQueue"):
        self._queue = queue
        self._released = False

    def release(self) -> None:
        self._queue._release(self)


class AnswerQueue:
    def __init__(self, limit: int, retry_after_s: int):
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-answer")
        self.stats: Counter[str] = Counter()
        self._admitted = 0
        self._lock = threading.Lock()
        self._active: set[threading.Event] = set()
        self._closed = False

    @property
    def admitted(self) -> int:
        return self._admitted

    def admit(self) -> Ticket:
        """A place in the queue, or 503 with Retry-After when `limit` requests are already admitted."""
        with self._lock:
            if self._closed or self._admitted >= self.limit:
                self.stats["rejected"] += 1
                raise ApiError(503, f"the server is busy answering ({self._admitted} questions queued); "
                                    f"retry in {self.retry_after_s} s", BUSY, code="queue_full",
                               headers={"Retry-After": str(self.retry_after_s)})
            self._admitted += 1
            return Ticket(self)

    def _release(self, ticket: Ticket) -> None:
        with self._lock:
            if not ticket._released:
                ticket._released = True
                self._admitted -= 1

    def close(self) -> None:
        """Stop: running generations are cancelled, waiting ones skipped."""
        with self._lock:
            self._closed = True
            for ev in self._active:
                ev.set()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- running one job in the worker ----------------------------------------------------------------
    def _run(self, assistant: Assistant, job: AnswerJob, on_event=None) -> Answer | None:
        if job.cancel.is_set():
            self.stats["cancelled"] += 1
            return None
        with self._lock:
            self._active.add(job.cancel)
        llm = None
        saved = None
        try:
            if job.max_tokens:
                # one job at a time runs here, so a per-request cap can be set on the shared model
                llm = assistant.llm(job.model)
                saved = getattr(llm, "max_tokens", None)
            if saved is not None:
                llm.max_tokens = max(1, min(saved, job.max_tokens))
            ans = assistant.ask(job.standalone, k=job.k, model=job.model, on_event=on_event, cancel=job.cancel)
        except Exception:
            self.stats["failed"] += 1
            raise
        finally:
            if llm is not None and saved is not None:
                llm.max_tokens = saved
            with self._lock:
                self._active.discard(job.cancel)
        ans.question = job.question
        ans.standalone_question = job.standalone
        self.stats["cancelled" if job.cancel.is_set() else "answered"] += 1
        return ans

    async def answer(self, request: Request, assistant: Assistant, job: AnswerJob) -> Answer | None:
        """The whole answer (None when the client went away first, which cancels the generation)."""
        ticket = self.admit()
        loop = asyncio.get_running_loop()
        try:
            fut = loop.run_in_executor(self.executor, self._run, assistant, job)
        except RuntimeError:  # shutting down
            ticket.release()
            raise ApiError(503, "the server is shutting down", BUSY, code="shutting_down")
        fut.add_done_callback(lambda _: ticket.release())
        watcher = asyncio.ensure_future(_until_disconnected(request))
        try:
            await asyncio.wait({fut, watcher}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server is stopping
            job.cancel.set()
            raise
        finally:
            watcher.cancel()
        if not fut.done():
            job.cancel.set()
            log.info("client disconnected; generation cancelled")
            try:
                await fut
            except Exception:  # the client is gone; nothing to report to
                log.exception("cancelled answer failed")
            return None
        return fut.result()

    def stream(self, assistant: Assistant, job: AnswerJob) -> AsyncIterator[tuple[str, object]]:
        """Admit now (so a full queue is a plain 503), then yield `(kind, data)` events as they come:
        the `Assistant.ask` events except "done", then ("result", Answer) or ("error", exception)."""
        ticket = self.admit()
        started: list[bool] = []
        gen = self._events(assistant, job, ticket, started)
        # a response that never started still frees its place (once started, the job's end frees it)
        weakref.finalize(gen, lambda: started or ticket.release())
        return gen

    async def _events(self, assistant: Assistant, job: AnswerJob, ticket: Ticket,
                      started: list[bool]) -> AsyncIterator[tuple[str, object]]:
        started.append(True)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

        def push(kind: str, data: object) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, (kind, data))
            except RuntimeError:  # the loop is closed: the server is stopping
                job.cancel.set()

        def work() -> None:
            try:
                ans = self._run(assistant, job, on_event=lambda kind, data: kind != "done" and push(kind, data))
                push("result", ans)
            except Exception as exc:
                push("error", exc)

        try:
            fut = loop.run_in_executor(self.executor, work)
        except RuntimeError:
            ticket.release()
            yield "error", ApiError(503, "the server is shutting down", BUSY, code="shutting_down")
            return
        fut.add_done_callback(lambda _: ticket.release())
        finished = False
        try:
            while True:
                kind, data = await events.get()
                if kind in ("result", "error"):
                    finished = True
                    if kind == "result" and data is None:
                        return
                    yield kind, data
                    return
                yield kind, data
        finally:
            if not finished:  # the client went away (or the server is stopping): stop generating
                job.cancel.set()
                log.info("stream closed before the answer was complete; generation cancelled")


async def _until_disconnected(request: Request, every_s: float = 0.25) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(every_s)
