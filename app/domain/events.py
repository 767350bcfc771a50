"""Domain events: what happened, published on the bus, consumed by UI, log and services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.domain.charging import ChargerIdentity, ConnectorStatus, RegistrationStatus
from app.domain.site import OcppVersion


@dataclass(frozen=True, slots=True)
class Event:
    at: datetime


@dataclass(frozen=True, slots=True)
class ChargerConnected(Event):
    charger_id: str
    ocpp_version: OcppVersion
    remote: str
    known: bool


@dataclass(frozen=True, slots=True)
class ChargerDisconnected(Event):
    charger_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class ChargerBooted(Event):
    charger_id: str
    identity: ChargerIdentity
    registration: RegistrationStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class HeartbeatReceived(Event):
    charger_id: str


@dataclass(frozen=True, slots=True)
class ConnectorStatusChanged(Event):
    charger_id: str
    connector_id: int
    status: ConnectorStatus
    previous: ConnectorStatus
    error_code: str = "NoError"
    # The charger's own timestamp, kept as sent even when its clock is wrong.
    charger_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class BarrierStateChanged(Event):
    barrier_id: str
    state: str
    previous: str


@dataclass(frozen=True, slots=True)
class VehiclePresenceChanged(Event):
    """The lane's vehicle loop (an input of its barrier's I/O module) changed."""

    barrier_id: str
    present: bool


@dataclass(frozen=True, slots=True)
class CameraHealthChanged(Event):
    camera_id: str
    online: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TransactionStarted(Event):
    charger_id: str
    connector_id: int
    transaction_id: int
    id_token: str
    offline: bool = False


@dataclass(frozen=True, slots=True)
class TransactionEnded(Event):
    charger_id: str
    connector_id: int
    transaction_id: int
    energy_wh: float | None
    reason: str
    orphan: bool = False


@dataclass(frozen=True, slots=True)
class MeterUpdated(Event):
    """Live reading of a connector: what the charger panel and the map show."""

    charger_id: str
    connector_id: int
    transaction_id: int | None
    power_w: float | None
    energy_wh: float | None  # of the session, when there is one
    soc_pct: float | None = None


@dataclass(frozen=True, slots=True)
class ChargerNotice(Event):
    """A protocol fact worth an operator's attention (quirk, rejected login, odd clock)."""

    charger_id: str
    kind: str
    detail: str


# ---- Access and lanes -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlateRead(Event):
    """A plate recognised by a camera (lane or bay). `plate` is as read, not normalized.
    From the read pipeline (app.services.reads) also: where it came from, the evidence
    snapshot (a JPEG path under the data folder) and its plate_reads row."""

    camera_id: str
    plate: str
    confidence: float = 1.0
    source: str = ""  # isapi | itsapi | webhook | recognizer | sim | attendant
    snapshot: str = ""
    read_id: int | None = None
    # Where in the frame (x, y, w, h pixels) and the frame's (w, h): a camera that covers
    # several bays tells them apart by position.
    box: tuple[int, int, int, int] | None = None
    frame_size: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class CardPresented(Event):
    """A card/tag at a lane reader (or typed in by the attendant)."""

    lane_id: str
    uid: str


@dataclass(frozen=True, slots=True)
class AccessDecided(Event):
    """One credential decision, at a gate (place = lane id) or a charger (charger id)."""

    point: str  # "gate" | "charger"
    place: str
    kind: str
    value: str
    status: str
    reason: str
    account_id: int | None = None
    account_name: str = ""
    violation: str = ""
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class AccessChanged(Event):
    """The access data changed (here, in the CLI or in another console): new revision."""

    revision: int


@dataclass(frozen=True, slots=True)
class ParkingSessionChanged(Event):
    session_id: int
    zone_id: str
    opened: bool  # False: closed
    value: str
    occupancy: int  # of the zone, after the change
    capacity: int
    overstay_min: int = 0  # on a close: minutes beyond the group's maximum stay


@dataclass(frozen=True, slots=True)
class GatePromptChanged(Event):
    """A lane's attendant prompt appeared (`pending`) or went (`outcome` says how:
    allowed / denied / replaced / decided)."""

    lane_id: str
    kind: str
    value: str
    reason: str
    status: str
    pending: bool
    outcome: str = ""
    since: datetime | None = None


# ---- Cameras and binding ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BayOccupancyChanged(Event):
    """A bay's camera (or occupancy input) sees a vehicle arrive (plate may be "") or leave."""

    bay_id: str
    occupied: bool
    plate: str = ""
    camera_id: str = ""


@dataclass(frozen=True, slots=True)
class BindingChanged(Event):
    """plate <-> bay <-> charger <-> connector <-> transaction made, changed or ended."""

    binding_id: int
    bay_id: str
    charger_id: str
    connector_id: int
    plate: str
    transaction_id: int | None
    method: str  # bay_anpr | credential | attendant
    confidence: float
    active: bool  # False: ended (session over, rebind, unbind)


@dataclass(frozen=True, slots=True)
class BindingIssueChanged(Event):
    """The attendant's binding queue: an issue raised (open) or resolved."""

    issue_id: int
    kind: str  # conflict | no_plate | wrong_bay | ice
    bay_id: str
    detail: str
    open: bool
    # What enforcement (ICE) and the attendant need without asking the service.
    plates: tuple[str, ...] = ()
    charger_id: str = ""
    transaction_id: int | None = None


# ---- Charging finished, idling ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ChargingFinished(Event):
    """The car stopped taking energy (SuspendedEV / Finishing, the transaction ended, or
    the meter stopped rising): from `at` it idles on the bay (grace, then idle fees)."""

    charger_id: str
    connector_id: int
    transaction_id: int | None
    reason: str  # SuspendedEV | Finishing | transaction ended | energy stopped rising


@dataclass(frozen=True, slots=True)
class ChargingResumed(Event):
    """A car reported finished takes energy again (it was only pausing)."""

    charger_id: str
    connector_id: int
    transaction_id: int | None


@dataclass(frozen=True, slots=True)
class IdleEnded(Event):
    """The idling car left the bay (the connector is free again)."""

    charger_id: str
    connector_id: int
    transaction_id: int | None
    idle_min: float


# ---- Billing ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BillChanged(Event):
    """A parking session's bill was computed anew (its lines, payments or status moved)."""

    bill_id: int
    parking_session_id: int
    total: int  # minor units of `currency`
    paid: int
    status: str  # open | due | paid | void
    currency: str = "EUR"
    revision: int = 1


# ---- Enforcement ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ViolationChanged(Event):
    """A violation recorded (ICE, overstay, an attendant's fee) or resolved (waived,
    adjusted). `offences`: the plate's/account's count in the ladder's window, after it."""

    violation_id: int
    kind: str  # ice | overstay | idle | fee
    plate: str
    account_id: int | None
    bay_id: str
    parking_session_id: int | None
    step: str  # warning | fee | ban
    amount: int  # minor units
    status: str  # open | issued | waived | adjusted
    offences: int = 0
    actor: str = ""
