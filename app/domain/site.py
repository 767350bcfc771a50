"""The site as configured: zones, bays, lanes, chargers, cameras, barriers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class OcppVersion(StrEnum):
    V16 = "1.6"
    V201 = "2.0.1"

    @property
    def subprotocol(self) -> str:
        return "ocpp1.6" if self is OcppVersion.V16 else "ocpp2.0.1"


class LaneDirection(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class CameraRole(StrEnum):
    LANE = "lane"
    BAY = "bay"


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    name: str
    capacity: int = 0


@dataclass(frozen=True, slots=True)
class ChargerConfig:
    id: str
    ocpp_version: OcppVersion = OcppVersion.V16
    connectors: int = 2
    label: str = ""
    max_power_w: int = 22_000


@dataclass(frozen=True, slots=True)
class Camera:
    """`source`: rtsp://…, http(s)://… (MJPEG stream, or a snapshot URL with
    settings["mode"] = "snapshot"), usb:N / /dev/videoN, a video file path, or sim:….
    `settings`: rtsp_transport (tcp|udp), username/password, mode (snapshot), fps, roi
    [x, y, w, h] (0..1 of the frame), country, recognizer (on|off), recognizer_fps, slots
    (bay cameras: [x0, x1] per bay), and for ANPR push receivers push_token, device_id,
    ip, channel."""

    id: str
    name: str
    role: CameraRole
    source: str = "sim:"
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Barrier:
    id: str
    name: str
    driver: str = "sim"
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True, slots=True)
class Bay:
    id: str
    label: str
    zone_id: str
    charger_id: str | None = None
    connector_id: int | None = None
    camera_id: str | None = None
    # Position on the site map, in bay widths (the view scales it).
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True, slots=True)
class Lane:
    id: str
    name: str
    zone_id: str
    direction: LaneDirection
    camera_id: str | None = None
    barrier_id: str | None = None


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    currency: str = "EUR"
    timezone: str = "UTC"
    zones: tuple[Zone, ...] = ()
    chargers: tuple[ChargerConfig, ...] = ()
    cameras: tuple[Camera, ...] = ()
    barriers: tuple[Barrier, ...] = ()
    bays: tuple[Bay, ...] = ()
    lanes: tuple[Lane, ...] = ()

    def charger(self, charger_id: str) -> ChargerConfig | None:
        return next((c for c in self.chargers if c.id == charger_id), None)

    def bay_for(self, charger_id: str, connector_id: int) -> Bay | None:
        return next(
            (b for b in self.bays if b.charger_id == charger_id and b.connector_id == connector_id),
            None,
        )

    def validate(self) -> list[str]:
        """Problems that make the site unusable, in words an installer understands."""
        problems: list[str] = []
        zone_ids = {z.id for z in self.zones}
        chargers = {c.id: c for c in self.chargers}
        cameras = {c.id for c in self.cameras}
        barriers = {b.id for b in self.barriers}
        for kind, items in (
            ("zone", self.zones),
            ("charger", self.chargers),
            ("camera", self.cameras),
            ("barrier", self.barriers),
            ("bay", self.bays),
            ("lane", self.lanes),
        ):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    problems.append(f"{kind} id {item.id!r} is used twice")
                seen.add(item.id)
        taken: set[tuple[str, int]] = set()
        for bay in self.bays:
            if bay.zone_id not in zone_ids:
                problems.append(f"bay {bay.id}: unknown zone {bay.zone_id!r}")
            if bay.camera_id and bay.camera_id not in cameras:
                problems.append(f"bay {bay.id}: unknown camera {bay.camera_id!r}")
            if bay.charger_id is None:
                continue
            charger = chargers.get(bay.charger_id)
            if charger is None:
                problems.append(f"bay {bay.id}: unknown charger {bay.charger_id!r}")
            elif bay.connector_id is None or not 1 <= bay.connector_id <= charger.connectors:
                problems.append(
                    f"bay {bay.id}: charger {charger.id} has no connector {bay.connector_id}"
                )
            elif (bay.charger_id, bay.connector_id) in taken:
                problems.append(
                    f"bay {bay.id}: connector {bay.charger_id}/{bay.connector_id} "
                    "is already bound to another bay"
                )
            else:
                taken.add((bay.charger_id, bay.connector_id))
        for lane in self.lanes:
            if lane.zone_id not in zone_ids:
                problems.append(f"lane {lane.id}: unknown zone {lane.zone_id!r}")
            if lane.camera_id and lane.camera_id not in cameras:
                problems.append(f"lane {lane.id}: unknown camera {lane.camera_id!r}")
            if lane.barrier_id and lane.barrier_id not in barriers:
                problems.append(f"lane {lane.id}: unknown barrier {lane.barrier_id!r}")
        return problems
