"""The recognizer worker: ONE thread ("recognizer") that reads plates from the newest frame
of each camera whose settings say ``recognizer: on``.

    worker = RecognitionWorker(lambda: feeds, reads.submit,
                               make_reader=lambda country: Recognizer(country))
    worker.start() ... worker.stop()

- Cameras are objects with ``.camera`` (app.domain.site.Camera) and
  ``.latest() -> (frame, at) | None`` (capture feeds, simulated cameras). `cameras` is the
  list, or a callable that returns the current list (cameras come and go while it runs).
- Round-robin over those cameras, at most ``settings["recognizer_fps"]`` (default
  `max_fps`) frames per second per camera; a frame already read (same `at`) is not read
  again. Only the newest frame counts: a slow recognizer skips frames, it never queues them.
- Each plate the reader finds at or above `min_confidence` goes to
  ``submit(camera_id, plate, confidence, source="recognizer", at=at, image=frame, box=box,
  frame_size=(w, h))`` (app.services.reads.ReadService.submit: merges repeats into one
  passage, thread-safe). Several plates in one frame (a camera over several bays) are all
  submitted; the box tells them apart.
- The region of interest (``settings["roi"]``, fractions [x, y, w, h]) and the country
  (``settings["country"]``) are passed to the reader; one reader per country, made by
  `make_reader(country)` on the worker thread (model loading never blocks the loop).

Never runs on the UI / asyncio thread. A reader or camera failure is logged once on the
transition (WARNING) and once on recovery (INFO), never per frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

DEFAULT_MAX_FPS = 2.0
DEFAULT_MIN_CONFIDENCE = 0.4
_ON = {"on", "true", "1", "yes", "enabled"}


class PlateCandidateLike(Protocol):
    plate: str
    confidence: float
    box: tuple[int, int, int, int]


class PlateReader(Protocol):
    """app.adapters.camera.recognizer.Recognizer"""

    def read(self, image_bgr: Any, roi: Sequence[float] | None = None
             ) -> Sequence[PlateCandidateLike]: ...


class FrameFeed(Protocol):
    camera: Any  # app.domain.site.Camera

    def latest(self) -> tuple[Any, datetime] | None: ...


Submit = Callable[..., None]


def recognizer_on(settings: dict[str, Any] | None) -> bool:
    value = (settings or {}).get("recognizer", "off")
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _ON


@dataclass
class CameraStats:
    frames: int = 0
    reads: int = 0
    last_ms: float = 0.0
    total_ms: float = 0.0
    failing: bool = False


class RecognitionWorker:
    def __init__(self, cameras: Iterable[FrameFeed] | Callable[[], Iterable[FrameFeed]],
                 submit: Submit, *, make_reader: Callable[[str | None], PlateReader],
                 max_fps: float = DEFAULT_MAX_FPS,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 idle_s: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        self._cameras = cameras
        self._submit = submit
        self._make_reader = make_reader
        self.max_fps = max_fps
        self.min_confidence = min_confidence
        self._idle_s = idle_s
        self._clock = clock
        self._readers: dict[str | None, PlateReader] = {}
        self._due: dict[str, float] = {}  # camera id -> monotonic time it may be read again
        self._seen: dict[str, Any] = {}  # camera id -> `at` of the frame last read
        self._rr = 0
        self._stats: dict[str, CameraStats] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader_failing: set[str | None] = set()

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="recognizer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("recognizer: worker did not stop within %.1f s", timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> dict[str, CameraStats]:
        return dict(self._stats)

    # ---- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        log.info("recognizer: worker started")
        try:
            while not self._stop.is_set():
                if not self.step():
                    self._stop.wait(self._idle_s)
        finally:
            log.info("recognizer: worker stopped")

    def _feeds(self) -> list[FrameFeed]:
        try:
            cams = self._cameras() if callable(self._cameras) else self._cameras
            return [f for f in cams if recognizer_on(getattr(f.camera, "settings", None))]
        except Exception as exc:  # a camera list being rebuilt: try again next round
            log.debug("recognizer: camera list unavailable: %s", exc)
            return []

    def step(self) -> bool:
        """Read at most one frame (the next due camera, round-robin). True when it read
        one. The thread calls this in a loop; tests call it directly."""
        feeds = self._feeds()
        if not feeds:
            return False
        now = self._clock()
        n = len(feeds)
        for i in range(n):
            feed = feeds[(self._rr + i) % n]
            cam_id = str(feed.camera.id)
            if self._due.get(cam_id, 0.0) > now:
                continue
            try:
                latest = feed.latest()
            except Exception as exc:
                log.debug("recognizer: %s latest() failed: %s", cam_id, exc)
                continue
            if latest is None:
                continue
            frame, at = latest
            if frame is None or self._seen.get(cam_id, object()) is at:
                continue
            self._rr = (self._rr + i + 1) % n
            self._read(feed, cam_id, frame, at, now)
            return True
        return False

    def _fps(self, settings: dict[str, Any]) -> float:
        try:
            fps = float(settings.get("recognizer_fps", self.max_fps))
        except (TypeError, ValueError):
            fps = self.max_fps
        return max(0.05, min(fps, 30.0))

    def _reader(self, country: str | None) -> PlateReader:
        reader = self._readers.get(country)
        if reader is None:
            reader = self._make_reader(country)
            self._readers[country] = reader
        return reader

    def _read(self, feed: FrameFeed, cam_id: str, frame: Any, at: Any, now: float) -> None:
        settings = dict(getattr(feed.camera, "settings", None) or {})
        self._due[cam_id] = now + 1.0 / self._fps(settings)
        self._seen[cam_id] = at
        country = str(settings.get("country") or "").upper() or None
        stats = self._stats.setdefault(cam_id, CameraStats())
        t0 = time.perf_counter()
        try:
            candidates = self._reader(country).read(frame, roi=settings.get("roi"))
        except Exception as exc:
            if not stats.failing:
                stats.failing = True
                log.warning("recognizer: reading %s failed: %s: %s", cam_id,
                            type(exc).__name__, exc)
            return
        if stats.failing:
            stats.failing = False
            log.info("recognizer: reading %s works again", cam_id)
        ms = (time.perf_counter() - t0) * 1000
        stats.frames += 1
        stats.last_ms = ms
        stats.total_ms += ms
        shape = getattr(frame, "shape", None)
        frame_size = (int(shape[1]), int(shape[0])) if shape is not None else None
        for c in candidates:
            if c.confidence < self.min_confidence:
                continue
            stats.reads += 1
            try:
                self._submit(cam_id, c.plate, float(c.confidence), source="recognizer", at=at,
                             image=frame, box=tuple(c.box), frame_size=frame_size)
            except Exception as exc:  # the read pipeline's problem: never kill the thread
                log.warning("recognizer: submit of %s at %s failed: %s", c.plate, cam_id, exc)
