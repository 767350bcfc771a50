"""The one database writer thread. Everything that writes goes through it.

Jobs are functions of a SQLAlchemy Connection. Queued jobs are run in batches, one
transaction per batch (SQLite commits are the expensive part); if a batch fails, its
jobs are replayed one transaction each so one bad row loses only itself.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[Connection], Any]

_STOP = object()
MAX_BATCH = 500


class DbWriter:
    def __init__(self, engine: Engine, *, name: str = "db-writer") -> None:
        self.engine = engine
        self._queue: queue.Queue[tuple[Job, Future | None] | object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self.jobs_done = 0
        self.jobs_failed = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    # -- submitting --------------------------------------------------------------

    def submit(self, job: Callable[[Connection], T]) -> Future[T]:
        """Run `job` on the writer thread; the future carries its result or error."""
        fut: Future[T] = Future()
        self._queue.put((job, fut))
        return fut

    async def run(self, job: Callable[[Connection], T]) -> T:
        return await asyncio.wrap_future(self.submit(job))

    def enqueue(self, job: Job) -> None:
        """Fire and forget: a failure is logged, never raised to the caller."""
        self._queue.put((job, None))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written."""
        if not self._started or not self._thread.is_alive():
            return self._queue.empty()
        try:
            self.submit(lambda _conn: None).result(timeout)
        except TimeoutError:
            return False
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        if not self._started:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("database writer did not finish within %.0f s", timeout)

    # -- the thread ------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                batch.append(nxt)
            self._run_batch(batch)  # type: ignore[arg-type]

    def _run_batch(self, batch: list[tuple[Job, Future | None]]) -> None:
        results: list[Any] = []
        try:
            with self.engine.begin() as conn:
                for job, _fut in batch:
                    results.append(job(conn))
        except Exception as exc:
            if len(batch) == 1:
                self._fail(batch[0], exc)
                return
            for entry in batch:  # isolate the bad job
                self._run_batch([entry])
            return
        for (_job, fut), result in zip(batch, results, strict=True):
            self.jobs_done += 1
            if fut is not None and fut.set_running_or_notify_cancel():
                fut.set_result(result)

    def _fail(self, entry: tuple[Job, Future | None], exc: BaseException) -> None:
        job, fut = entry
        self.jobs_failed += 1
        if fut is not None:
            if fut.set_running_or_notify_cancel():
                fut.set_exception(exc)
        else:
            log.error("database write %s failed: %s", getattr(job, "__name__", job), exc,
                      exc_info=exc)

