"""Frame sources behind a camera feed: what a `Camera.source` string means and how to read
it with OpenCV (RTSP, HTTP MJPEG, USB/V4L2, video files) or urllib (HTTP snapshots).

A source is used by one thread at a time (the feed's capture thread, or probe()'s worker):

    src = open_source(spec, open_timeout_s=5, read_timeout_s=5)  # raises SourceError
    frame = src.next_frame(want=True)   # blocks until the next frame; None if not wanted
    src.close()

Every blocking call is bounded: FFMPEG opens and reads by CAP_PROP_OPEN_TIMEOUT_MSEC /
CAP_PROP_READ_TIMEOUT_MSEC (measured: both hold for HTTP and RTSP, a stalled server gives
up after the timeout, and every read after a timed-out one fails at once), snapshots by
the urllib socket timeout. Nothing here logs above DEBUG: the feed decides what to say.

RTSP transport. FFMPEG reads its per-open options from the process-wide environment
variable OPENCV_FFMPEG_CAPTURE_OPTIONS (getenv inside each open, measured; OpenCV 4.14
has no per-capture way to pass them). `ffmpeg_options()` is the one gate every RTSP open
in this process goes through: opens that need the same value run concurrently, an open
that needs another value waits until those have returned (first come, first served, so
none starves); the environment's value is put back once no open is in flight (the
variable is created at import and never removed: see _ensure_variable). A value the
installer set in the environment is kept, with only rtsp_transport overridden. HTTP and
file opens skip the gate (those options are RTSP-only). Only the open reads the variable:
reads run freely.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import cv2
import numpy as np

ENV_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
# What OpenCV applies itself when the variable is unset: so setting it changes nothing.
OPENCV_DEFAULT_OPTIONS = "rtsp_flags;prefer_tcp"
DEFAULT_SNAPSHOT_FPS = 2.0
MAX_SNAPSHOT_BYTES = 16 * 2**20
_FILE_FALLBACK_FPS = 25.0


class SourceError(Exception):
    """The source cannot deliver; `str(exc)` is a detail fit for an operator."""


# --- what a source string means -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SourceSpec:
    """kind: rtsp | mjpeg | snapshot | usb | file. `target`: the URL with credentials, the
    device index or path, or the file path. `display`: the same without the password."""

    kind: str
    target: str | int
    display: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_ffmpeg(self) -> bool:
        return self.kind in ("rtsp", "mjpeg", "file")

    @property
    def max_fps(self) -> float | None:
        """settings["fps"]: the poll rate of a snapshot camera; a cap on the frames a
        stream or file delivers (the rest are grabbed but not converted)."""
        value = self.settings.get("fps")
        try:
            fps = float(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None
        return fps if fps and fps > 0 else None


def redact(url: str) -> str:
    """The URL with its password replaced by ***, for logs and details."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _with_credentials(url: str, settings: Mapping[str, Any]) -> str:
    """settings username/password go into the URL (percent-encoded: FFMPEG decodes them)
    unless the URL carries its own."""
    user = str(settings.get("username") or "")
    if not user:
        return url
    parts = urlsplit(url)
    if parts.username:
        return url
    password = str(settings.get("password") or "")
    userinfo = quote(user, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{parts.netloc}", parts.path, parts.query,
                       parts.fragment))


def parse_source(source: str, settings: Mapping[str, Any] | None = None) -> SourceSpec:
    """Camera.source -> SourceSpec. Raises ValueError for what this adapter does not read
    (sim:, unknown schemes)."""
    settings = dict(settings or {})
    text = source.strip()
    lower = text.lower()
    if lower.startswith("sim:"):
        raise ValueError("sim: cameras are simulated (app.sim.camera), not captured")
    if lower.startswith("usb:"):
        index = text[4:].strip()
        if not index.isdigit():
            raise ValueError(f"usb: needs a device number (usb:0), got {source!r}")
        return SourceSpec("usb", int(index), text, settings)
    if lower.startswith("/dev/video"):
        return SourceSpec("usb", text, text, settings)
    if lower.startswith(("rtsp://", "rtsps://")):
        url = _with_credentials(text, settings)
        return SourceSpec("rtsp", url, redact(url), settings)
    if lower.startswith(("http://", "https://")):
        url = _with_credentials(text, settings)
        kind = "snapshot" if str(settings.get("mode", "")).lower() == "snapshot" else "mjpeg"
        target = text if kind == "snapshot" else url  # urllib gets credentials separately
        return SourceSpec(kind, target, redact(url), settings)
    if lower.startswith("file://"):
        text = unquote(urlsplit(text).path)
    elif "://" in text:
        raise ValueError(f"unsupported camera source scheme: {redact(text)}")
    return SourceSpec("file", text, text, settings)


# --- the FFMPEG options gate ----------------------------------------------------------------

class _OptionsGate:
    """Opens needing the same options overlap; different options take turns, first come
    first served (an open queued behind one with other options waits its turn)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._value: str | None = None  # what the in-flight opens need
        self._base: str | None = None  # the environment's own value, restored when idle
        self._queue: list[list[str | None]] = []

    @contextmanager
    def hold(self, spec: SourceSpec) -> Iterator[None]:
        with self._cond:
            base = self._base if self._active else os.environ.get(ENV_OPTIONS)
            value = ffmpeg_option_value(spec, base)
            entry = [value]
            self._queue.append(entry)
            while not self._may_go(entry):
                self._cond.wait()
            self._queue.remove(entry)
            if self._active == 0:
                self._base = os.environ.get(ENV_OPTIONS)
                self._value = value
                os.environ[ENV_OPTIONS] = value if value is not None else (
                    self._base or OPENCV_DEFAULT_OPTIONS)
            self._active += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    # Never unset: see _ensure_variable().
                    os.environ[ENV_OPTIONS] = self._base or OPENCV_DEFAULT_OPTIONS
                    self._cond.notify_all()

    def _may_go(self, entry: list[str | None]) -> bool:
        value = entry[0]
        for ahead in self._queue:
            if ahead is entry:
                break
            if ahead[0] != value:
                return False
        return self._active == 0 or self._value == value


_GATE = _OptionsGate()


def _ensure_variable() -> None:
    """Create the variable once, at import (before any capture thread runs), with the value
    OpenCV would use anyway. Later changes then only replace its value in place: glibc's
    setenv() reallocates the environment array when it *adds* a name, which is not safe
    while another thread's FFMPEG open calls getenv(); replacing a value is."""
    os.environ.setdefault(ENV_OPTIONS, OPENCV_DEFAULT_OPTIONS)


_ensure_variable()


def ffmpeg_option_value(spec: SourceSpec, base: str | None = None) -> str | None:
    """The OPENCV_FFMPEG_CAPTURE_OPTIONS value an open of this source needs, given the
    environment's own value `base` (None: the environment's own value, or OpenCV's
    default rtsp_flags=prefer_tcp)."""
    if spec.kind != "rtsp":
        return None
    transport = str(spec.settings.get("rtsp_transport") or "").strip().lower()
    if transport not in ("tcp", "udp", "http", "udp_multicast"):
        return None
    pairs = [p for p in (base or "").split("|")
             if p and p != OPENCV_DEFAULT_OPTIONS and not p.startswith("rtsp_transport;")]
    pairs.append(f"rtsp_transport;{transport}")
    return "|".join(pairs)


@contextmanager
def ffmpeg_options(spec: SourceSpec) -> Iterator[None]:
    """Hold this around every cv2.VideoCapture(..., CAP_FFMPEG) open in the process. Only
    RTSP opens take part: the options an HTTP or file open would read are RTSP-only."""
    if spec.kind != "rtsp":
        yield
        return
    with _GATE.hold(spec):
        yield


# --- sources ----------------------------------------------------------------------------------

class FrameSource:
    """One opened source. `period`: seconds between frames the reader should pace to
    (files at their own rate, snapshot polls), None for live streams (frames pace us)."""

    period: float | None = None
    width = 0
    height = 0
    nominal_fps = 0.0
    codec = ""
    backend = ""

    def next_frame(self, want: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _fourcc(value: float) -> str:
    code = int(value)
    if code <= 0:
        return ""
    text = "".join(chr((code >> 8 * i) & 0xFF) for i in range(4))
    return text.strip("\x00 ") if text.isprintable() else ""


class OpenCvSource(FrameSource):
    """RTSP / HTTP MJPEG / video file through FFMPEG, USB through V4L2 (or the platform's
    default backend elsewhere)."""

    def __init__(self, spec: SourceSpec, open_timeout_s: float, read_timeout_s: float) -> None:
        self.spec = spec
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self._cap: cv2.VideoCapture | None = None
        self._since_rewind = 0
        self._frames_read = 0

    def open(self) -> None:
        spec = self.spec
        if spec.kind == "file" and not Path(str(spec.target)).is_file():
            raise SourceError(f"video file not found: {spec.target}")
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)]
        started = time.monotonic()
        try:
            if spec.is_ffmpeg:
                with ffmpeg_options(spec):
                    cap = cv2.VideoCapture(str(spec.target), cv2.CAP_FFMPEG, params)
            else:  # the timeouts are FFMPEG/GStreamer-only: V4L2 would refuse to open
                backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
                cap = cv2.VideoCapture(spec.target, backend)
        except cv2.error as exc:
            raise SourceError(f"{spec.display}: OpenCV could not open it ({exc})") from exc
        if not cap.isOpened():
            cap.release()
            raise SourceError(self._open_failure(time.monotonic() - started))
        self._cap = cap
        if spec.kind == "usb":
            self._configure_usb(cap)
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.nominal_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.codec = _fourcc(cap.get(cv2.CAP_PROP_FOURCC))
        self.backend = cap.getBackendName()
        if spec.kind == "file":
            fps = self.nominal_fps if 0 < self.nominal_fps <= 240 else _FILE_FALLBACK_FPS
            self.period = 1.0 / fps

    def _configure_usb(self, cap: cv2.VideoCapture) -> None:
        settings = self.spec.settings
        for key, prop in (("width", cv2.CAP_PROP_FRAME_WIDTH),
                          ("height", cv2.CAP_PROP_FRAME_HEIGHT), ("fps", cv2.CAP_PROP_FPS)):
            if settings.get(key):
                cap.set(prop, float(settings[key]))

    def _open_failure(self, took_s: float) -> str:
        spec = self.spec
        if took_s >= self.open_timeout_s * 0.9:
            return f"{spec.display}: no answer within {self.open_timeout_s:g} s"
        if spec.kind == "usb":
            return f"{spec.display}: no such video device, or it is in use"
        if spec.kind == "file":
            return f"{spec.display}: not a readable video file"
        if spec.kind == "mjpeg":
            return f"{spec.display}: {diagnose_http(spec, self.open_timeout_s)}"
        return f"{spec.display}: {diagnose_tcp(str(spec.target), 554, self.open_timeout_s)}"

    def next_frame(self, want: bool = True) -> np.ndarray | None:
        cap = self._cap
        if cap is None:
            raise SourceError("not open")
        try:
            ok = cap.grab()
            if not ok and self.spec.kind == "file" and self._since_rewind > 0:
                # The end of the clip: loop it (a failed rewind or read means a bad file).
                self._since_rewind = 0
                ok = cap.set(cv2.CAP_PROP_POS_FRAMES, 0) and cap.grab()
            if not ok:
                raise SourceError(self._read_failure())
            self._since_rewind += 1
            self._frames_read += 1
            if not want:
                return None
            ok, frame = cap.retrieve()
        except cv2.error as exc:
            raise SourceError(f"{self.spec.display}: decoding failed ({exc})") from exc
        if not ok or frame is None:
            raise SourceError(f"{self.spec.display}: a frame could not be decoded")
        return frame

    def _read_failure(self) -> str:
        if self.spec.kind == "file":
            return f"{self.spec.display}: no frames could be read"
        if self.spec.kind == "mjpeg" and self._frames_read <= 1:  # e.g. one JPEG, then EOF
            return f"{self.spec.display}: {diagnose_http(self.spec, self.open_timeout_s)}"
        return (f"{self.spec.display}: the stream ended or sent nothing for "
                f"{self.read_timeout_s:g} s")

    def close(self) -> None:
        if self._cap is not None:
            cap, self._cap = self._cap, None
            cap.release()


def _opener(settings: Mapping[str, Any], url: str) -> urllib.request.OpenerDirector:
    """urllib with the camera's credentials and TLS policy.

    TLS: like FFMPEG (which does not verify by default), certificates are not verified
    unless settings["verify_tls"] is true: cameras on a site LAN nearly always present
    self-signed certificates."""
    handlers: list[urllib.request.BaseHandler] = []
    if not settings.get("verify_tls"):
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    user = str(settings.get("username") or "")
    parts = urlsplit(url)
    if user:
        password = str(settings.get("password") or "")
    elif parts.username:
        user, password = unquote(parts.username), unquote(parts.password or "")
    else:
        return urllib.request.build_opener(*handlers)
    # Basic is sent up front (many cameras never challenge); a Digest challenge is answered
    # by the digest handler (it runs first and ignores Basic challenges).
    manager = urllib.request.HTTPPasswordMgrWithPriorAuth()
    manager.add_password(None, _without_userinfo(url), user, password, is_authenticated=True)
    handlers += [urllib.request.HTTPBasicAuthHandler(manager),
                 urllib.request.HTTPDigestAuthHandler(manager)]
    return urllib.request.build_opener(*handlers)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query,
                       parts.fragment))


def _http_problem(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 401:
            return "HTTP 401 Unauthorized (check the user name and password)"
        if exc.code == 403:
            return "HTTP 403 Forbidden (the user may lack the right to view video)"
        if exc.code == 404:
            return "HTTP 404 Not Found (check the path)"
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (camera off, or wrong port)"
    if isinstance(exc, TimeoutError):
        return "no answer (timeout)"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return f"{type(exc).__name__}: {exc}"


class SnapshotSource(FrameSource):
    """Polls a JPEG snapshot URL at settings["fps"] (default 2) with basic or digest auth."""

    def __init__(self, spec: SourceSpec, open_timeout_s: float, read_timeout_s: float) -> None:
        self.spec = spec
        self.timeout_s = max(open_timeout_s, read_timeout_s)
        self.period = 1.0 / (spec.max_fps or DEFAULT_SNAPSHOT_FPS)
        self.nominal_fps = 1.0 / self.period
        self.backend = "HTTP"
        self.codec = "JPEG"
        self._opener = _opener(spec.settings, str(spec.target))
        self._url = _without_userinfo(str(spec.target))
        self._first: np.ndarray | None = None

    def open(self) -> None:
        self._first = self._fetch()
        self.height, self.width = self._first.shape[:2]

    def _fetch(self) -> np.ndarray:
        try:
            with self._opener.open(self._url, timeout=self.timeout_s) as response:
                kind = response.headers.get("Content-Type", "")
                if kind.startswith("multipart/"):
                    raise SourceError(f"{self.spec.display}: the URL serves a stream "
                                      f"({kind.split(';')[0]}), not a snapshot: clear "
                                      "snapshot mode")
                body = response.read(MAX_SNAPSHOT_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SourceError(f"{self.spec.display}: {_http_problem(exc)}") from exc
        if len(body) > MAX_SNAPSHOT_BYTES:
            raise SourceError(f"{self.spec.display}: the answer is larger than "
                              f"{MAX_SNAPSHOT_BYTES // 2**20} MB: not a snapshot")
        image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR) if body else None
        if image is None:
            raise SourceError(f"{self.spec.display}: the answer is not an image "
                              f"({kind or 'no content type'}, {len(body)} bytes)")
        return image

    def next_frame(self, want: bool = True) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        return self._fetch()


def open_source(spec: SourceSpec, open_timeout_s: float = 5.0,
                read_timeout_s: float = 5.0) -> FrameSource:
    """An opened source (raises SourceError with an operator-fit detail)."""
    source: FrameSource
    if spec.kind == "snapshot":
        source = SnapshotSource(spec, open_timeout_s, read_timeout_s)
        source.open()
        return source
    source = OpenCvSource(spec, open_timeout_s, read_timeout_s)
    source.open()
    return source


# --- explaining failures ----------------------------------------------------------------------

def diagnose_tcp(url: str, default_port: int, timeout_s: float) -> str:
    """Why an RTSP open failed, as far as a TCP connect can tell."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=min(timeout_s, 3.0)):
            pass
    except ConnectionRefusedError:
        return "connection refused (camera off, or wrong port)"
    except TimeoutError:
        return "no answer (timeout)"
    except socket.gaierror as exc:
        return f"unknown host ({exc.strerror})"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return ("the camera answers but the stream could not be opened "
            "(check the path, the user name and password, and the codec)")


def diagnose_http(spec: SourceSpec, timeout_s: float) -> str:
    """Why FFMPEG could not open an HTTP stream: one GET, headers only."""
    url = str(spec.target)
    try:
        opener = _opener(spec.settings, url)
        with opener.open(_without_userinfo(url), timeout=min(timeout_s, 3.0)) as response:
            kind = response.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return _http_problem(exc)
    if kind.startswith("image/"):
        return f"the URL serves a single picture ({kind}): set mode to snapshot"
    if kind.startswith("multipart/"):
        return f"the stream ({kind}) could not be decoded"
    return f"not a video stream ({kind or 'no content type'})"


def quiet_native_logs() -> None:
    """Keep OpenCV's and FFMPEG's own stderr lines (a WARN per failed open, "Connection
    refused", "Stream timeout triggered") out of the console's output: our feed already
    reports each outage once in the log. Process-wide: call it once at start-up, on the
    main thread, before the first capture opens (FFMPEG reads its level on first use)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
