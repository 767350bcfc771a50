"""The one entry for every plate read: recognizer, camera pushes (ISAPI, ITSAPI, webhook),
the simulator, the attendant.

`submit()` may be called from any thread. For each read it:

1. normalizes the plate (app.domain.access.normalize_plate); an empty plate is dropped;
2. merges it into the open *passage* of that plate at that camera: reads of the same
   normalized plate at the same camera within `merge_s` (default 4 s) of the passage's
   FIRST read are one passage. The window is fixed, not sliding: a car standing at a
   barrier for a minute makes one passage per `merge_s`, so the gate still hears of it
   now and then (its own repeat filter drops what it already decided);
3. a new passage: its snapshot path is allocated, the JPEG is encoded and written on the
   evidence thread (never the loop), the plate_reads row is inserted on the database
   writer thread, and once the row has its id (or after `publish_wait_s` at most, then
   with read_id None) the PlateRead is published on the bus, on the loop thread;
4. a merged read: counted (plate_reads.merged); when it is more confident than the best
   so far it becomes the passage's best read (row: raw, confidence; snapshot overwritten
   with its image). It is NOT published again, with one exception: when the published
   read was below `min_confidence` (the gate asked the attendant) and this one is at or
   above it, it is published once (same read_id), so the gate can decide the sure read.

Reads below `min_confidence` are published like any other: the gate turns them into an
attendant prompt. `recent(camera_id)` gives the camera wall the latest passage's best
read. `prune()` (run in the background by `start()`) deletes evidence older than
`retention_days` and blanks the snapshot path of those rows (the reads stay).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from app.domain.access import normalize_plate
from app.domain.events import PlateRead
from app.domain.timeutil import utc_now

log = logging.getLogger(__name__)

DEFAULT_MERGE_S = 4.0
DEFAULT_MIN_CONFIDENCE = 0.6  # the gate's (app.services.gate.DEFAULT_MIN_CONFIDENCE)
DEFAULT_RETENTION_DAYS = 90.0
DEFAULT_MAX_SKEW_S = 300.0
DEFAULT_PUBLISH_WAIT_S = 0.5
_WARN_EVERY_S = 60.0


# ---- ports ------------------------------------------------------------------------------

class ReadStore(Protocol):
    """plate_reads (app.adapters.db.read_repo.SqlReadStore). insert/update: any thread."""

    def insert(self, values: dict[str, Any],
               on_id: Callable[[int], None] | None = None) -> Future[int]: ...

    def update(self, read_id: Callable[[], int | None],
               values: Callable[[], dict[str, Any] | None]) -> None: ...

    async def clear_snapshots(self, before: datetime) -> int: ...


class Evidence(Protocol):
    """Snapshot files (app.adapters.evidence.EvidenceStore). write/prune block."""

    def allocate(self, camera_id: str, plate: str, at: datetime) -> str: ...
    def write(self, rel: str, image: Any) -> None: ...
    def prune(self, before: datetime) -> int: ...


class _Bus(Protocol):
    def publish(self, event: Any) -> None: ...


# ---- state ------------------------------------------------------------------------------

@dataclass(slots=True)
class _Read:
    raw: str
    confidence: float
    at: datetime
    box: tuple[int, int, int, int] | None
    frame_size: tuple[int, int] | None


@dataclass(eq=False, slots=True)
class _Passage:
    camera_id: str
    plate: str  # normalized
    source: str
    started: float  # monotonic
    first: _Read
    best: _Read
    merged: int = 1
    snapshot: str = ""
    read_id: int | None = None
    update_queued: bool = False
    # loop thread only
    ready: bool = False
    published: bool = False
    published_conf: float = 0.0
    upgraded: bool = False
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


def confidence_0_1(value: Any) -> float:
    """0..1 as given; 1..100 taken as percent; clamped to 0..1. Unreadable -> 0."""
    try:
        c = float(value)
    except (TypeError, ValueError):
        return 0.0
    if c != c:  # NaN
        return 0.0
    if c > 1.0:
        c /= 100.0
    return min(max(c, 0.0), 1.0)


# ---- the service ------------------------------------------------------------------------

class ReadService:
    def __init__(
        self,
        bus: _Bus,
        store: ReadStore,
        evidence: Evidence | None,
        clock: Callable[[], datetime] = utc_now,
        *,
        merge_s: float = DEFAULT_MERGE_S,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        retention_days: float | None = DEFAULT_RETENTION_DAYS,
        max_skew_s: float = DEFAULT_MAX_SKEW_S,
        publish_wait_s: float = DEFAULT_PUBLISH_WAIT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._store = store
        self._evidence = evidence
        self._clock = clock
        self.merge_s = float(merge_s)
        self.min_confidence = float(min_confidence)
        self.retention_days = retention_days
        self.max_skew_s = float(max_skew_s)
        self.publish_wait_s = float(publish_wait_s)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], _Passage] = {}
        self._last: dict[str, _Passage] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence")
        self._pending: set[Future] = set()
        self._prune_task: asyncio.Task | None = None
        self._warned: dict[str, float] = {}
        self._stopped = False
        self.submitted = 0
        self.published = 0

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        self._bind_loop()
        if self.retention_days and self._prune_task is None:
            self._prune_task = asyncio.get_running_loop().create_task(
                self._prune_quietly(), name="evidence-prune")

    async def stop(self, grace_s: float = 5.0) -> None:
        """Finish the evidence writes under way; later submits are dropped."""
        self._stopped = True
        task, self._prune_task = self._prune_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        pending = [asyncio.wrap_future(f) for f in list(self._pending)]
        if pending:
            await asyncio.wait(pending, timeout=grace_s)
        with self._lock:
            for p in self._open.values():
                if p.timer is not None:
                    p.timer.cancel()
            self._open.clear()
        self._loop = None
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    def _bind_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    # -- the entry (any thread) -----------------------------------------------------------

    def submit(self, camera_id: str, plate: str, confidence: float, *, source: str,
               at: datetime | None = None, image: Any = None,
               box: tuple[int, int, int, int] | None = None,
               frame_size: tuple[int, int] | None = None) -> None:
        """Take one read. Never raises for bad input: it is logged and dropped."""
        try:
            self._submit(str(camera_id), plate, confidence, str(source or ""), at, image,
                         box, frame_size)
        except Exception as exc:  # one bad read must not break a camera thread
            self._warn("submit", "plate read from %s dropped: %s: %s", camera_id,
                       type(exc).__name__, exc)

    def _submit(self, camera_id: str, plate: Any, confidence: Any, source: str,
                at: datetime | None, image: Any, box: Any, frame_size: Any) -> None:
        if self._stopped:
            return
        raw = str(plate or "").strip()[:64]
        norm = normalize_plate(raw)[:32]
        if not norm:
            log.debug("reads: empty plate from %s dropped", camera_id)
            return
        loop = self._loop
        if loop is None:
            try:
                self._bind_loop()  # on the loop thread before start(): fine
                loop = self._loop
            except RuntimeError:
                log.debug("reads: not started, read of %s at %s dropped", raw, camera_id)
                return
        read = _Read(raw, confidence_0_1(confidence), self._when(at), _box(box),
                     _size(frame_size))
        now = self._monotonic()
        evidence = self._evidence if image is not None else None
        with self._lock:
            self.submitted += 1
            key = (camera_id, norm)
            p = self._open.get(key)
            if p is not None and now - p.started < self.merge_s:
                p.merged += 1
                better = read.confidence > p.best.confidence
                if better:
                    p.best = read
                write = better and evidence is not None
                if write and not p.snapshot:
                    p.snapshot = evidence.allocate(camera_id, norm, p.first.at)
                rel = p.snapshot if write else ""
                queue_update = not p.update_queued
                p.update_queued = True
                new = False
            else:
                if len(self._open) > 64:
                    self._open = {k: q for k, q in self._open.items()
                                  if now - q.started < self.merge_s}
                p = _Passage(camera_id, norm, source, now, read, read)
                if evidence is not None:
                    p.snapshot = evidence.allocate(camera_id, norm, read.at)
                rel = p.snapshot
                self._open[key] = p
                new = True
                queue_update = False
            self._last[camera_id] = p
        if rel:
            self._write_evidence(p, rel, image)
        if new:
            fut = self._store.insert(self._row(p), on_id=lambda i: setattr(p, "read_id", i))
            self._to_loop(self._arm, p)
            fut.add_done_callback(lambda f: self._to_loop(self._inserted, p, f))
        else:
            if queue_update:
                self._store.update(lambda: p.read_id, lambda: self._row_update(p))
            self._to_loop(self._flush, p)

    def _when(self, at: datetime | None) -> datetime:
        """The read's time: the camera's when it is plausible, else ours."""
        now = self._clock()
        if at is None:
            return now
        if at.tzinfo is None:
            at = at.astimezone()  # a camera's local time
        if abs((at - now).total_seconds()) > self.max_skew_s:
            log.debug("reads: camera time %s is off by more than %.0f s: ours used",
                      at.isoformat(), self.max_skew_s)
            return now
        return at.astimezone(UTC)

    # -- evidence (evidence thread) -------------------------------------------------------

    def _write_evidence(self, p: _Passage, rel: str, image: Any) -> None:
        evidence = self._evidence
        assert evidence is not None
        try:
            fut = self._executor.submit(self._write_job, evidence, p, rel, image)
        except RuntimeError:  # shut down
            return
        self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)

    def _write_job(self, evidence: Evidence, p: _Passage, rel: str, image: Any) -> None:
        try:
            evidence.write(rel, image)
        except Exception as exc:
            self._warn(f"evidence:{p.camera_id}", "evidence snapshot of %s at %s not saved: "
                       "%s: %s", p.plate, p.camera_id, type(exc).__name__, exc)
            exists = False
            with contextlib.suppress(Exception):
                exists = evidence.resolve(rel).exists()  # type: ignore[attr-defined]
            if not exists:
                with self._lock:
                    if p.snapshot == rel:
                        p.snapshot = ""
                    queue = not p.update_queued
                    p.update_queued = True
                if queue:
                    self._store.update(lambda: p.read_id, lambda: self._row_update(p))

    # -- rows -----------------------------------------------------------------------------

    def _row(self, p: _Passage) -> dict[str, Any]:
        return {"at": p.first.at, "camera_id": p.camera_id, "plate": p.plate,
                "raw": p.first.raw, "confidence": p.first.confidence, "source": p.source,
                "snapshot": p.snapshot, "merged": p.merged}

    def _row_update(self, p: _Passage) -> dict[str, Any]:
        with self._lock:
            p.update_queued = False
            return {"raw": p.best.raw, "confidence": p.best.confidence, "merged": p.merged,
                    "snapshot": p.snapshot}

    # -- publishing (loop thread) ---------------------------------------------------------

    def _to_loop(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed under us (shutdown)
            loop.call_soon_threadsafe(fn, *args)

    def _arm(self, p: _Passage) -> None:
        if not p.ready and p.timer is None and self._loop is not None:
            p.timer = self._loop.call_later(self.publish_wait_s, self._timed_out, p)

    def _timed_out(self, p: _Passage) -> None:
        p.timer = None
        if not p.ready:
            self._warn("slow-db", "plate read of %s at %s published before its row was "
                       "written (database slow)", p.plate, p.camera_id)
            p.ready = True
            self._flush(p)

    def _inserted(self, p: _Passage, fut: Future) -> None:
        if p.timer is not None:
            p.timer.cancel()
            p.timer = None
        exc = fut.exception()
        if exc is not None:
            self._warn("insert", "plate read of %s at %s not stored: %s: %s", p.plate,
                       p.camera_id, type(exc).__name__, exc)
        else:
            p.read_id = fut.result()
        p.ready = True
        self._flush(p)

    def _flush(self, p: _Passage) -> None:
        if not p.ready:
            return
        with self._lock:
            first, best, snapshot, read_id = p.first, p.best, p.snapshot, p.read_id
        if not p.published:
            p.published = True
            p.published_conf = first.confidence
            self._publish(p, first, snapshot, read_id)
        if (not p.upgraded and p.published_conf < self.min_confidence
                <= best.confidence):
            p.upgraded = True
            self._publish(p, best, snapshot, read_id)

    def _publish(self, p: _Passage, read: _Read, snapshot: str, read_id: int | None) -> None:
        self.published += 1
        self._bus.publish(self._event(p, read, snapshot, read_id))

    @staticmethod
    def _event(p: _Passage, read: _Read, snapshot: str, read_id: int | None) -> PlateRead:
        return PlateRead(at=read.at, camera_id=p.camera_id, plate=read.raw,
                         confidence=read.confidence, source=p.source, snapshot=snapshot,
                         read_id=read_id, box=read.box, frame_size=read.frame_size)

    # -- reading --------------------------------------------------------------------------

    def recent(self, camera_id: str) -> PlateRead | None:
        """The latest passage's best read at this camera (any thread)."""
        with self._lock:
            p = self._last.get(camera_id)
            if p is None:
                return None
            return self._event(p, p.best, p.snapshot, p.read_id)

    # -- retention ------------------------------------------------------------------------

    async def prune(self, older_than_days: float | None = None) -> int:
        """Delete evidence files older than the retention; their rows keep the read."""
        days = self.retention_days if older_than_days is None else older_than_days
        if not days or days <= 0 or self._evidence is None:
            return 0
        before = self._clock() - timedelta(days=float(days))
        loop = asyncio.get_running_loop()
        removed = await loop.run_in_executor(self._executor, self._evidence.prune, before)
        cleared = await self._store.clear_snapshots(before)
        if removed or cleared:
            log.info("evidence older than %g days pruned: %d files, %d reads", days, removed,
                     cleared, extra={"event": "evidence_pruned", "files": removed,
                                     "reads": cleared})
        return removed

    async def _prune_quietly(self) -> None:
        try:
            await self.prune()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("evidence pruning failed: %s: %s", type(exc).__name__, exc,
                        extra={"event": "evidence_prune_failed"})

    # -- helpers --------------------------------------------------------------------------

    def _warn(self, key: str, msg: str, *args: Any) -> None:
        """WARNING at most once a minute per kind of trouble (DESIGN: no line per failure)."""
        now = self._monotonic()
        with self._lock:
            last = self._warned.get(key)
            if last is not None and now - last < _WARN_EVERY_S:
                log.debug(msg, *args)
                return
            self._warned[key] = now
        log.warning(msg, *args, extra={"event": "plate_read_trouble"})


def _box(value: Any) -> tuple[int, int, int, int] | None:
    try:
        x, y, w, h = (int(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (x, y, w, h) if w > 0 and h > 0 else None


def _size(value: Any) -> tuple[int, int] | None:
    try:
        w, h = (int(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None
