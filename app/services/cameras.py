"""Camera settings from the console: test a source, save a camera and restart its feed.

The feeds live in the Core's `cameras` dict (shared with the camera wall and the
recognizer), so a saved camera's new feed replaces the old one in that same dict.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.domain.site import Camera, CameraRole
from app.services.ports import Audit

log = logging.getLogger(__name__)

AUDIT_SAVED = "camera_saved"
_SECRET = ("password", "push_token")


class CameraService:
    def __init__(self, cameras: MutableMapping[str, Any], *,
                 save: Callable[[Camera], Awaitable[None]],
                 make_feed: Callable[[Camera], Any],
                 probe: Callable[..., Any], audit: Audit,
                 on_saved: Callable[[Camera], None] | None = None) -> None:
        self._feeds = cameras
        self._save = save
        self._make_feed = make_feed
        self._probe = probe
        self._audit = audit
        self._on_saved = on_saved

    async def probe(self, source: str, settings: dict[str, Any],
                    timeout_s: float = 5.0) -> Any:
        """Open the source once and grab a frame, on a worker thread (it can take seconds)."""
        return await asyncio.to_thread(self._probe, source, dict(settings), timeout_s=timeout_s)

    async def save(self, actor: str, camera: Camera) -> Camera:
        """Store the camera (audited, secrets masked) and restart its feed with the new
        settings. ValueError for a camera without a name or source."""
        camera = dataclasses.replace(camera, name=camera.name.strip(),
                                     source=camera.source.strip(),
                                     role=CameraRole(camera.role))
        if not camera.name or not camera.source:
            raise ValueError("a camera needs a name and a source")
        old = self._feeds.get(camera.id)
        before = getattr(old, "camera", None)
        await self._save(camera)
        self._audit(actor, AUDIT_SAVED, f"camera:{camera.id}", {
            "source": camera.source, "role": str(camera.role),
            "settings": {k: ("***" if k in _SECRET and v else v)
                         for k, v in camera.settings.items()},
            "source_changed": before is None or before.source != camera.source})
        if (old is not None and before is not None and before.source == camera.source
                and camera.source.startswith("sim:")):
            # The simulator draws its cars on this very feed: keep it, with the new settings.
            old.camera = camera
            if self._on_saved is not None:
                self._on_saved(camera)
            return camera
        feed = self._make_feed(camera)
        if old is not None:
            await asyncio.to_thread(old.stop)  # joining a capture thread: not on the loop
        self._feeds[camera.id] = feed
        feed.start()
        if self._on_saved is not None:
            self._on_saved(camera)
        log.info("camera %s saved by %s; feed restarted", camera.id, actor,
                 extra={"event": AUDIT_SAVED, "camera_id": camera.id})
        return camera
