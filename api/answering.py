"""Answering off the event loop, one at a time, behind a bounded queue.

The LLM is not thread-safe and a 2-core machine runs one generation at a time anyway, so answers run
in a single worker thread while the event loop stays free for search and document listing.

Two bounds keep waiting honest: at most `max_queue` answering requests are admitted at once (one
running, the rest waiting), and a request that has not started after `max_wait_s` gives up its
place. Either way the client gets 503 with Retry-After instead of a request that hangs. A stream's
response starts only when its job does, so that a queue time-out is still a plain 503; a job first
checks that its model is there (an LLM server may be down or slow), so that is a plain 503 too.

A client that goes away cancels its generation: the job's cancel event is set, and a job that has
not started is skipped. Streaming: the worker reports `Assistant.ask` events into an asyncio queue
through `loop.call_soon_threadsafe`; the response generator reads them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import Request

from api.errors import BUSY, ApiError
from rag.answer.assistant import Assistant
from rag.answer.turn import Answer
from rag.scope import Scope

log = logging.getLogger(__name__)


@dataclass
class AnswerJob:
    """One standalone question, ready for `Assistant.ask`."""

    question: str  # what the user typed (reported back as `question`)
    standalone: str  # after follow-up rewriting (what is answered)
    model: str  # pipeline model name: default | small
    k: int | None = None
    max_tokens: int | None = None
    scope: Scope | None = None  # the reports it may be answered from (None: all), checked when the job was made
    cancel: threading.Event = field(default_factory=threading.Event)
    state: str = "queued"  # queued → running, or queued → abandoned (never runs)
    begun: bool = False  # its model was there and answering started (a stream's response may begin)


class Ticket:
    """A place in the queue; released exactly once, when its job has finished (or never ran)."""

    def __init__(self, queue: AnswerQueue):
        self._queue = queue
        self._released = False

    def release(self) -> None:
        self._queue._release(self)


class AnswerQueue:
    def __init__(self, limit: int, retry_after_s: int, max_wait_s: float = 60.0):
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.max_wait_s = max_wait_s
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-answer")
        self.stats: Counter[str] = Counter()
        self._admitted = 0
        self._lock = threading.Lock()
        self._active: set[threading.Event] = set()
        self._closed = False

    @property
    def admitted(self) -> int:
        return self._admitted

    def _busy(self, message: str, code: str) -> ApiError:
        return ApiError(503, message, BUSY, code=code, headers={"Retry-After": str(self.retry_after_s)})

    def admit(self) -> Ticket:
        """A place in the queue, or 503 with Retry-After when `limit` requests are already admitted."""
        with self._lock:
            if self._closed or self._admitted >= self.limit:
                self.stats["rejected"] += 1
                raise self._busy(
                    f"the server is busy answering ({self._admitted} questions queued); "
                    f"retry in {self.retry_after_s} s",
                    "queue_full",
                )
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

    # --- the worker side ------------------------------------------------------------------------------
    def _run(self, assistant: Assistant, job: AnswerJob, on_start: Callable[[], None], on_event=None) -> Answer | None:
        with self._lock:
            if job.state != "queued" or job.cancel.is_set():  # gave up, went away, or the server is stopping
                job.state = "abandoned"
                self.stats["cancelled"] += 1
                return None
            job.state = "running"
            self._active.add(job.cancel)
        try:
            assistant.check_model(job.model)
            if job.cancel.is_set():  # the client went away (or the server is stopping) meanwhile
                self.stats["cancelled"] += 1
                return None
            job.begun = True
            on_start()
            ans = assistant.ask(
                job.standalone,
                k=job.k,
                model=job.model,
                on_event=on_event,
                cancel=job.cancel,
                max_tokens=job.max_tokens,
                scope=job.scope,
            )
        except Exception:
            self.stats["failed"] += 1
            raise
        finally:
            with self._lock:
                self._active.discard(job.cancel)
        ans.question = job.question
        ans.standalone_question = job.standalone
        self.stats["cancelled" if job.cancel.is_set() else "answered"] += 1
        return ans

    def _abandon(self, job: AnswerJob) -> bool:
        """Give up a job that has not started; False when it started meanwhile."""
        with self._lock:
            if job.state == "running":
                return False
            job.state = "abandoned"
            job.cancel.set()
            return True

    # --- the event-loop side --------------------------------------------------------------------------
    async def _start(
        self, request: Request, assistant: Assistant, job: AnswerJob, on_event=None
    ) -> asyncio.Future | None:
        """Admit, queue, and wait until the job runs. Returns its future, None when the client went
        away first; 503 when the queue is full or the job did not start within `max_wait_s`."""
        ticket = self.admit()
        loop = asyncio.get_running_loop()
        started = asyncio.Event()

        def on_start() -> None:
            try:
                loop.call_soon_threadsafe(started.set)
            except RuntimeError:  # the loop is closed: the server is stopping
                job.cancel.set()

        try:
            fut = loop.run_in_executor(self.executor, self._run, assistant, job, on_start, on_event)
        except RuntimeError:  # the executor is shut down
            ticket.release()
            raise self._busy("the server is shutting down", "shutting_down") from None
        fut.add_done_callback(lambda _: ticket.release())
        starter = asyncio.ensure_future(started.wait())
        watcher = asyncio.ensure_future(_until_disconnected(request))
        try:
            waiting: set[asyncio.Future[Any]] = {starter, watcher, fut}
            done, _ = await asyncio.wait(waiting, timeout=self.max_wait_s, return_when=asyncio.FIRST_COMPLETED)
            if not done and job.state == "running":
                # it started in time and is checking its model: a slow LLM server gets its own time-out
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            job.cancel.set()
            raise
        finally:
            starter.cancel()
            watcher.cancel()
        if starter in done or fut in done:
            return fut
        if watcher in done:
            if self._abandon(job):
                ticket.release()
                log.info("client disconnected while queued; its question is skipped")
                return None
            job.cancel.set()  # it has just started: stop it
            log.info("client disconnected; generation cancelled")
            return None
        if self._abandon(job):
            ticket.release()  # it will never run: its place is free now
            self.stats["timed_out"] += 1
            raise self._busy(
                f"the question waited {self.max_wait_s:g} s without starting; retry in {self.retry_after_s} s",
                "queue_timeout",
            )
        return fut

    async def answer(self, request: Request, assistant: Assistant, job: AnswerJob) -> Answer | None:
        """The whole answer (None when the client went away first, which cancels the generation)."""
        fut = await self._start(request, assistant, job)
        if fut is None:
            return None
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

    async def stream(
        self, request: Request, assistant: Assistant, job: AnswerJob
    ) -> AsyncIterator[tuple[str, object]] | None:
        """Start the job (503 as for `answer`), then an iterator of `(kind, data)` events: the
        `Assistant.ask` events except "done", then ("result", Answer) or ("error", exception).
        None when the client went away while queued."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

        def push(kind: str, data: object) -> None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, (kind, data))
            except RuntimeError:  # the loop is closed: the server is stopping
                job.cancel.set()

        fut = await self._start(
            request, assistant, job, on_event=lambda kind, data: push(kind, data) if kind != "done" else None
        )
        if fut is None:
            return None
        if fut.done() and not job.begun and not fut.cancelled() and fut.exception() is not None:
            raise cast(BaseException, fut.exception())  # failed before answering began: a plain error status

        def finished(f: asyncio.Future) -> None:
            if f.cancelled():
                events.put_nowait(("error", self._busy("the server is shutting down", "shutting_down")))
            elif f.exception() is not None:
                events.put_nowait(("error", f.exception()))
            else:
                events.put_nowait(("result", f.result()))

        fut.add_done_callback(finished)
        gen = _drain(events, job)
        weakref.finalize(gen, job.cancel.set)  # a response that never started stops its generation
        return gen


async def _drain(events: asyncio.Queue, job: AnswerJob) -> AsyncIterator[tuple[str, object]]:
    finished = False
    try:
        while True:
            kind, data = await events.get()
            if kind == "result" and data is None:  # cancelled
                finished = True
                return
            yield kind, data
            if kind in ("result", "error"):
                finished = True
                return
    finally:
        if not finished:  # the client went away (or the server is stopping): stop generating
            job.cancel.set()
            log.info("stream closed before the answer was complete; generation cancelled")


async def _until_disconnected(request: Request, every_s: float = 0.25) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(every_s)
