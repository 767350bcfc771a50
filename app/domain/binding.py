"""Dual-ANPR binding: which car (plate) is at which charger connector, for which session.

Chargers do not know which car is plugged in; the bay cameras do. This module holds the
pure rules (no I/O, no clock of its own):

- `BayLocator`: which bay a bay-camera read belongs to. The bays that name a camera are,
  in site order, equal-width slots of its frame from left to right, unless the camera's
  settings give `slots`: an [x0, x1] pair of frame-width fractions per bay (a list in the
  bays' site order, or a dict by bay id). The centre of the read's plate box decides; a
  camera that covers one bay needs no box.
- `match`: for a connector event (plug-in status, transaction start) at one or more
  moments, the plates read at that bay within a window decide the binding: one plate ->
  bind ("bay_anpr"); two different plates -> a "conflict" issue; none while the window is
  still open -> wait (a late read binds then); none after it -> the transaction's
  credential ("credential": the account's only plate, or of several the one inside the
  car park) or a "no_plate" issue; a credential plate that a camera saw at ANOTHER bay ->
  a "wrong_bay" issue.
- `charging_elsewhere`: a plate read at a bay whose account's session runs at another bay.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from app.domain.charging import ConnectorStatus
from app.domain.site import Bay, Camera, CameraRole, Site

DEFAULT_WINDOW_S = 120.0  # reads this far before/after a connector event count
DEFAULT_ICE_GRACE_S = 600.0  # an occupied bay without a session this long is ICE-ing
DEFAULT_MIN_CONFIDENCE = 0.3  # reads below this are ignored for binding
CREDENTIAL_CONFIDENCE = 0.5  # the account's only plate
CREDENTIAL_INSIDE_CONFIDENCE = 0.4  # one of the account's plates: the one inside
ATTENDANT_CONFIDENCE = 1.0

# Connector statuses that mean "a car has just plugged in".
PLUG_STATUSES = frozenset({ConnectorStatus.PREPARING, ConnectorStatus.OCCUPIED})
# ... and that mean it is gone.
FREE_STATUSES = frozenset({ConnectorStatus.AVAILABLE})


class Method(StrEnum):
    BAY_ANPR = "bay_anpr"
    CREDENTIAL = "credential"
    ATTENDANT = "attendant"


class IssueKind(StrEnum):
    CONFLICT = "conflict"
    NO_PLATE = "no_plate"
    WRONG_BAY = "wrong_bay"
    ICE = "ice"
    UNSURE = "unsure"  # bound from an unsure read only: the attendant confirms


class EndedBy(StrEnum):
    SESSION_END = "session_end"
    REBIND = "rebind"
    UNBIND = "unbind"


# ---- records ----------------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class Binding:
    """plate <-> bay <-> charger/connector <-> transaction. `id` is 0 until stored."""

    id: int
    plate: str  # normalized
    bay_id: str
    charger_id: str
    connector_id: int
    transaction_id: int | None
    method: str  # a Method value
    confidence: float
    created_at: datetime
    parking_session_id: int | None = None
    read_id: int | None = None
    ended_at: datetime | None = None
    ended_by: str = ""  # an EndedBy value once ended
    actor: str = ""
    stored: Any = field(default=None, repr=False)  # the service's pending insert

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(eq=False, slots=True)
class BindingIssue:
    """An entry of the attendant's binding queue. `id` is 0 until stored."""

    id: int
    kind: str  # an IssueKind value
    bay_id: str
    created_at: datetime
    charger_id: str = ""
    connector_id: int | None = None
    transaction_id: int | None = None
    plates: tuple[str, ...] = ()
    detail: str = ""
    resolved_at: datetime | None = None
    resolved_by: str = ""
    resolution: str = ""
    stored: Any = field(default=None, repr=False)

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True, slots=True)
class BayRead:
    """A plate read attributed to a bay."""

    plate: str  # normalized
    at: datetime
    confidence: float
    read_id: int | None = None


# ---- which bay a read belongs to -------------------------------------------------------

def parse_slots(value: Any, bays: Sequence[Bay]) -> list[tuple[float, float]]:
    """Camera.settings["slots"] as one (x0, x1) per bay, in the bays' order. Raises
    ValueError, in words an installer understands, when it does not fit."""
    if isinstance(value, Mapping):
        missing = [b.id for b in bays if b.id not in value]
        if missing:
            raise ValueError(f"slots: no [x0, x1] for bay {', '.join(missing)}")
        pairs = [value[b.id] for b in bays]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != len(bays):
            raise ValueError(f"slots: {len(value)} given for {len(bays)} bays")
        pairs = list(value)
    else:
        raise ValueError("slots: a list of [x0, x1] (one per bay) or a map bay -> [x0, x1]")
    out: list[tuple[float, float]] = []
    for bay, pair in zip(bays, pairs, strict=True):
        try:
            x0, x1 = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"slots: bay {bay.id}: {pair!r} is not [x0, x1]") from None
        if not 0.0 <= x0 < x1 <= 1.0:
            raise ValueError(f"slots: bay {bay.id}: need 0 <= x0 < x1 <= 1, got {pair!r}")
        out.append((x0, x1))
    return out


def equal_slots(count: int) -> list[tuple[float, float]]:
    return [(i / count, (i + 1) / count) for i in range(count)]


def slot_index(slots: Sequence[tuple[float, float]], box: tuple[int, int, int, int] | None,
               frame_size: tuple[int, int] | None) -> int | None:
    """The slot the box's centre falls in (the nearest slot centre where slots overlap);
    None without a usable box or when the centre is in no slot."""
    if box is None or frame_size is None or frame_size[0] <= 0:
        return None
    cx = (box[0] + box[2] / 2) / frame_size[0]
    best: tuple[float, int] | None = None
    for i, (x0, x1) in enumerate(slots):
        inside = x0 <= cx < x1 or (cx == x1 == 1.0)
        if inside:
            distance = abs(cx - (x0 + x1) / 2)
            if best is None or distance < best[0]:
                best = (distance, i)
    return best[1] if best else None


class BayLocator:
    """Bay cameras of a site and the bays (slots) each one covers."""

    def __init__(self, site: Site) -> None:
        self.bays_of: dict[str, list[Bay]] = {}
        for bay in site.bays:
            if bay.camera_id:
                self.bays_of.setdefault(bay.camera_id, []).append(bay)
        for camera in site.cameras:  # a bay camera no bay names yet: known, covers nothing
            if camera.role is CameraRole.BAY:
                self.bays_of.setdefault(camera.id, [])
        lane_cameras = {lane.camera_id for lane in site.lanes if lane.camera_id}
        for camera_id in list(self.bays_of):
            if camera_id in lane_cameras and not self.bays_of[camera_id]:
                del self.bays_of[camera_id]
        self.problems: list[str] = []
        self.slots: dict[str, list[tuple[float, float]]] = {}
        cameras = {c.id: c for c in site.cameras}
        for camera_id, bays in self.bays_of.items():
            self.slots[camera_id] = self._slots(cameras.get(camera_id), camera_id, bays)

    def _slots(self, camera: Camera | None, camera_id: str,
               bays: list[Bay]) -> list[tuple[float, float]]:
        if not bays:
            return []
        value = camera.settings.get("slots") if camera is not None else None
        if value is not None:
            try:
                return parse_slots(value, bays)
            except ValueError as exc:
                self.problems.append(f"camera {camera_id}: {exc}; equal slots used")
        return equal_slots(len(bays))

    @property
    def cameras(self) -> frozenset[str]:
        return frozenset(self.bays_of)

    def locate(self, camera_id: str, box: tuple[int, int, int, int] | None = None,
               frame_size: tuple[int, int] | None = None) -> Bay | None:
        bays = self.bays_of.get(camera_id)
        if not bays:
            return None
        if len(bays) == 1:
            return bays[0]
        i = slot_index(self.slots[camera_id], box, frame_size)
        return bays[i] if i is not None else None


# ---- the matching rule -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Bind:
    plate: str
    method: Method
    confidence: float
    read_id: int | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Raise:
    kind: IssueKind
    plates: tuple[str, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class Wait:
    """No plate yet, but a late read may still come: look again at `until`."""

    until: datetime


Outcome = Bind | Raise | Wait | None


def distance_s(at: datetime, moments: Sequence[datetime]) -> float:
    return min(abs((at - m).total_seconds()) for m in moments)


def read_score(read: BayRead, moments: Sequence[datetime], window_s: float) -> float | None:
    """The read's confidence, lowered by its time distance from the nearest moment (down
    to half at the window's edge); None when outside the window."""
    if not moments:
        return None
    d = distance_s(read.at, moments)
    if d > window_s:
        return None
    factor = 1.0 - 0.5 * (d / window_s if window_s > 0 else 0.0)
    return round(max(0.0, min(1.0, read.confidence)) * factor, 3)


def best_reads(reads: Sequence[BayRead], moments: Sequence[datetime],
               window_s: float) -> list[tuple[BayRead, float]]:
    """One (read, score) per plate read within the window, best score first."""
    best: dict[str, tuple[BayRead, float]] = {}
    for read in reads:
        score = read_score(read, moments, window_s)
        if score is None:
            continue
        if read.plate not in best or score > best[read.plate][1]:
            best[read.plate] = (read, score)
    return sorted(best.values(), key=lambda pair: -pair[1])


# A read this sure outweighs unsure reads of other plates in the window (the camera's
# misreads of the same car); two sure reads of different plates are a conflict.
SURE_CONFIDENCE = 0.6


def match(moments: Sequence[datetime], reads: Sequence[BayRead], *, now: datetime,
          window_s: float = DEFAULT_WINDOW_S, has_transaction: bool = True,
          account_plates: Sequence[str] | None = None, inside: Collection[str] = (),
          seen_elsewhere: Mapping[str, str] | None = None) -> Outcome:
    """The binding for a connector whose car plugged in / started at `moments`.

    `reads`: this bay's reads (any time); `account_plates`: the plates of the account the
    transaction's idToken belongs to (None: no such account); `inside`: plates with an open
    parking session; `seen_elsewhere`: plate -> another bay where it was read within the
    window. None: nothing to do yet (no read, and no transaction to fall back on)."""
    if not moments:
        return None
    found = best_reads(reads, moments, window_s)
    sure = [(r, s) for r, s in found if r.confidence >= SURE_CONFIDENCE]
    if len(found) > 1 and len(sure) == 1:
        found = sure  # one clear read and the rest unsure: the clear one (misreads)
    if len(found) == 1:
        read, score = found[0]
        return Bind(read.plate, Method.BAY_ANPR, score, read.read_id)
    if len(found) > 1:
        plates = tuple(r.plate for r, _ in found)
        text = ", ".join(f"{r.plate} ({s:.2f})" for r, s in found)
        return Raise(IssueKind.CONFLICT, plates, f"{len(found)} plates read at the bay: {text}")
    until = max(moments) + timedelta(seconds=window_s)
    if now < until:
        return Wait(until)
    if not has_transaction:
        return None
    return fallback(account_plates, inside=inside, seen_elsewhere=seen_elsewhere or {})


def fallback(account_plates: Sequence[str] | None, *, inside: Collection[str] = (),
             seen_elsewhere: Mapping[str, str] | None = None) -> Bind | Raise:
    """No plate read at the bay: the transaction's credential says which car it is."""
    elsewhere = seen_elsewhere or {}
    if account_plates is None:
        return Raise(IssueKind.NO_PLATE, (),
                     "no plate read at the bay; the charge card belongs to no account")
    plates = tuple(dict.fromkeys(p for p in account_plates if p))
    if not plates:
        return Raise(IssueKind.NO_PLATE, (),
                     "no plate read at the bay; the card's account has no plate")
    if len(plates) == 1:
        chosen, confidence, how = plates[0], CREDENTIAL_CONFIDENCE, "the account's plate"
    else:
        here = [p for p in plates if p in inside]
        if len(here) != 1:
            return Raise(IssueKind.NO_PLATE, plates,
                         f"no plate read at the bay; the card's account has {len(plates)} "
                         f"plates, {len(here)} of them inside")
        chosen, confidence = here[0], CREDENTIAL_INSIDE_CONFIDENCE
        how = f"the one of {len(plates)} account plates inside"
    if chosen in elsewhere:
        return Raise(IssueKind.WRONG_BAY, (chosen,),
                     f"the card's plate {chosen} was read at bay {elsewhere[chosen]}")
    return Bind(chosen, Method.CREDENTIAL, confidence, None, how)


def charging_elsewhere(bay_id: str, sessions: Mapping[str, str | None],
                       plate: str) -> str | None:
    """A plate read at `bay_id`: the bay where its account charges instead, if any.

    `sessions`: bay -> plate bound there (None: unbound) for the active sessions of the
    plate's account. A session here means the car is where it should be; a session
    elsewhere bound to another plate has its own car (a fleet's second car)."""
    if bay_id in sessions:
        return None
    for other, bound in sorted(sessions.items()):
        if bound is None or bound == plate:
            return other
    return None


def ice_due(occupied_since: datetime, now: datetime, grace_s: float = DEFAULT_ICE_GRACE_S,
            ) -> bool:
    return (now - occupied_since).total_seconds() >= grace_s
