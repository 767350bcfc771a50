"""The gate: a plate read or a card at a lane -> one credential decision -> an open pulse
-> a parking session.

The decision itself is AccessService's (app.services.access: the rules, the record in
access_decisions, the AccessDecided event). This service knows what the rules cannot:
which lane a camera or reader belongs to, who is inside (open parking sessions), how full
each zone is. It decides on the bus handler's own call (no await before the decision), so
reads are decided in the order they were published; the pulse and the database writes
run as tasks.

Order on an accepted read: the pulse task is created first, then the session changes in
memory at once (so the next read sees it), then the database write is queued. A barrier
that fails to open leaves the session as decided: the attendant's manual raise lets the
car through (or, if the car turns away, the attendant resets anti-passback).

A lane camera reports a standing car several times. A repeat of the same plate (or card)
at a lane within `dedup_s` of the last decided read is dropped, and once the barrier opened
for a credential, its reads (and the same account's other credentials) at that lane are
dropped for `passed_s`.

Low-confidence reads and the rules' AskAttendant answers become a pending prompt per lane
(GatePromptChanged); the attendant allows (the raise goes through LaneService, audited)
or denies (audited) it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.domain.access import (
    Credential,
    CredentialKind,
    normalize_plate,
    normalize_uid,
)
from app.domain.access_rules import AccessIndex, AccessPolicy, AccessStatus, Decision, GateFacts
from app.domain.events import (
    BillChanged,
    CardPresented,
    Event,
    GatePromptChanged,
    ParkingSessionChanged,
    PlateRead,
    VehiclePresenceChanged,
)
from app.domain.site import Lane, LaneDirection, Site
from app.services.bus import handed_to_loop
from app.services.ports import Audit, Barrier, Clock

log = logging.getLogger(__name__)

DEFAULT_MIN_CONFIDENCE = 0.6
HOLD_S = 10.0  # how long a read waits for the vehicle on the loop
UNPAID = "Unpaid"  # the prompt's status when the exit waits for payment
DEFAULT_DEDUP_S = 5.0
DEFAULT_PASSED_S = 30.0

LOW_CONFIDENCE = "LowConfidence"  # a prompt's status when the read was not decided

# How a parking session was closed (parking_sessions.closed_by).
CLOSED_EXIT = "exit"
CLOSED_OVERSTAY = "overstay"  # an exit after the group's max stay (billing reads it later)
CLOSED_ATTENDANT = "attendant"  # an exit the attendant allowed at a prompt
CLOSED_APB_RESET = "apb_reset"  # the attendant reset anti-passback
CLOSED_REENTRY = "reentry"  # soft anti-passback: a new entry replaced a stale session

AUDIT_PROMPT_DENIED = "gate_prompt_denied"
AUDIT_PROMPT_ALLOWED = "gate_prompt_allowed"  # only for a lane without a barrier
AUDIT_APB_RESET = "gate_apb_reset"

Key = tuple[str, str]  # ("plate", normalized plate) | ("card", normalized uid)


# ---- data -------------------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class ParkingSession:
    """One stay on site. `id` is 0 until the database gave it one."""

    id: int
    kind: str  # "plate" or the card's credential kind ("rfid" for an unknown card)
    value: str  # normalized plate / uid
    zone_id: str
    entry_lane: str
    entry_at: datetime
    plate: str = ""
    account_id: int | None = None
    credential_id: int | None = None
    visitor: bool = False
    exit_lane: str = ""
    exit_at: datetime | None = None
    closed_by: str = ""
    overstay_min: int = 0  # not stored: closed_by "overstay" is
    stored: asyncio.Task | None = field(default=None, repr=False)  # the pending insert

    @property
    def key(self) -> Key:
        return ("plate" if self.kind == CredentialKind.PLATE.value else "card", self.value)

    @property
    def open(self) -> bool:
        return self.exit_at is None


@dataclass(frozen=True, slots=True)
class Prompt:
    """A read the attendant must decide at a lane."""

    lane_id: str
    kind: CredentialKind | None  # PLATE, or None for a card
    value: str  # as read
    reason: str
    since: datetime
    status: str  # an AccessStatus value, or LOW_CONFIDENCE
    confidence: float | None = None
    account_id: int | None = None
    account_name: str = ""


# ---- ports ------------------------------------------------------------------------------

class GateAccess(Protocol):
    """What the gate needs of AccessService."""

    policy: AccessPolicy
    index: AccessIndex

    def decide_gate(self, kind: CredentialKind | None, value: str, facts: GateFacts, *,
                    lane_id: str) -> Decision: ...

    def max_stay_min(self, account_id: int | None) -> int | None:
        """The account's group's max stay; a visitor's (no account) for None."""


class ParkingStore(Protocol):
    """parking_sessions. `insert` and `load_open` are awaited; `close` and `reopen` queue
    the write and return at once (a failure is logged, never raised)."""

    async def insert(self, session: ParkingSession) -> int: ...
    def close(self, session: ParkingSession) -> None: ...
    async def load_open(self) -> list[ParkingSession]: ...


class _Bus(Protocol):
    def publish(self, event: Any) -> None: ...
    def subscribe(self, handler: Callable[[Any], None],
                  event_type: type | None = None) -> Callable[[], None]: ...


class _Lanes(Protocol):
    async def raise_barrier(self, lane_id: str, *, actor: str, reason: str) -> str: ...


def credential_key(kind: CredentialKind | None, value: str) -> Key:
    if kind is CredentialKind.PLATE:
        return ("plate", normalize_plate(value))
    return ("card", normalize_uid(value))


# ---- the service ------------------------------------------------------------------------

class GateService:
    """`barriers` is the Core's live dict (id -> driver), read on every pulse."""

    def __init__(
        self,
        site: Site,
        access: GateAccess,
        store: ParkingStore,
        barriers: Mapping[str, Barrier],
        lanes: _Lanes | None,
        bus: _Bus,
        clock: Clock,
        audit: Audit | Any,
        *,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        dedup_s: float = DEFAULT_DEDUP_S,
        passed_s: float = DEFAULT_PASSED_S,
    ) -> None:
        self._site = site
        self._access = access
        self._store = store
        self._barriers = barriers
        self._lanes = lanes
        self._bus = bus
        self._clock = clock
        self._audit: Audit = getattr(audit, "audit", audit)
        self.min_confidence = float(min_confidence)
        self.dedup_s = float(dedup_s)
        self.passed_s = float(passed_s)
        self._lane_by_id = {lane.id: lane for lane in site.lanes}
        self._lane_by_camera = {lane.camera_id: lane for lane in site.lanes if lane.camera_id}
        self._capacity = {zone.id: zone.capacity for zone in site.zones}
        # Open sessions (insertion order) and their lookups.
        self._open: dict[ParkingSession, None] = {}
        self._by_key: dict[Key, ParkingSession] = {}
        self._by_cred: dict[int, ParkingSession] = {}
        self._by_account: dict[int, list[ParkingSession]] = {}
        self._zone_count: Counter[str] = Counter()
        self._pending: dict[str, Prompt] = {}
        # lane id -> key -> (until when repeats are dropped)
        self._quiet: dict[str, dict[Any, datetime]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        # Reads at a lane with a vehicle loop that says "no vehicle": held until it does
        # (a plate read on approach, or of a car passing in the street, opens nothing).
        self._held: dict[str, tuple[CredentialKind | None, str, Key, Credential | None,
                                    datetime]] = {}
        # The bill at the exit (BillingService.check_exit): a reason while money is owed.
        # Set after billing is built; None: exits are not held for payment.
        self.exit_check: Callable[[int], str | None] | None = None

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load who is inside (open sessions survive a restart), then listen."""
        self._loop = asyncio.get_running_loop()
        try:
            sessions = await self._store.load_open()
        except Exception as exc:
            log.warning("gate: open parking sessions not loaded: %s: %s", type(exc).__name__,
                        exc, extra={"event": "parking_load_failed"})
            sessions = []
        for session in sorted(sessions, key=lambda s: s.entry_at):
            self._add(session)
        if sessions:
            log.info("gate: %d vehicles inside", len(sessions),
                     extra={"event": "parking_loaded", "open_sessions": len(sessions)})
        if not self._unsubscribe:
            self._unsubscribe = [self._bus.subscribe(self._on_plate, PlateRead),
                                 self._bus.subscribe(self._on_card, CardPresented),
                                 self._bus.subscribe(self._on_presence,
                                                     VehiclePresenceChanged),
                                 self._bus.subscribe(self._on_bill, BillChanged)]

    async def stop(self, grace_s: float = 3.0) -> None:
        """Stop listening; cancel pulses under way (a driver releases its coil by itself),
        give the session writes `grace_s` to finish, then cancel what is left."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        writes = [t for t in self._tasks if t.get_name().startswith("gate-session")]
        for task in self._tasks - set(writes):
            task.cancel()
        if writes:
            await asyncio.wait(writes, timeout=grace_s)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- reading --------------------------------------------------------------------------

    def occupancy(self, zone_id: str) -> tuple[int, int]:
        """(vehicles inside, capacity); capacity 0 = unlimited."""
        return self._zone_count[zone_id], self._capacity.get(zone_id, 0)

    def lane_full(self, lane_id: str) -> bool:
        lane = self._lane(lane_id)
        return self._zone_full(lane.zone_id)

    def open_sessions(self) -> tuple[ParkingSession, ...]:
        return tuple(sorted(self._open, key=lambda s: s.entry_at))

    def pending(self, lane_id: str) -> Prompt | None:
        return self._pending.get(lane_id)

    def prompts(self) -> dict[str, Prompt]:
        return dict(self._pending)

    def session_of(self, value: str | Credential) -> ParkingSession | None:
        """The open session of a plate, card or credential, if any."""
        found = self._sessions_of(value)
        return found[0] if found else None

    # -- the bus handlers (never raise) ------------------------------------------------

    def _on_plate(self, event: PlateRead) -> None:
        lane = self._lane_by_camera.get(event.camera_id)
        if lane is None:  # a bay camera (or one not in any lane): not the gate's
            return
        if self._elsewhere(self._on_plate, event):
            return
        try:
            self._plate_read(lane, event)
        except Exception as exc:
            self._fail("gate_read_failed", lane.id, event.plate, exc)

    def _on_bill(self, event: BillChanged) -> None:
        """A bill paid while its car waits at an exit (pay station, app, booth): the car
        is decided again, so the barrier opens without the attendant."""
        if event.paid < event.total:
            return
        for lane_id, prompt in list(self._pending.items()):
            if prompt.status != UNPAID:
                continue
            session = self.session_of(prompt.value)
            if session is None or session.id != event.parking_session_id:
                continue
            log.info("gate: bill %d paid while %s waits at %s: deciding again",
                     event.bill_id, prompt.value, lane_id,
                     extra={"event": "gate_paid_at_barrier", "lane_id": lane_id,
                            "bill_id": event.bill_id})
            try:
                self.retry_pending(lane_id)
            except Exception as exc:  # the attendant still has the prompt
                self._fail("gate_retry_failed", lane_id, prompt.value, exc)

    def _on_card(self, event: CardPresented) -> None:
        lane = self._lane_by_id.get(event.lane_id)
        if lane is None:
            log.warning("gate: card at unknown lane %r", event.lane_id,
                        extra={"event": "gate_unknown_lane", "lane_id": event.lane_id})
            return
        if self._elsewhere(self._on_card, event):
            return
        try:
            key = credential_key(None, event.uid)
            if not key[1]:
                return
            cred = self._access.index.find_token(event.uid)
            if self._repeat(lane.id, key, cred):
                return
            if self._hold(lane, None, event.uid, key, cred):
                return
            self._decide(lane, None, event.uid, key, cred=cred)
        except Exception as exc:
            self._fail("gate_read_failed", lane.id, event.uid, exc)

    def _elsewhere(self, handler: Callable[[Any], None], event: Event) -> bool:
        return handed_to_loop(self._loop, handler, event)

    def _plate_read(self, lane: Lane, event: PlateRead) -> None:
        key = credential_key(CredentialKind.PLATE, event.plate)
        if not key[1]:
            return
        cred = self._access.index.find_plate(event.plate)
        if event.confidence < self.min_confidence:
            # Its own repeat window: a sure read of the same plate right after is decided.
            if self._repeat(lane.id, key, cred, unsure=True):
                return
            self._ask(Prompt(lane.id, CredentialKind.PLATE, event.plate,
                             f"unsure read ({event.confidence:.0%}): check the plate",
                             self._clock(), LOW_CONFIDENCE, confidence=event.confidence))
            return
        if self._repeat(lane.id, key, cred):
            return
        if self._hold(lane, CredentialKind.PLATE, event.plate, key, cred):
            return
        self._decide(lane, CredentialKind.PLATE, event.plate, key, cred=cred)

    # -- the vehicle loop -----------------------------------------------------------------

    def vehicle_present(self, lane_id: str) -> bool | None:
        """The lane's loop: True / False; None when the lane has no loop input."""
        lane = self._lane_by_id[lane_id]
        driver = self._barriers.get(lane.barrier_id) if lane.barrier_id else None
        return getattr(driver, "vehicle_present", None)

    def _hold(self, lane: Lane, kind: CredentialKind | None, value: str, key: Key,
              cred: Credential | None) -> bool:
        if self.vehicle_present(lane.id) is not False:
            return False
        self._held[lane.id] = (kind, value, key, cred, _later(self._clock(), HOLD_S))
        log.info("gate %s: %s read with no vehicle on the loop: held %g s", lane.id, key[1],
                 HOLD_S, extra={"event": "gate_read_held", "lane_id": lane.id})
        return True

    def _on_presence(self, event: VehiclePresenceChanged) -> None:
        if not event.present:
            return
        for lane in self._site.lanes:
            held = self._held.get(lane.id) if lane.barrier_id == event.barrier_id else None
            if held is None:
                continue
            del self._held[lane.id]
            kind, value, key, cred, until = held
            if self._clock() < until:
                try:
                    self._decide(lane, kind, value, key, cred=cred)
                except Exception as exc:
                    self._fail("gate_read_failed", lane.id, value, exc)

    def _repeat(self, lane_id: str, key: Key, cred: Credential | None, *,
                unsure: bool = False) -> bool:
        """True for a read to drop; else remember it for `dedup_s`. An unsure read is
        dropped after any read of its plate, a sure one only after sure ones."""
        now = self._clock()
        quiet = self._quiet.setdefault(lane_id, {})
        keys: list[Any] = [key]
        if cred is not None:
            keys.append(("account", cred.account_id))
        if unsure:
            keys.append(("unsure", key))
        if any((until := quiet.get(k)) is not None and now < until for k in keys):
            log.debug("gate: repeat of %s at %s dropped", key[1], lane_id)
            return True
        if len(quiet) > 256:  # forget what expired
            for k in [k for k, until in quiet.items() if until <= now]:
                del quiet[k]
        if self.dedup_s > 0:
            quiet[("unsure", key) if unsure else key] = _later(now, self.dedup_s)
        return False

    def _passed(self, lane_id: str, key: Key, account_id: int | None) -> None:
        if self.passed_s <= 0:
            return
        until = _later(self._clock(), self.passed_s)
        quiet = self._quiet.setdefault(lane_id, {})
        quiet[key] = until
        if account_id is not None:
            quiet[("account", account_id)] = until

    # -- the decision ---------------------------------------------------------------------

    def _decide(self, lane: Lane, kind: CredentialKind | None, value: str, key: Key, *,
                cred: Credential | None = None) -> Decision:
        index = self._access.index
        if cred is None:
            cred = index.find_plate(value) if kind is CredentialKind.PLATE \
                else index.find_token(value)
        entry = lane.direction is LaneDirection.ENTRY
        session = self._find(key, cred, fallback_account=not entry)
        account_inside = len(self._by_account.get(cred.account_id, ())) if cred else 0
        facts = GateFacts(entry=entry, zone_id=lane.zone_id, inside=session is not None,
                          account_inside=account_inside,
                          zone_full=self._zone_full(lane.zone_id))
        decision = self._access.decide_gate(kind, value, facts, lane_id=lane.id)
        owed = self._owed(lane, session) if decision.allowed and not entry else None
        if owed:
            # An unpaid bill keeps the barrier closed; the attendant may let it through.
            account = decision.account
            self._ask(Prompt(lane.id, kind, value, owed, self._clock(), UNPAID,
                             account_id=account.id if account else None,
                             account_name=account.name if account else ""))
            return decision
        if decision.allowed:
            # The pulse first: its task is created before anything else is done.
            self._pulse(lane, f"{key[1]}: {decision.reason}")
            cred = decision.credential or cred
            self._passed(lane.id, key, cred.account_id if cred else None)
            if lane.id in self._pending:
                self._drop_prompt(lane.id, "decided")
            if entry:
                self._enter(lane, kind, key, decision, replacing=session)
            elif session is not None:
                self._leave(session, lane, CLOSED_EXIT)
        elif decision.status is AccessStatus.ASK_ATTENDANT or not entry:
            # A car refused at an exit cannot turn back: the attendant decides.
            account = decision.account
            self._ask(Prompt(lane.id, kind, value, decision.reason, self._clock(),
                             decision.status.value,
                             account_id=account.id if account else None,
                             account_name=account.name if account else ""))
        return decision

    def _owed(self, lane: Lane, session: ParkingSession | None) -> str | None:
        if self.exit_check is None or session is None or not session.id:
            return None
        try:
            return self.exit_check(session.id)
        except Exception as exc:  # billing trouble must not trap a car: say so, let it go
            self._fail("gate_exit_check_failed", lane.id, session.value, exc)
            return None

    def _find(self, key: Key, cred: Credential | None, *,
              fallback_account: bool) -> ParkingSession | None:
        """The open session of this plate/card; of this credential (read in another form);
        on an exit also the account's oldest (in by plate, out by the account's card)."""
        session = self._by_key.get(key)
        if session is None and cred is not None:
            session = self._by_cred.get(cred.id)
            if session is None and fallback_account:
                sessions = self._by_account.get(cred.account_id)
                session = sessions[0] if sessions else None
        return session

    def _sessions_of(self, value: str | Credential) -> list[ParkingSession]:
        index = self._access.index
        if isinstance(value, Credential):
            keys = [credential_key(value.kind if value.kind is CredentialKind.PLATE else None,
                                   value.value)]
            creds = [value]
        else:
            keys = [credential_key(CredentialKind.PLATE, value), credential_key(None, value)]
            creds = [c for c in (index.find_plate(value), index.find_token(value)) if c]
        found: list[ParkingSession] = []
        for session in [*(self._by_key.get(k) for k in keys),
                        *(self._by_cred.get(c.id) for c in creds)]:
            if session is not None and session not in found:
                found.append(session)
        return found

    def _zone_full(self, zone_id: str) -> bool:
        capacity = self._capacity.get(zone_id, 0)
        return capacity > 0 and self._zone_count[zone_id] >= capacity

    # -- the barrier ----------------------------------------------------------------------

    def _pulse(self, lane: Lane, reason: str) -> None:
        if not lane.barrier_id:
            return  # free-flow lane
        driver = self._barriers.get(lane.barrier_id)
        if driver is None:
            log.warning("gate: lane %s: barrier %s is not driven; not opened", lane.id,
                        lane.barrier_id, extra={"event": "gate_barrier_missing",
                                                "lane_id": lane.id,
                                                "barrier_id": lane.barrier_id})
            return
        self._spawn(self._open_barrier(lane, driver, reason), f"gate-pulse-{lane.id}")

    async def _open_barrier(self, lane: Lane, driver: Barrier, reason: str) -> None:
        try:
            await driver.open(reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"
        else:
            if driver.state != "fault":
                return
            detail = str(getattr(driver, "detail", "") or "fault")
        log.warning("gate: lane %s: barrier %s did not open (%s): %s", lane.id,
                    lane.barrier_id, reason, detail,
                    extra={"event": "gate_barrier_failed", "lane_id": lane.id,
                           "barrier_id": lane.barrier_id, "detail": detail})

    # -- sessions -------------------------------------------------------------------------

    def _enter(self, lane: Lane, kind: CredentialKind | None, key: Key, decision: Decision,
               *, replacing: ParkingSession | None = None) -> ParkingSession:
        now = self._clock()
        if replacing is not None:  # soft anti-passback (or an attendant's allow)
            self._leave(replacing, None, CLOSED_REENTRY, at=now, count_overstay=False)
        cred = decision.credential
        session = ParkingSession(
            id=0,
            kind=(cred.kind.value if cred is not None and kind is not CredentialKind.PLATE
                  else (kind or CredentialKind.RFID).value),
            value=key[1], zone_id=lane.zone_id, entry_lane=lane.id, entry_at=now,
            plate=key[1] if key[0] == "plate" else "",
            account_id=decision.account.id if decision.account else None,
            credential_id=cred.id if cred else None,
            visitor=decision.visitor)
        self._add(session)
        count, capacity = self.occupancy(lane.zone_id)
        session.stored = self._spawn(self._store_entry(session, count, capacity),
                                     f"gate-session-{key[1]}")
        log.info("gate: %s entered %s at %s (%d/%s)", key[1], lane.zone_id, lane.id, count,
                 capacity or "-", extra={"event": "parking_entry", "lane_id": lane.id,
                                         "value": key[1], "violation": decision.violation})
        return session

    async def _store_entry(self, session: ParkingSession, count: int, capacity: int) -> None:
        try:
            session.id = await self._store.insert(session)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("gate: parking session of %s not stored: %s: %s", session.value,
                        type(exc).__name__, exc,
                        extra={"event": "parking_db_failed", "value": session.value})
            return
        self._publish_change(session, True, count, capacity)

    def _leave(self, session: ParkingSession, lane: Lane | None, closed_by: str, *,
               at: datetime | None = None, count_overstay: bool = True) -> None:
        if not session.open or session not in self._open:
            return
        session.exit_at = at or self._clock()
        session.exit_lane = lane.id if lane is not None else ""
        session.closed_by = closed_by
        if count_overstay:
            over = self._overstay_min(session)
            if over > 0:
                session.overstay_min = over
                if closed_by == CLOSED_EXIT:
                    session.closed_by = CLOSED_OVERSTAY
                log.info("gate: %s stayed %d min past the max stay", session.value, over,
                         extra={"event": "parking_overstay", "value": session.value,
                                "overstay_min": over, "account_id": session.account_id})
        self._remove(session)
        count, capacity = self.occupancy(session.zone_id)
        log.info("gate: %s left %s (%s)", session.value, session.zone_id, session.closed_by,
                 extra={"event": "parking_exit", "value": session.value,
                        "closed_by": session.closed_by})
        if session.id or session.stored is None:
            self._store_exit(session, count, capacity)
        else:  # the insert is still on its way: close once it has an id
            self._spawn(self._store_exit_later(session, count, capacity),
                        f"gate-session-close-{session.value}")

    async def _store_exit_later(self, session: ParkingSession, count: int,
                                capacity: int) -> None:
        if session.stored is not None:
            await asyncio.gather(session.stored, return_exceptions=True)
        self._store_exit(session, count, capacity)

    def _store_exit(self, session: ParkingSession, count: int, capacity: int) -> None:
        if session.id:
            try:
                self._store.close(session)
            except Exception as exc:
                log.warning("gate: closing parking session %d not queued: %s", session.id, exc,
                            extra={"event": "parking_db_failed", "value": session.value})
        self._publish_change(session, False, count, capacity)

    def _overstay_min(self, session: ParkingSession) -> int:
        try:
            limit = self._access.max_stay_min(session.account_id)
        except Exception as exc:
            log.warning("gate: max stay of %s unknown: %s", session.value, exc,
                        extra={"event": "gate_max_stay_failed", "value": session.value})
            return 0
        if not limit or session.exit_at is None:
            return 0
        stayed = (session.exit_at - session.entry_at).total_seconds() / 60
        return math.ceil(stayed - limit) if stayed > limit else 0

    def _add(self, session: ParkingSession) -> None:
        self._open[session] = None
        self._by_key[session.key] = session
        if session.credential_id is not None:
            self._by_cred[session.credential_id] = session
        if session.account_id is not None:
            self._by_account.setdefault(session.account_id, []).append(session)
        self._zone_count[session.zone_id] += 1

    def _remove(self, session: ParkingSession) -> None:
        if session not in self._open:
            return
        del self._open[session]
        if self._by_key.get(session.key) is session:
            del self._by_key[session.key]
        if session.credential_id is not None and self._by_cred.get(session.credential_id) \
                is session:
            del self._by_cred[session.credential_id]
        if session.account_id is not None:
            sessions = self._by_account.get(session.account_id, [])
            if session in sessions:
                sessions.remove(session)
            if not sessions:
                self._by_account.pop(session.account_id, None)
        self._zone_count[session.zone_id] -= 1

    def _publish_change(self, session: ParkingSession, opened: bool, count: int,
                        capacity: int) -> None:
        self._bus.publish(ParkingSessionChanged(
            at=self._clock(), session_id=session.id, zone_id=session.zone_id, opened=opened,
            value=session.value, occupancy=count, capacity=capacity,
            overstay_min=session.overstay_min))

    # -- the attendant --------------------------------------------------------------------

    def _ask(self, prompt: Prompt) -> None:
        if prompt.lane_id in self._pending:
            self._drop_prompt(prompt.lane_id, "replaced")
        self._pending[prompt.lane_id] = prompt
        log.info("gate: lane %s asks the attendant about %s: %s", prompt.lane_id,
                 prompt.value, prompt.reason,
                 extra={"event": "gate_prompt", "lane_id": prompt.lane_id,
                        "value": prompt.value, "status": prompt.status})
        self._publish_prompt(prompt, pending=True)

    def _drop_prompt(self, lane_id: str, outcome: str) -> Prompt | None:
        prompt = self._pending.pop(lane_id, None)
        if prompt is not None:
            self._publish_prompt(prompt, pending=False, outcome=outcome)
        return prompt

    def _publish_prompt(self, prompt: Prompt, *, pending: bool, outcome: str = "") -> None:
        self._bus.publish(GatePromptChanged(
            at=self._clock(), lane_id=prompt.lane_id,
            kind=prompt.kind.value if prompt.kind else "card", value=prompt.value,
            reason=prompt.reason, status=prompt.status, pending=pending, outcome=outcome,
            since=prompt.since))

    async def allow_pending(self, lane_id: str, actor: str, reason: str, *,
                            value: str | None = None) -> str:
        """Let the car at the lane's prompt through: the raise goes through LaneService
        (audited before the pulse), then the session opens (entry) or closes (exit).
        `value`: the plate as the attendant reads it, when the camera misread it.
        Returns a message for the attendant; the prompt stays when the barrier did not open.
        Raises ValueError for an empty reason, KeyError for an unknown lane."""
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("allowing a car through needs a reason")
        lane = self._lane(lane_id)
        prompt = self._pending.get(lane_id)
        if prompt is None:
            return f"{lane.name}: nothing is waiting"
        value = (value or "").strip() or prompt.value
        key = credential_key(prompt.kind, value)
        why = f"{reason} (attendant allowed {value}: {prompt.reason})"
        if lane.barrier_id:
            if self._lanes is None:
                return f"{lane.name}: the console cannot raise barriers"
            result = await self._lanes.raise_barrier(lane_id, actor=actor, reason=why)
            if not getattr(result, "ok", True):
                return result
            message = str(result)
        else:
            self._audit(actor, AUDIT_PROMPT_ALLOWED, lane_id,
                        {"value": value, "prompt": prompt.reason, "reason": reason})
            message = f"{lane.name}: {value} allowed"
        if self._pending.get(lane_id) is prompt:
            self._drop_prompt(lane_id, "allowed")
        index = self._access.index
        cred = index.find_plate(value) if prompt.kind is CredentialKind.PLATE \
            else index.find_token(value)
        self._passed(lane_id, key, cred.account_id if cred else None)
        if lane.direction is LaneDirection.ENTRY:
            account = index.accounts.get(cred.account_id) if cred else None
            decision = Decision(AccessStatus.ACCEPTED, f"attendant: {reason}", credential=cred,
                                account=account, visitor=account is None)
            self._enter(lane, prompt.kind, key, decision,
                        replacing=self._find(key, cred, fallback_account=False))
        else:
            session = self._find(key, cred, fallback_account=True)
            if session is not None:
                self._leave(session, lane, CLOSED_ATTENDANT)
        return message

    def retry_pending(self, lane_id: str) -> Decision | None:
        """Decide the car waiting at the lane's prompt again (its bill was just paid at the
        booth): it goes through when nothing stops it now; else the prompt stays."""
        prompt = self._pending.get(lane_id)
        if prompt is None:
            return None
        lane = self._lane(lane_id)
        return self._decide(lane, prompt.kind, prompt.value,
                            credential_key(prompt.kind, prompt.value))

    def deny_pending(self, lane_id: str, actor: str, reason: str) -> bool:
        """Refuse the car at the lane's prompt (audited). False when nothing was waiting."""
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("refusing a car needs a reason")
        self._lane(lane_id)
        prompt = self._pending.get(lane_id)
        if prompt is None:
            return False
        self._audit(actor, AUDIT_PROMPT_DENIED, lane_id,
                    {"value": prompt.value, "prompt": prompt.reason, "reason": reason})
        self._drop_prompt(lane_id, "denied")
        log.info("gate: lane %s: %s refused by %s (%s)", lane_id, prompt.value, actor, reason,
                 extra={"event": AUDIT_PROMPT_DENIED, "lane_id": lane_id, "actor": actor})
        return True

    def reset_anti_passback(self, value: str | Credential, actor: str, reason: str) -> int:
        """Close the stale open session(s) of a plate, card or credential (closed_by
        "apb_reset"), audited, so its next read is decided afresh. Returns how many."""
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("an anti-passback reset needs a reason")
        sessions = self._sessions_of(value)
        if not sessions:
            return 0
        shown = value.value if isinstance(value, Credential) else str(value)
        self._audit(actor, AUDIT_APB_RESET, shown,
                    {"reason": reason,
                     "sessions": [{"id": s.id, "value": s.value, "zone_id": s.zone_id,
                                   "entry_at": s.entry_at.isoformat()} for s in sessions]})
        for session in sessions:
            self._leave(session, None, CLOSED_APB_RESET, count_overstay=False)
            for quiet in self._quiet.values():  # the car at the lane is read again now
                quiet.pop(session.key, None)
                if session.account_id is not None:
                    quiet.pop(("account", session.account_id), None)
        log.info("gate: anti-passback of %s reset by %s (%s)", shown, actor, reason,
                 extra={"event": AUDIT_APB_RESET, "value": shown, "actor": actor})
        return len(sessions)

    # -- helpers --------------------------------------------------------------------------

    def _lane(self, lane_id: str) -> Lane:
        lane = self._lane_by_id.get(lane_id)
        if lane is None:
            raise KeyError(f"no lane {lane_id!r}")
        return lane

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    def _fail(event: str, lane_id: str, value: str, exc: BaseException) -> None:
        log.warning("gate: lane %s: read %r not handled: %s: %s", lane_id, value,
                    type(exc).__name__, exc, exc_info=exc,
                    extra={"event": event, "lane_id": lane_id, "value": value})


def _later(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
