"""Real cameras: capture threads (capture.py) over OpenCV / urllib sources (sources.py),
and the other camera adapters of this package.

    from app.adapters.camera.capture import CameraFeed, probe
    feed = CameraFeed(camera, bus.publish, loop=asyncio.get_running_loop())
    feed.start(); feed.latest(); feed.health(); feed.stop()
    probe("rtsp://10.0.0.5/stream1", {"rtsp_transport": "tcp"})  # from a worker thread

The names below are loaded lazily, so importing a sibling module (an ANPR push receiver)
does not pull in OpenCV.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Backoff": "capture",
    "CameraFeed": "capture",
    "FeedHealth": "capture",
    "health_of": "capture",
    "ProbeResult": "capture",
    "probe": "capture",
    "SourceError": "sources",
    "SourceSpec": "sources",
    "parse_source": "sources",
    "quiet_native_logs": "sources",
    "redact": "sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
