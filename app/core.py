"""The Core facade: what the UI and the CLI may touch. Built by app.bootstrap."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app import __version__
from app.config import Settings
from app.domain.site import Site
from app.services.bus import EventBus
from app.services.charging import ChargingService

log = logging.getLogger(__name__)


@dataclass
class Core:
    settings: Settings
    bus: EventBus
    site: Site
    charging: ChargingService
    # Started in order by start(), stopped in reverse by stop(); each is (name, start, stop).
    _parts: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = field(
        default_factory=list
    )
    barriers: dict[str, Any] = field(default_factory=dict)
    cameras: dict[str, Any] = field(default_factory=dict)
    ocpp_server: Any = None
    ocpp_url: str = ""
    # OCPP services (wired by app.bootstrap): TransactionService, the ChargerGateway,
    # CommandService (gateway + audit trail) and the per-charger FrameLog.
    transactions: Any = None
    gateway: Any = None
    commands: Any = None
    frames: Any = None
    audit: Any = None
    # Accounts, credentials, permits and the one decision (app.services.access).
    access: Any = None
    local_lists: Any = None  # app.services.local_lists.LocalListSync
    # Lanes and the manual barrier override (app.services.lanes.LaneService).
    lanes: Any = None
    # Reads at the lanes, parking sessions, anti-passback, occupancy (app.services.gate).
    gate: Any = None
    # Plate reads pipeline (app.services.reads) and the camera-side ANPR push receiver.
    reads: Any = None
    # Plate <-> bay <-> charger <-> transaction bindings and the binding queue
    # (app.services.binding).
    binding: Any = None
    # Camera settings from the console (app.services.cameras.CameraService).
    camera_service: Any = None
    # Charging finished and idling (app.services.idle.IdleWatcher).
    idle: Any = None
    # Bills (app.services.billing) and enforcement: violations, ladder (services.enforcement).
    billing: Any = None
    enforcement: Any = None
    # Staff accounts and supervisor approval (app.services.staff.StaffService).
    staff: Any = None
    # The built-in plate recognizer's worker thread (app.services.recognition).
    recognition: Any = None
    push_server: Any = None
    # The database writer thread (app.adapters.db.writer.DbWriter): tests and tools that
    # need the core's own connection.
    writer: Any = None
    version: str = __version__
    _started: list[str] = field(default_factory=list)

    def add_part(
        self,
        name: str,
        start: Callable[[], Awaitable[Any]],
        stop: Callable[[], Awaitable[Any]],
    ) -> None:
        self._parts.append((name, start, stop))

    async def approve_charger(self, charger_id: str, actor: str) -> Any:
        """Approve a pending charger and ask it to boot again, so it is accepted now
        rather than at its next retry. Returns the TriggerMessage result, if one was sent."""
        self.charging.approve(charger_id, actor)
        if self.commands is None or self.ocpp_server is None:
            return None
        if charger_id not in self.ocpp_server.connected_ids():
            return None
        return await self.commands.trigger_message(actor, charger_id, "BootNotification")

    async def probe_camera(self, source: str, settings: dict, timeout_s: float = 5.0) -> Any:
        """Open a camera source once and grab a frame (the settings dialog's Test)."""
        return await self.camera_service.probe(source, settings, timeout_s)

    async def save_camera(self, actor: str, camera: Any) -> Any:
        """Store a camera's settings (audited) and restart its feed."""
        return await self.camera_service.save(actor, camera)

    async def start(self) -> None:
        for name, start, _ in self._parts:
            await start()
            self._started.append(name)
            log.debug("started %s", name)

    async def stop(self) -> None:
        """Stop what was started, newest first; one failing part does not stop the rest."""
        stops = {name: stop for name, _, stop in self._parts}
        while self._started:
            name = self._started.pop()
            try:
                await asyncio.wait_for(stops[name](), timeout=10)
            except Exception:
                log.exception("stopping %s failed", name)
        log.info("core stopped", extra={"event": "core_stopped"})
