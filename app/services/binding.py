"""Binding: which car (plate) charges at which bay / charger / connector, in which session.

The bay cameras' reads (PlateRead from a bay camera: one whose role is "bay" or that a
bay names) are kept for a short while per bay. A connector event (Preparing / Occupied,
a transaction start) opens a "plug" on that connector; the rules of app.domain.binding
decide from the bay's reads around it: one plate binds (bay_anpr), two raise a conflict,
none waits for a late read until the window closes and then falls back to the
transaction's credential (or raises no_plate / wrong_bay). The binding follows the
transaction (its id is attached when it starts) and ends when it ends (session_end).

The attendant's queue (binding_issues, BindingIssueChanged) also gets ICE-ing: a bay
occupied (BayOccupancyChanged from its camera, or a plate read there) with no charging
session on its connector for longer than `ice_grace_s` raises kind "ice" (the
enforcement engine consumes it); a session starting or the bay going free clears it.

Attendant actions (bind, rebind, unbind, resolve_issue) are audited. A rebind ends the
old binding (ended_by rebind) and makes one with method "attendant" whose
parking_session_id is the new plate's open parking session (GateService.session_of), so
the charging cost follows the right car.

Everything runs on the loop thread: reads and occupancy published from a camera thread
are handed to the loop first. Handlers decide on the spot (in memory); the database
writes and the events that need a row id (BindingChanged, BindingIssueChanged) follow in
tasks, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.domain.access import CredentialKind, normalize_plate
from app.domain.binding import (
    ATTENDANT_CONFIDENCE,
    DEFAULT_ICE_GRACE_S,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_WINDOW_S,
    FREE_STATUSES,
    PLUG_STATUSES,
    SURE_CONFIDENCE,
    BayLocator,
    BayRead,
    Bind,
    Binding,
    BindingIssue,
    EndedBy,
    IssueKind,
    Method,
    Raise,
    Wait,
    charging_elsewhere,
    ice_due,
    match,
    read_score,
)
from app.domain.events import (
    BayOccupancyChanged,
    BindingChanged,
    BindingIssueChanged,
    ConnectorStatusChanged,
    Event,
    ParkingSessionChanged,
    PlateRead,
    TransactionEnded,
    TransactionStarted,
)
from app.domain.site import Bay, Site
from app.services.bus import handed_to_loop
from app.services.ports import Audit, Clock

log = logging.getLogger(__name__)

SYSTEM = "system"  # resolved_by of issues the service clears by itself

AUDIT_BIND = "binding_bind"
AUDIT_REBIND = "binding_rebind"
AUDIT_UNBIND = "binding_unbind"
AUDIT_RESOLVE = "binding_issue_resolve"

Key = tuple[str, int]  # (charger_id, connector_id)


# ---- ports ------------------------------------------------------------------------------

class BindingStore(Protocol):
    """bindings and binding_issues: inserts are awaited (ids), updates queue and return."""

    async def insert_binding(self, binding: Binding) -> int: ...
    def update_binding(self, binding: Binding) -> None: ...
    async def insert_issue(self, issue: BindingIssue) -> int: ...
    def update_issue(self, issue: BindingIssue) -> None: ...
    async def load_open(self) -> tuple[list[Binding], list[BindingIssue]]: ...


class _Bus(Protocol):
    def publish(self, event: Any) -> None: ...
    def subscribe(self, handler: Callable[[Any], None],
                  event_type: type | None = None) -> Callable[[], None]: ...


# ---- state ------------------------------------------------------------------------------

@dataclass(eq=False, slots=True)
class _Plug:
    """A car at a connector: from plug-in (or transaction start) until it ends."""

    bay: Bay
    moments: list[datetime]
    transaction_id: int | None = None
    id_token: str = ""
    binding: Binding | None = None
    issue: BindingIssue | None = None  # conflict / no_plate / wrong_bay raised for it
    wait_until: datetime | None = None
    manual: bool = False  # the attendant unbound it: no automatic binding any more

    @property
    def key(self) -> Key:
        return (self.bay.charger_id or "", self.bay.connector_id or 0)


@dataclass(eq=False, slots=True)
class _Occupied:
    since: datetime
    plate: str = ""
    issue: BindingIssue | None = None
    raised: bool = False  # an ICE issue was raised for this stay (once per stay)
    # A session ran during this stay: staying on after it is idling (idle fees, billing),
    # not ICE-ing.
    charged: bool = False


@dataclass(slots=True)
class _Tasks:
    running: set[asyncio.Task] = field(default_factory=set)


# ---- the service ------------------------------------------------------------------------

class BindingService:
    """`transactions`: TransactionService (active_on, active, get); `access`: its `index`
    (find_token, find_plate, credentials_of); `gate`: GateService (session_of) or None."""

    def __init__(
        self,
        site: Site,
        bus: _Bus,
        clock: Clock,
        store: BindingStore,
        transactions: Any,
        access: Any,
        gate: Any = None,
        audit: Audit | Any = None,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        ice_grace_s: float = DEFAULT_ICE_GRACE_S,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        tick_s: float = 1.0,
        keep_reads: int = 20,
        keep_ended: int = 500,
    ) -> None:
        self._site = site
        self._bus = bus
        self._clock = clock
        self._store = store
        self._tx = transactions
        self._access = access
        self._gate = gate
        self._audit_fn: Audit | None = getattr(audit, "audit", audit)
        # Read on every use: a test (or a settings change) may set them on a live service.
        self.window_s = float(window_s)
        self.ice_grace_s = float(ice_grace_s)
        self.min_confidence = float(min_confidence)
        self.tick_s = float(tick_s)
        self._keep_reads = keep_reads
        self._keep_ended = keep_ended
        self._locator = BayLocator(site)
        self._bays = {bay.id: bay for bay in site.bays}
        self._bay_at: dict[Key, Bay] = {
            (b.charger_id, b.connector_id): b for b in site.bays
            if b.charger_id and b.connector_id is not None}
        self._reads: dict[str, deque[BayRead]] = {}
        self._plugs: dict[Key, _Plug] = {}
        self._active: dict[Key, Binding] = {}
        self._by_tx: dict[int, Binding] = {}
        self._bindings: list[Binding] = []  # active ones and the newest ended ones
        self._issues: list[BindingIssue] = []  # open
        self._occupied: dict[str, _Occupied] = {}
        self._warned: set[Any] = set()
        self._tasks = _Tasks()
        self._ticker: asyncio.Task | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        for problem in self._locator.problems:
            log.warning("binding: %s", problem, extra={"event": "binding_config"})

    # -- life cycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Load open bindings and issues (they survive a restart), then listen."""
        self._loop = asyncio.get_running_loop()
        try:
            bindings, issues = await self._store.load_open()
        except Exception as exc:
            log.warning("binding: open bindings not loaded: %s: %s", type(exc).__name__, exc,
                        extra={"event": "binding_load_failed"})
            bindings, issues = [], []
        self._load(bindings, issues)
        if not self._unsubscribe:
            self._unsubscribe = [
                self._bus.subscribe(self._on_read, PlateRead),
                self._bus.subscribe(self._on_occupancy, BayOccupancyChanged),
                self._bus.subscribe(self._on_status, ConnectorStatusChanged),
                self._bus.subscribe(self._on_started, TransactionStarted),
                self._bus.subscribe(self._on_ended, TransactionEnded),
                self._bus.subscribe(self._on_parking, ParkingSessionChanged),
            ]
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick(), name="binding-tick")

    async def stop(self, grace_s: float = 3.0) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        tasks = list(self._tasks.running)
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _load(self, bindings: Sequence[Binding], issues: Sequence[BindingIssue]) -> None:
        for issue in issues:
            self._issues.append(issue)
        for b in bindings:
            key = (b.charger_id, b.connector_id)
            bay = self._bays.get(b.bay_id)
            tx = self._tx.get(b.transaction_id) if b.transaction_id is not None else None
            self._bindings.append(b)
            if b.transaction_id is not None:
                self._by_tx[b.transaction_id] = b
            if bay is None or tx is None or not tx.active or key in self._active:
                # Its session ended (or never started) while the console was down.
                self._end(b, EndedBy.SESSION_END)
                continue
            self._active[key] = b
            self._plugs[key] = _Plug(bay, [b.created_at], tx.id, tx.id_token, binding=b)
        for tx in self._tx.active():
            key = (tx.charger_id, tx.connector_id)
            bay = self._bay_at.get(key)
            if bay is None or key in self._plugs:
                continue
            plug = _Plug(bay, [tx.started_at or self._clock()], tx.id, tx.id_token)
            plug.issue = next((i for i in self._issues if i.transaction_id == tx.id
                               and i.kind != IssueKind.ICE), None)
            plug.wait_until = self._clock()  # decided on the next tick
            self._plugs[key] = plug
        if bindings or issues:
            log.info("binding: %d bindings, %d open issues", len(self._active),
                     len(self._issues), extra={"event": "binding_loaded"})

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.check()

    # -- queries --------------------------------------------------------------------------

    def active_binding(self, charger_id: str, connector_id: int) -> Binding | None:
        return self._active.get((charger_id, connector_id))

    def binding_for_tx(self, transaction_id: int) -> Binding | None:
        """The binding of a transaction: the active one, or the one its end closed."""
        b = self._by_tx.get(transaction_id)
        if b is None or not (b.active or b.ended_by == EndedBy.SESSION_END):
            return None
        return b

    def bindings_of_plate(self, plate: str) -> list[Binding]:
        """This run's bindings of a plate (active, and recently ended), newest first.
        The full history is in the bindings table."""
        wanted = normalize_plate(plate)
        return sorted((b for b in self._bindings if b.plate == wanted),
                      key=lambda b: b.created_at, reverse=True)

    def active_bindings(self) -> list[Binding]:
        return sorted(self._active.values(), key=lambda b: b.bay_id)

    def open_issues(self) -> list[BindingIssue]:
        return sorted(self._issues, key=lambda i: i.created_at)

    def binding(self, binding_id: int) -> Binding | None:
        return next((b for b in self._bindings if b.id == binding_id), None)

    def bay_reads(self, bay_id: str) -> list[BayRead]:
        return list(self._reads.get(bay_id, ()))

    # -- the bus handlers -----------------------------------------------------------------

    def _elsewhere(self, handler: Callable[[Any], None], event: Event) -> bool:
        return handed_to_loop(self._loop, handler, event)

    def _on_read(self, event: PlateRead) -> None:
        if event.camera_id not in self._locator.bays_of:
            return  # a lane camera's read: the gate's
        if self._elsewhere(self._on_read, event):
            return
        plate = normalize_plate(event.plate)
        if not plate:
            return
        bay = self._locator.locate(event.camera_id, event.box, event.frame_size)
        if bay is None:
            if self._locator.bays_of[event.camera_id]:
                self._warn_once(("no_bay", event.camera_id),
                                "binding: a read at camera %s fits no bay (box %s, frame %s): "
                                "a camera that covers several bays must send the plate's box",
                                event.camera_id, event.box, event.frame_size)
            return
        if event.confidence < self.min_confidence:
            log.debug("binding: %s at %s ignored (confidence %.2f)", plate, bay.id,
                      event.confidence)
            return
        read = BayRead(plate, event.at, float(event.confidence), event.read_id)
        self._reads.setdefault(bay.id, deque(maxlen=self._keep_reads)).append(read)
        self._occupy(bay, event.at, plate)
        plug = self._plugs.get((bay.charger_id or "", bay.connector_id or 0))
        if plug is not None:
            self._after_read(plug, read)
        self._check_wrong_bay(bay, plate)

    def _on_occupancy(self, event: BayOccupancyChanged) -> None:
        if self._elsewhere(self._on_occupancy, event):
            return
        bay = self._bays.get(event.bay_id)
        if bay is None:
            self._warn_once(("bay", event.bay_id), "binding: occupancy of unknown bay %r",
                            event.bay_id)
            return
        if event.occupied:
            self._occupy(bay, event.at, normalize_plate(event.plate))
        else:
            self._free(bay)

    def _on_status(self, event: ConnectorStatusChanged) -> None:
        key = (event.charger_id, event.connector_id)
        bay = self._bay_at.get(key)
        if bay is None:
            return
        if event.status in PLUG_STATUSES:
            if key not in self._plugs:
                plug = _Plug(bay, [event.at])
                self._plugs[key] = plug
                self._evaluate(plug)
        elif event.status in FREE_STATUSES:
            plug = self._plugs.get(key)
            if plug is not None and not self._tx_active(plug.transaction_id):
                self._close_plug(plug, "unplugged without a charging session")

    def _on_started(self, event: TransactionStarted) -> None:
        key = (event.charger_id, event.connector_id)
        bay = self._bay_at.get(key)
        if bay is None:
            return
        plug = self._plugs.get(key)
        if plug is not None and plug.transaction_id == event.transaction_id:
            return
        if plug is not None and plug.transaction_id is not None:
            self._close_plug(plug, "superseded by a new session")  # its stop was lost
            plug = None
        if plug is None:
            plug = _Plug(bay, [event.at])
            self._plugs[key] = plug
        else:
            plug.moments.append(event.at)
        plug.transaction_id = event.transaction_id
        plug.id_token = event.id_token
        occupied = self._occupied.get(bay.id)
        if occupied is not None:
            if occupied.issue is not None and occupied.issue.open:
                self._resolve(occupied.issue, SYSTEM, "charging session started")
            occupied.raised = False
        if plug.binding is not None:  # bound when the car plugged in
            plug.binding.transaction_id = event.transaction_id
            self._by_tx[event.transaction_id] = plug.binding
            self._changed(plug.binding)
            return
        if plug.issue is not None and plug.issue.open:
            if plug.issue.transaction_id is None:
                plug.issue.transaction_id = event.transaction_id
                self._spawn(self._store_issue_update(plug.issue, publish=False),
                            "binding-issue-update")
            return
        self._evaluate(plug)

    def _on_parking(self, event: ParkingSessionChanged) -> None:
        """A stay opened after its car was bound at a bay (a slow entry lane, an entry the
        attendant let through later, cars already parked when the console started): the
        binding joins it, so the stay's bill carries the charging."""
        if not event.opened or not event.session_id or self._gate is None:
            return
        for b in list(self._active.values()):
            if b.parking_session_id is not None or not b.plate:
                continue
            session = self._gate.session_of(b.plate)
            if session is not None and session.id == event.session_id:
                b.parking_session_id = event.session_id
                log.info("binding: %s at %s joins stay %d", b.plate, b.bay_id,
                         event.session_id, extra={"event": "binding_joined_stay",
                                                  "plate": b.plate, "bay_id": b.bay_id})
                self._changed(b)

    def _on_ended(self, event: TransactionEnded) -> None:
        key = (event.charger_id, event.connector_id)
        plug = self._plugs.get(key)
        if plug is not None and plug.transaction_id == event.transaction_id:
            del self._plugs[key]
        b = self._by_tx.get(event.transaction_id)
        if b is not None and b.active:
            self._end(b, EndedBy.SESSION_END)
        bay = self._bay_at.get(key)
        occupied = self._occupied.get(bay.id) if bay is not None else None
        if occupied is not None:  # still there after charging: idling, not ICE-ing
            occupied.charged = True

    # -- deciding -------------------------------------------------------------------------

    def check(self, now: datetime | None = None) -> None:
        """Plugs whose window closed without a plate; bays occupied past the grace."""
        now = now or self._clock()
        for plug in list(self._plugs.values()):
            if plug.wait_until is not None and now >= plug.wait_until:
                self._evaluate(plug, now)
        for bay_id, occupied in list(self._occupied.items()):
            if occupied.raised or occupied.charged or not ice_due(occupied.since, now,
                                                                  self.ice_grace_s):
                continue
            bay = self._bays[bay_id]
            if self._tx.active_on(bay.charger_id, bay.connector_id) is not None:
                continue
            occupied.raised = True
            minutes = (now - occupied.since).total_seconds() / 60
            who = occupied.plate or "a vehicle"
            occupied.issue = self._raise(
                IssueKind.ICE, bay, (occupied.plate,) if occupied.plate else (),
                f"{who} in bay {bay.label} for {minutes:.0f} min without a charging session",
                transaction_id=None)

    def _evaluate(self, plug: _Plug, now: datetime | None = None) -> None:
        if plug.manual or plug.binding is not None or (plug.issue is not None
                                                       and plug.issue.open):
            return
        now = now or self._clock()
        plug.wait_until = None
        account_plates = self._account_plates(plug)
        outcome = match(
            plug.moments, self._reads.get(plug.bay.id, ()), now=now, window_s=self.window_s,
            has_transaction=plug.transaction_id is not None, account_plates=account_plates,
            inside=self._inside(account_plates or ()),
            seen_elsewhere=self._seen_elsewhere(plug))
        if isinstance(outcome, Bind):
            self._bind(plug, outcome.plate, outcome.method, outcome.confidence,
                       outcome.read_id)
            best = max((r.confidence for r in self._reads.get(plug.bay.id, ())
                        if r.plate == outcome.plate), default=1.0)
            if outcome.method == Method.BAY_ANPR and best < SURE_CONFIDENCE:
                plug.issue = self._raise(
                    IssueKind.UNSURE, plug.bay, (outcome.plate,),
                    f"bound to {outcome.plate} from an unsure read ({best:.0%}): confirm "
                    "the plate on the bay camera", transaction_id=plug.transaction_id)
        elif isinstance(outcome, Raise):
            plug.issue = self._raise(outcome.kind, plug.bay, outcome.plates, outcome.detail,
                                     transaction_id=plug.transaction_id)
        elif isinstance(outcome, Wait):
            plug.wait_until = outcome.until

    def _after_read(self, plug: _Plug, read: BayRead) -> None:
        b = plug.binding
        if b is None:
            self._evaluate(plug)
            return
        score = read_score(read, plug.moments, self.window_s)
        if score is None or plug.manual or b.method == Method.ATTENDANT:
            return
        if read.plate == b.plate:
            if (read.confidence >= SURE_CONFIDENCE and plug.issue is not None
                    and plug.issue.open and plug.issue.kind == IssueKind.UNSURE):
                self._resolve(plug.issue, "system", "confirmed by a sure read")
            if b.method == Method.CREDENTIAL:  # the camera confirms the card's plate
                b.method, b.confidence, b.read_id = Method.BAY_ANPR.value, score, read.read_id
                self._changed(b)
            return
        if read.confidence < SURE_CONFIDENCE:  # an unsure read does not contest a binding
            log.debug("binding: unsure %s at %s ignored (bound to %s)", read.plate,
                      plug.bay.id, b.plate)
            return
        if plug.issue is None or not plug.issue.open:
            plug.issue = self._raise(
                IssueKind.CONFLICT, plug.bay, (b.plate, read.plate),
                f"bound to {b.plate} ({b.method}), but {read.plate} was read at the bay "
                f"({score:.2f})", transaction_id=plug.transaction_id)

    def _check_wrong_bay(self, bay: Bay, plate: str) -> None:
        """A plate read here whose account charges at another bay."""
        index = self._access.index
        cred = index.find_plate(plate)
        if cred is None:
            return
        sessions: dict[str, str | None] = {}
        txs: dict[str, Any] = {}
        for tx in self._tx.active():
            token_cred = index.find_token(tx.id_token) if tx.id_token else None
            if token_cred is None or token_cred.account_id != cred.account_id:
                continue
            where = self._bay_at.get((tx.charger_id, tx.connector_id))
            if where is None:
                continue
            bound = self._active.get((tx.charger_id, tx.connector_id))
            sessions[where.id] = bound.plate if bound is not None else None
            txs[where.id] = tx
        other = charging_elsewhere(bay.id, sessions, plate)
        if other is None:
            return
        tx = txs[other]
        plug = self._plugs.get((tx.charger_id, tx.connector_id))
        issue = self._raise(
            IssueKind.WRONG_BAY, self._bays[other], (plate,),
            f"{plate} was read at bay {bay.label}, but its account charges at bay "
            f"{self._bays[other].label} (session {tx.id})", transaction_id=tx.id)
        if plug is not None and plug.binding is None and (plug.issue is None
                                                          or not plug.issue.open):
            plug.issue = issue

    def _account_plates(self, plug: _Plug) -> list[str] | None:
        tx = self._tx.get(plug.transaction_id) if plug.transaction_id is not None else None
        token = (tx.id_token if tx is not None else "") or plug.id_token
        if not token:
            return None
        index = self._access.index
        cred = index.find_token(token)
        if cred is None:
            cred = index.find_plate(token)  # a plate used as the token (autocharge, app)
        if cred is None:
            return None
        return [c.value for c in index.credentials_of(cred.account_id)
                if c.kind is CredentialKind.PLATE]

    def _inside(self, plates: Sequence[str]) -> set[str]:
        if self._gate is None:
            return set()
        return {p for p in plates if self._gate.session_of(p) is not None}

    def _seen_elsewhere(self, plug: _Plug) -> dict[str, str]:
        seen: dict[str, str] = {}
        for bay_id, reads in self._reads.items():
            if bay_id == plug.bay.id:
                continue
            for read in reads:
                if read_score(read, plug.moments, self.window_s) is not None:
                    seen.setdefault(read.plate, self._bays[bay_id].label)
        return seen

    def _tx_active(self, transaction_id: int | None) -> bool:
        if transaction_id is None:
            return False
        tx = self._tx.get(transaction_id)
        return tx is not None and tx.active

    def _close_plug(self, plug: _Plug, why: str) -> None:
        if self._plugs.get(plug.key) is plug:
            del self._plugs[plug.key]
        if plug.binding is not None and plug.binding.active:
            self._end(plug.binding, EndedBy.SESSION_END)
        if plug.issue is not None and plug.issue.open and plug.transaction_id is None:
            self._resolve(plug.issue, SYSTEM, why)

    # -- occupancy ------------------------------------------------------------------------

    def _occupy(self, bay: Bay, at: datetime, plate: str) -> None:
        if not bay.charger_id:
            return  # not an EV bay: nobody ICE-s it
        occupied = self._occupied.get(bay.id)
        if occupied is None:
            self._occupied[bay.id] = _Occupied(since=at, plate=plate)
        elif plate:
            occupied.plate = plate

    def _free(self, bay: Bay) -> None:
        occupied = self._occupied.pop(bay.id, None)
        # The car left: its reads must not bind the next one.
        self._reads.pop(bay.id, None)
        if occupied is not None and occupied.issue is not None and occupied.issue.open:
            self._resolve(occupied.issue, SYSTEM, "bay free")

    # -- bindings -------------------------------------------------------------------------

    def _bind(self, plug: _Plug, plate: str, method: Method | str, confidence: float,
              read_id: int | None, *, actor: str = "") -> Binding:
        session = self._gate.session_of(plate) if self._gate is not None else None
        b = Binding(
            id=0, plate=plate, bay_id=plug.bay.id, charger_id=plug.key[0],
            connector_id=plug.key[1], transaction_id=plug.transaction_id,
            method=str(method), confidence=round(float(confidence), 3),
            created_at=self._clock(),
            parking_session_id=(session.id or None) if session is not None else None,
            read_id=read_id, actor=actor)
        if self._plugs.get(plug.key) is plug:
            plug.binding = b
            self._active[plug.key] = b
        if b.transaction_id is not None:
            self._by_tx[b.transaction_id] = b
        self._remember(b)
        b.stored = self._spawn(self._store_binding(b, session), "binding-store")
        log.info("binding: %s at %s (%s/%s) by %s, confidence %.2f, session %s", plate,
                 b.bay_id, b.charger_id, b.connector_id, b.method, b.confidence,
                 b.transaction_id,
                 extra={"event": "binding_made", "plate": plate, "bay_id": b.bay_id,
                        "method": b.method, "transaction_id": b.transaction_id})
        return b

    def _end(self, b: Binding, ended_by: EndedBy) -> None:
        if not b.active:
            return
        b.ended_at = self._clock()
        b.ended_by = ended_by.value
        key = (b.charger_id, b.connector_id)
        if self._active.get(key) is b:
            del self._active[key]
        plug = self._plugs.get(key)
        if plug is not None and plug.binding is b:
            plug.binding = None
        self._changed(b)
        log.info("binding: %s at %s ended (%s)", b.plate, b.bay_id, b.ended_by,
                 extra={"event": "binding_ended", "plate": b.plate, "bay_id": b.bay_id,
                        "ended_by": b.ended_by})

    def _changed(self, b: Binding) -> None:
        self._spawn(self._store_update(b), "binding-update")

    def _remember(self, b: Binding) -> None:
        self._bindings.append(b)
        ended = [x for x in self._bindings if not x.active]
        if len(ended) > self._keep_ended:
            drop = set(map(id, ended[:len(ended) - self._keep_ended]))
            self._bindings = [x for x in self._bindings if id(x) not in drop]
            for tx_id in [t for t, x in self._by_tx.items() if id(x) in drop]:
                del self._by_tx[tx_id]

    async def _store_binding(self, b: Binding, session: Any) -> int:
        stored = getattr(session, "stored", None)
        if session is not None and not session.id and stored is not None:
            # The car's parking session is being written: its id comes with it.
            await asyncio.wait({stored}, timeout=5)
            b.parking_session_id = session.id or None
        try:
            b.id = await self._store.insert_binding(b)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("binding of %s at %s not stored: %s: %s", b.plate, b.bay_id,
                        type(exc).__name__, exc, extra={"event": "binding_db_failed"})
            return 0
        self._publish_binding(b)
        return b.id

    async def _store_update(self, b: Binding) -> None:
        if not await self._stored(b):
            return
        self._store.update_binding(b)
        self._publish_binding(b)

    @staticmethod
    async def _stored(record: Binding | BindingIssue) -> int:
        if record.stored is not None and not record.id:
            await asyncio.wait({record.stored})
        return record.id

    def _publish_binding(self, b: Binding) -> None:
        self._bus.publish(BindingChanged(
            at=self._clock(), binding_id=b.id, bay_id=b.bay_id, charger_id=b.charger_id,
            connector_id=b.connector_id, plate=b.plate, transaction_id=b.transaction_id,
            method=b.method, confidence=b.confidence, active=b.active))

    # -- issues ---------------------------------------------------------------------------

    def _raise(self, kind: IssueKind, bay: Bay, plates: Sequence[str], detail: str, *,
               transaction_id: int | None) -> BindingIssue:
        plates = tuple(plates)
        for issue in self._issues:  # the same issue once
            if (issue.kind, issue.bay_id, issue.transaction_id) == (
                    kind.value, bay.id, transaction_id) and set(issue.plates) == set(plates):
                return issue
        issue = BindingIssue(
            id=0, kind=kind.value, bay_id=bay.id, created_at=self._clock(),
            charger_id=bay.charger_id or "", connector_id=bay.connector_id,
            transaction_id=transaction_id, plates=plates, detail=detail[:200])
        self._issues.append(issue)
        issue.stored = self._spawn(self._store_issue(issue), "binding-issue-store")
        log.info("binding issue at %s: %s: %s", bay.id, kind.value, detail,
                 extra={"event": "binding_issue", "kind": kind.value, "bay_id": bay.id,
                        "plates": list(plates), "transaction_id": transaction_id})
        return issue

    def _resolve(self, issue: BindingIssue, by: str, resolution: str) -> None:
        if not issue.open:
            return
        issue.resolved_at = self._clock()
        issue.resolved_by = by
        issue.resolution = resolution[:200]
        if issue in self._issues:
            self._issues.remove(issue)
        self._spawn(self._store_issue_update(issue), "binding-issue-update")
        log.info("binding issue at %s (%s) resolved by %s: %s", issue.bay_id, issue.kind, by,
                 resolution, extra={"event": "binding_issue_resolved", "kind": issue.kind,
                                    "bay_id": issue.bay_id})

    async def _store_issue(self, issue: BindingIssue) -> int:
        try:
            issue.id = await self._store.insert_issue(issue)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("binding issue at %s not stored: %s: %s", issue.bay_id,
                        type(exc).__name__, exc, extra={"event": "binding_db_failed"})
            return 0
        self._publish_issue(issue)
        return issue.id

    async def _store_issue_update(self, issue: BindingIssue, *, publish: bool = True) -> None:
        if not await self._stored(issue):
            return
        self._store.update_issue(issue)
        if publish:
            self._publish_issue(issue)

    def _publish_issue(self, issue: BindingIssue) -> None:
        self._bus.publish(BindingIssueChanged(
            at=self._clock(), issue_id=issue.id, kind=issue.kind, bay_id=issue.bay_id,
            detail=issue.detail, open=issue.open, plates=tuple(issue.plates),
            charger_id=issue.charger_id, transaction_id=issue.transaction_id))

    def _resolve_for(self, plug: _Plug, actor: str, resolution: str) -> None:
        """The attendant decided a plug: its open binding issues are settled."""
        for issue in list(self._issues):
            if issue.kind == IssueKind.ICE:
                continue
            same_tx = (plug.transaction_id is not None
                       and issue.transaction_id == plug.transaction_id)
            same_plug = (issue.bay_id == plug.bay.id and issue.transaction_id is None
                         and plug.transaction_id is None)
            if same_tx or same_plug or issue is plug.issue:
                self._resolve(issue, actor, resolution)

    # -- attendant actions ----------------------------------------------------------------

    async def bind(self, actor: str, target: str | int, plate: str, reason: str) -> Binding:
        """Bind a plate to a bay (its connector's session, or the car there now) or to a
        transaction (by id; also one that has ended, for its bill)."""
        wanted = normalize_plate(plate)
        if not wanted:
            raise ValueError("no plate given")
        plug, ended = self._target(target)
        if plug.binding is not None and plug.binding.active:
            raise ValueError(f"bay {plug.bay.label} is bound to {plug.binding.plate} already: "
                             "rebind it")
        plug.manual = False
        b = self._bind(plug, wanted, Method.ATTENDANT, ATTENDANT_CONFIDENCE, None, actor=actor)
        if ended:
            self._end(b, EndedBy.SESSION_END)
        self._resolve_for(plug, actor, f"bound to {wanted}: {reason}")
        await self._stored(b)
        self._audit(actor, AUDIT_BIND, f"bay:{b.bay_id}", {
            "binding_id": b.id, "plate": wanted, "transaction_id": b.transaction_id,
            "parking_session_id": b.parking_session_id, "reason": reason})
        return b

    async def rebind(self, actor: str, binding_id: int, plate: str, reason: str) -> Binding:
        """Move an active binding to another plate: the old one ends (rebind), the new
        one (attendant) takes that plate's parking session."""
        old = self._active_by_id(binding_id)
        wanted = normalize_plate(plate)
        if not wanted:
            raise ValueError("no plate given")
        if wanted == old.plate:
            raise ValueError(f"binding {binding_id} is {wanted} already")
        key = (old.charger_id, old.connector_id)
        plug = self._plugs.get(key)
        if plug is None or plug.binding is not old:
            plug = _Plug(self._bays[old.bay_id], [old.created_at], old.transaction_id)
        self._end(old, EndedBy.REBIND)
        b = self._bind(plug, wanted, Method.ATTENDANT, ATTENDANT_CONFIDENCE, None, actor=actor)
        self._resolve_for(plug, actor, f"rebound to {wanted}: {reason}")
        await self._stored(b)
        self._audit(actor, AUDIT_REBIND, f"binding:{old.id}", {
            "binding_id": b.id, "old_plate": old.plate, "plate": wanted,
            "bay_id": b.bay_id, "transaction_id": b.transaction_id,
            "old_parking_session_id": old.parking_session_id,
            "parking_session_id": b.parking_session_id, "reason": reason})
        return b

    async def unbind(self, actor: str, binding_id: int, reason: str) -> None:
        """End a binding; the plug is not bound automatically again."""
        old = self._active_by_id(binding_id)
        plug = self._plugs.get((old.charger_id, old.connector_id))
        if plug is not None and plug.binding is old:
            plug.manual = True
        self._end(old, EndedBy.UNBIND)
        self._audit(actor, AUDIT_UNBIND, f"binding:{old.id}", {
            "plate": old.plate, "bay_id": old.bay_id, "transaction_id": old.transaction_id,
            "reason": reason})

    async def resolve_issue(self, actor: str, issue_id: int, resolution: str) -> None:
        issue = next((i for i in self._issues if i.id == issue_id), None)
        if issue is None:
            raise LookupError(f"no open binding issue {issue_id}")
        self._resolve(issue, actor, resolution)
        self._audit(actor, AUDIT_RESOLVE, f"binding_issue:{issue_id}", {
            "kind": issue.kind, "bay_id": issue.bay_id, "plates": list(issue.plates),
            "transaction_id": issue.transaction_id, "resolution": resolution})

    def _active_by_id(self, binding_id: int) -> Binding:
        b = self.binding(binding_id)
        if b is None:
            raise LookupError(f"no binding {binding_id}")
        if not b.active:
            raise ValueError(f"binding {binding_id} has ended ({b.ended_by})")
        return b

    def _target(self, target: str | int) -> tuple[_Plug, bool]:
        """The plug a bind is for, and whether its transaction has ended."""
        if isinstance(target, int):
            tx = self._tx.get(target)
            if tx is None:
                raise LookupError(f"no transaction {target}")
            key = (tx.charger_id, tx.connector_id)
            bay = self._bay_at.get(key)
            if bay is None:
                raise LookupError(f"connector {tx.charger_id}/{tx.connector_id} has no bay")
            plug = self._plugs.get(key)
            if plug is not None and plug.transaction_id == tx.id:
                return plug, False
            if tx.active and plug is None:
                plug = _Plug(bay, [tx.started_at or self._clock()], tx.id, tx.id_token)
                self._plugs[key] = plug
                return plug, False
            # An ended session (or one the map no longer shows): a one-off plug.
            return _Plug(bay, [tx.started_at or self._clock()], tx.id, tx.id_token), \
                not tx.active
        bay = self._bays.get(target)
        if bay is None:
            raise LookupError(f"no bay {target!r}")
        if not bay.charger_id or bay.connector_id is None:
            raise ValueError(f"bay {bay.label} has no charger")
        key = (bay.charger_id, bay.connector_id)
        plug = self._plugs.get(key)
        if plug is None:
            tx = self._tx.active_on(*key)
            plug = _Plug(bay, [self._clock()], tx.id if tx else None, tx.id_token if tx else "")
            self._plugs[key] = plug
        return plug, False

    # -- helpers --------------------------------------------------------------------------

    def _audit(self, actor: str, action: str, target: str, details: dict) -> None:
        if self._audit_fn is not None:
            self._audit_fn(actor, action, target, details)

    def _warn_once(self, key: Any, message: str, *args: Any) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning(message, *args, extra={"event": "binding_bad_input"})

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.running.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("binding: %s failed: %s: %s", task.get_name(), type(exc).__name__, exc,
                      exc_info=exc)
