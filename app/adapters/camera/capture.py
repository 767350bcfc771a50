"""CameraFeed: one capture thread per real camera, keeping only the newest frame.

Same surface as app.sim.camera.SimCamera (`camera`, `id`, `start()`, `stop(timeout)`,
`latest()`, `set_online()`, `frames_produced`) plus `health()`, so the UI and the
recognizer treat simulated and real cameras alike.

- Sources (app.adapters.camera.sources): rtsp://, http(s):// MJPEG, http(s) snapshots
  (settings["mode"] = "snapshot", polled at settings["fps"]), usb:N and /dev/videoN, video
  files (looped at their own frame rate). settings["fps"] caps what a stream delivers.
- Reconnects with backoff: 1 s doubling to 30 s, reset by the first frame after an open.
- Health: measured fps (frames over the last few seconds), age of the newest frame,
  online flag, detail, frame count, consecutive failures and the current retry delay.
- Alarms on transitions only (Home Assistant's update coordinator style): WARNING once
  when the camera goes offline (or never came up), INFO once when it is back; each failed
  attempt in between is a DEBUG line. Every transition publishes
  app.domain.events.CameraHealthChanged.

Threading. The capture thread publishes. With `loop` given, the event is handed to that
loop with `loop.call_soon_threadsafe(publish, event)`, so bus subscribers (services, the
Qt bridge) always run on the asyncio thread, as they expect; without a loop (headless
tools, tests) `publish` is called on the capture thread. A closed loop (shutdown) drops the
event. `stop()` joins the thread with a timeout; a thread blocked in a read leaves by
itself once the read timeout (default 5 s) expires: OpenCV captures must not be released
from another thread while they read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from app.adapters.camera.sources import (
    FrameSource,
    SourceError,
    SourceSpec,
    open_source,
    parse_source,
)
from app.domain.events import CameraHealthChanged
from app.domain.site import Camera

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FeedHealth:
    online: bool
    fps: float  # measured: frames delivered per second over the last few seconds
    last_frame_age_s: float | None  # None: no frame yet
    detail: str
    frames: int  # delivered since start()
    failures: int = 0  # consecutive failed attempts (0 while online)
    retry_in_s: float | None = None  # the wait before the next attempt, while offline


class Backoff:
    """1 s, 2 s, 4 s ... up to `maximum`; `reset()` after a success."""

    def __init__(self, initial: float = 1.0, maximum: float = 30.0, factor: float = 2.0):
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class CameraFeed:
    def __init__(
        self,
        camera: Camera,
        publish: Callable[[Any], None] | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Clock = utc_now,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        fps_window_s: float = 3.0,
    ) -> None:
        self.camera = camera
        self.id = camera.id
        self.spec: SourceSpec = parse_source(camera.source, camera.settings)  # ValueError
        self._publish_fn = publish
        self._loop = loop
        self._clock = clock
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.backoff = Backoff(backoff_initial_s, backoff_max_s)
        self.fps_window_s = fps_window_s
        # Written by the capture thread; _latest is one reference swap (no tearing).
        self._latest: tuple[np.ndarray, datetime] | None = None
        self._lock = threading.Lock()  # guards the health fields below
        self._online: bool | None = None  # None: not known yet (starting)
        self._detail = "not started"
        self._frames = 0
        self._stamps: deque[float] = deque(maxlen=256)  # monotonic times of frames
        self._failures = 0
        self._retry_at: float | None = None
        self._offline_since: float | None = None
        self._enabled = True
        self._wake = threading.Event()  # set_online/stop interrupt a backoff wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control (any thread) -------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()  # a late-exiting old thread keeps its own
        with self._lock:
            self._detail = "connecting"
            self._frames = 0
            self._stamps.clear()
        self._thread = threading.Thread(target=self._run, args=(self._stop,),
                                        name=f"camera-{self.id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop capturing and join the thread (up to `timeout`; call it off the loop)."""
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.info("camera %s: the capture thread is still in a read; it ends by "
                         "itself within %g s", self.id, self.read_timeout_s)
        with self._lock:
            self._online = None
            self._detail = "stopped"
            self._retry_at = None

    def set_online(self, online: bool) -> None:
        """Take the camera out of service (no connection, no frames) or back in."""
        self._enabled = online
        self._wake.set()

    def latest(self) -> tuple[np.ndarray, datetime] | None:
        """The newest frame (BGR, read-only) and when it was captured (UTC); after a loss
        of signal the last frame stays here: check health() for its age."""
        return self._latest

    @property
    def frames_produced(self) -> int:
        return self._frames

    def health(self) -> FeedHealth:
        now = time.monotonic()
        with self._lock:
            stamps = [t for t in self._stamps if t >= now - self.fps_window_s]
            age = now - self._stamps[-1] if self._stamps else None
            retry = max(0.0, self._retry_at - now) if self._retry_at is not None else None
            return FeedHealth(
                online=bool(self._online),
                fps=self._fps(stamps),
                last_frame_age_s=age,
                detail=self._detail,
                frames=self._frames,
                failures=self._failures,
                retry_in_s=retry,
            )

    @staticmethod
    def _fps(stamps: list[float]) -> float:
        if len(stamps) < 2 or stamps[-1] <= stamps[0]:
            return 0.0
        return (len(stamps) - 1) / (stamps[-1] - stamps[0])

    # -- capture thread -------------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                if not self._enabled:
                    self._transition(False, "taken out of service", problem=False)
                    self._wait(stop, None, until_enabled=True)
                    continue
                failure = self._attempt(stop)
                if failure is None or stop.is_set():
                    continue
                delay = self.backoff.next()
                with self._lock:
                    self._failures += 1
                    self._retry_at = time.monotonic() + delay
                    failures = self._failures
                self._transition(False, failure)
                log.debug("camera %s: attempt %d failed (%s); next in %g s", self.id,
                          failures, failure, delay)
                self._wait(stop, delay)
                with self._lock:
                    self._retry_at = None
        except Exception:  # a bug, not a device problem: say so once, loudly
            log.exception("camera %s: the capture thread failed", self.id)
            self._transition(False, "capture thread failed (see the log)", problem=False)

    def _wait(self, stop: threading.Event, delay: float | None, *,
              until_enabled: bool = False) -> None:
        """Sleep `delay` (None: until woken); stop() and set_online() wake it early."""
        self._wake.clear()  # cleared before the checks: a wake-up in between is kept
        if stop.is_set() or (until_enabled and self._enabled):
            return
        self._wake.wait(delay)

    def _attempt(self, stop: threading.Event) -> str | None:
        """Open, then deliver frames until stopped or the source fails. Returns the failure
        detail, or None when it ended because of stop/set_online(False)."""
        try:
            source = open_source(self.spec, self.open_timeout_s, self.read_timeout_s)
        except SourceError as exc:
            return str(exc)
        try:
            return self._stream(source, stop)
        except SourceError as exc:
            return str(exc)
        finally:
            source.close()

    def _stream(self, source: FrameSource, stop: threading.Event) -> None:
        period = source.period  # files and snapshot polls are paced; live streams pace us
        cap = None
        if source.period is None or self.spec.kind == "file":
            cap_fps = self.spec.max_fps
            cap = 1.0 / cap_fps if cap_fps else None
        # A live stream counts as up from its second frame: a URL that serves one picture
        # and ends must not flap online/offline on every attempt.
        needed = 2 if source.period is None else 1
        delivered = 0
        next_at = time.monotonic()
        last_delivered = float("-inf")
        while not stop.is_set() and self._enabled:
            if period is not None:
                delay = next_at - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
                next_at += period
                if next_at < time.monotonic() - period:  # fell behind: skip, no burst
                    next_at = time.monotonic()
            now = time.monotonic()
            want = cap is None or now - last_delivered >= cap * 0.95
            frame = source.next_frame(want)
            if frame is None:
                continue
            if stop.is_set():  # stopped during the read: say nothing more
                break
            last_delivered = now
            delivered += 1
            self._deliver(frame, source, confirmed=delivered >= needed)

    def _deliver(self, frame: np.ndarray, source: FrameSource, *, confirmed: bool) -> None:
        frame.flags.writeable = False  # shared with every reader: nobody draws on it
        self._latest = (frame, self._clock())
        with self._lock:
            self._frames += 1
            self._stamps.append(time.monotonic())
            came_up = confirmed and not self._online
            if confirmed:
                self._failures = 0
        if came_up:
            self.backoff.reset()
            h, w = frame.shape[:2]
            fps = f"{source.nominal_fps:.3g} fps" if source.nominal_fps else "fps unknown"
            via = " ".join(p for p in (source.codec, "via", source.backend) if p)
            self._transition(True, f"{w}x{h}, {fps}, {via}")

    # -- transitions ----------------------------------------------------------------------

    def _transition(self, online: bool, detail: str, *, problem: bool = True) -> None:
        """Record the state; log and publish only when `online` changes (or is first known)."""
        now = time.monotonic()
        with self._lock:
            before = self._online
            self._detail = detail
            if before is online:
                return
            self._online = online
            offline_since, self._offline_since = self._offline_since, (None if online else now)
        name = f"{self.id} ({self.camera.name})"
        if online and before is None:
            log.info("camera %s online: %s", name, detail)
        elif online:
            down = f" after {now - offline_since:.0f} s" if offline_since is not None else ""
            log.info("camera %s back online%s: %s", name, down, detail)
        elif problem:
            log.warning("camera %s offline: %s (retrying in the background)", name, detail)
        else:
            log.info("camera %s offline: %s", name, detail)
        self._emit(CameraHealthChanged(self._clock(), self.id, online, detail))

    def _emit(self, event: CameraHealthChanged) -> None:
        publish = self._publish_fn
        if publish is None:
            return
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(publish, event)
            except RuntimeError:  # the loop is closed: shutting down
                log.debug("camera %s: loop closed, %r dropped", self.id, event)
            return
        try:
            publish(event)
        except Exception:
            log.warning("camera %s: publishing %r failed", self.id, event, exc_info=True)


def health_of(feed: Any, stale_after_s: float = 3.0) -> FeedHealth:
    """FeedHealth of any feed: its own health() when it has one (CameraFeed), else derived
    from latest() and frames_produced (app.sim.camera.SimCamera)."""
    health = getattr(feed, "health", None)
    if callable(health):
        result = health()
        if isinstance(result, FeedHealth):
            return result
    latest = feed.latest()
    age = (utc_now() - latest[1]).total_seconds() if latest is not None else None
    online = age is not None and age <= stale_after_s
    fps = float(getattr(feed, "fps", 0.0)) if online else 0.0
    return FeedHealth(online, fps, age, "simulated" if online else "no frames",
                      int(getattr(feed, "frames_produced", 0)))


# --- probe: the settings dialog's Test button ---------------------------------------------

@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0  # measured over up to ~1 s on a live stream, else the nominal rate
    detail: str = ""


def probe(source: str, settings: dict[str, Any] | None = None,
          timeout_s: float = 5.0) -> ProbeResult:
    """Open a source once, grab a frame (and on a live stream, time a few more for up to
    1 s) and close it. Blocks for up to about `timeout_s` + 1 s: call it from a worker
    thread. Never raises for a bad source: ok=False with a detail for the operator."""
    try:
        spec = parse_source(source, settings or {})
    except ValueError as exc:
        return ProbeResult(False, detail=str(exc))
    started = time.monotonic()
    try:
        src = open_source(spec, timeout_s, timeout_s)
    except SourceError as exc:
        return ProbeResult(False, detail=str(exc))
    try:
        frame = src.next_frame(True)
        assert frame is not None
        height, width = frame.shape[:2]
        fps = src.nominal_fps
        if src.period is None:  # live: count the frames that arrive within a second
            first = time.monotonic()
            budget = min(1.0, max(0.0, timeout_s - (first - started)))
            count, last = 0, first
            while count < 25 and time.monotonic() - first < budget:
                src.next_frame(False)
                count, last = count + 1, time.monotonic()
            if count >= 2 and last > first:
                fps = count / (last - first)
    except SourceError as exc:
        return ProbeResult(False, detail=str(exc))
    finally:
        src.close()
    # Size and rate are fields (the dialog prints them); the detail says how it is read.
    detail = " ".join(p for p in (src.codec, "via", src.backend) if p)
    log.info("camera probe %s: %dx%d, %.3g fps, %s", spec.display, width, height, fps, detail)
    return ProbeResult(True, width, height, round(fps, 2), detail)
