"""Enforcement: ICE-ing and overstay violations, the repeat-offender ladder, attendants'
fees with evidence, supervisors' waivers and adjustments.

Automatic violations:
- BindingIssueChanged kind "ice" (open): the binding service saw a bay occupied with no
  charging session for longer than its `ice_grace_s` -> an "ice" violation of the plate
  read there (or of the bay when nothing was read), once per issue;
- ParkingSessionChanged closing with overstay_min > 0 -> an "overstay" violation of that
  parking session's plate / account.

Each takes the step the ladder (app.domain.enforcement) gives for the offender's history
(the plate's, and its account's: any plate of the account counts). A fee or ban step
carries the ladder's amount; a ban step also blocklists the plate for the step's days
(AccessService.add_block, audited there). Automatic violations are recorded "issued":
the ladder is the site's policy, a supervisor waives what should not stand.

Attendant: `propose_fee` (what the fee dialog shows), `issue_fee` (with evidence: the
bay camera's recent reads with their snapshots, the connector's OCPP status timeline and
the times). Supervisor: `waive` / `adjust` with a reason (a waived ban lifts its block).
Every manual action is audited; every change is published as ViolationChanged.

Billing takes issued/adjusted violations with amount > 0 of a parking session as fees on
that session's bill (the violations table): parking_session_id is set whenever known.

Handlers run on the loop; the writes and the events that need a row id follow in tasks.
The offender cache (violations inside the ladder's window) answers `offender_level` in
memory: the badge shown wherever a plate appears.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.domain.access import CredentialKind, normalize_plate
from app.domain.enforcement import (
    Ladder,
    OffenderLevel,
    Step,
    StepKind,
    Violation,
    ViolationKind,
    ViolationStatus,
)
from app.domain.events import BindingIssueChanged, ParkingSessionChanged, ViolationChanged
from app.domain.site import Bay, Site
from app.services.ports import Audit, Clock
from app.services.staff import Approval, require_supervisor

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:enforcement"
AUDIT_ISSUE = "violation_issued"
AUDIT_WAIVE = "violation_waived"
AUDIT_ADJUST = "violation_adjusted"
AUDIT_LADDER = "enforcement_ladder"
EVIDENCE_WINDOW_S = 30 * 60.0  # reads and status changes this long before the offence
OVERSTAY_CHECK_S = 60.0  # how often the cars inside are checked against their max stay
MAX_READS = 20


# ---- ports ------------------------------------------------------------------------------

class ViolationStore(Protocol):
    async def insert(self, violation: Violation) -> int: ...
    async def update(self, violation: Violation) -> None: ...
    async def get(self, violation_id: int) -> Violation | None: ...
    async def history(self, plate: str, account_id: int | None, *,
                      limit: int = 200) -> list[Violation]: ...
    async def since(self, at: datetime) -> list[Violation]: ...
    async def camera_reads(self, camera_id: str, since: datetime, until: datetime,
                           plates: tuple[str, ...] = (), limit: int = MAX_READS
                           ) -> list[dict]: ...
    async def connector_timeline(self, charger_id: str, connector_id: int, since: datetime,
                                 until: datetime) -> list[dict]: ...
    async def parking_session(self, session_id: int) -> dict | None: ...
    async def save_ladder(self, data: dict) -> None: ...


class _Bus(Protocol):
    def publish(self, event: Any) -> None: ...
    def subscribe(self, handler: Callable[[Any], None],
                  event_type: type | None = None) -> Callable[[], None]: ...


@dataclass(frozen=True, slots=True)
class FeeContext:
    """What a fee proposal (the tariff, via billing) is asked about."""

    kind: ViolationKind
    plate: str
    account_id: int | None
    bay_id: str
    parking_session_id: int | None
    at: datetime
    minutes: float = 0.0  # overstay / idle minutes when known


# propose_fee(context) -> amount in minor units, or None: the ladder's step decides.
ProposeFee = Callable[[FeeContext], int | None]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _jsonable(rows: list[dict]) -> list[dict]:
    return [{k: _iso(v) for k, v in row.items()} for row in rows]


# ---- the service ------------------------------------------------------------------------

class EnforcementService:
    """`access`: AccessService (index.find_plate, add_block, remove_block); `gate`:
    GateService (session_of) or None. `ladder`: from the site setting (Ladder.from_dict)."""

    def __init__(self, site: Site, store: ViolationStore, bus: _Bus, clock: Clock,
                 audit: Audit, *, access: Any, gate: Any = None, ladder: Ladder | None = None,
                 propose_fee: ProposeFee | None = None,
                 evidence_window_s: float = EVIDENCE_WINDOW_S) -> None:
        self.site = site
        self.ladder = ladder or Ladder()
        self.propose_fee_hook = propose_fee
        self.evidence_window_s = evidence_window_s
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._access = access
        self._gate = gate
        self._recent: dict[int | str, Violation] = {}  # in the window; key id (or temp)
        self._seen_issues: set[int] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._tasks: set[asyncio.Task] = set()
        self._temp = 0
        # Stays with an overstay violation already (found inside, or at the exit): one each.
        self._overstayed: set[int] = set()
        self._ticker: asyncio.Task | None = None
        self.overstay_check_s = OVERSTAY_CHECK_S

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        now = self._clock()
        for violation in await self._store.since(self.ladder.since(now)):
            self._recent[violation.id] = violation
            issue_id = violation.evidence.get("issue_id")
            if isinstance(issue_id, int):
                self._seen_issues.add(issue_id)
            if violation.kind is ViolationKind.OVERSTAY and violation.parking_session_id:
                self._overstayed.add(violation.parking_session_id)
        self._unsubscribe = [
            self._bus.subscribe(self._on_issue, BindingIssueChanged),
            self._bus.subscribe(self._on_parking, ParkingSessionChanged),
        ]
        if self._gate is not None and self._ticker is None:
            self._ticker = asyncio.create_task(self._watch_overstays(),
                                               name="enforcement-overstay")

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait for the pending automatic violations (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- queries --------------------------------------------------------------------------

    def account_of(self, plate: str) -> int | None:
        try:
            cred = self._access.index.find_plate(plate) if plate else None
        except Exception as exc:  # the badge must not fail over a lookup
            log.warning("enforcement: account of %s unknown: %s", plate, exc,
                        extra={"event": "enforcement_lookup_failed", "plate": plate})
            return None
        return cred.account_id if cred is not None else None

    def _offences(self, plate: str, account_id: int | None) -> list[Violation]:
        return [v for v in self._recent.values() if v.of(plate, account_id)]

    async def recent(self, limit: int = 200) -> list[Violation]:
        """The violations of the ladder's window, newest first (the Violations tab)."""
        rows = await self._store.since(self.ladder.since(self._clock()))
        return sorted(rows, key=lambda v: v.at, reverse=True)[:limit]

    def offender_level(self, plate: str) -> OffenderLevel:
        """Offences of this plate (and its account) in the ladder window, the last step."""
        plate = normalize_plate(plate)
        offences = self._offences(plate, self.account_of(plate))
        return self.ladder.level([v.offence for v in offences], self._clock())

    async def set_ladder(self, actor: str, data: dict, *,
                         approval: Approval | None = None) -> Ladder:
        """Store and apply a new ladder (ValueError names a bad field). A supervisor
        action; it counts the same offences from now on, it does not redo past steps."""
        approval = require_supervisor(approval, "Changing the enforcement ladder")
        ladder = Ladder.from_dict(data)
        before = self.ladder.to_dict()
        await self._store.save_ladder(ladder.to_dict())
        self.ladder = ladder
        self._audit(actor, AUDIT_LADDER, "enforcement:ladder",
                    {"before": before, "after": ladder.to_dict(),
                     "approved_by": approval.username})
        log.info("enforcement ladder changed by %s: %s", approval.username, ladder.to_dict(),
                 extra={"event": "enforcement_ladder_changed"})
        return ladder

    def offences(self, plate: str) -> list[Violation]:
        """This plate's (and its account's) violations in the ladder window, newest first,
        from memory: the offender history a badge shows wherever the plate appears."""
        plate = normalize_plate(plate)
        if not plate:
            return []
        return sorted(self._offences(plate, self.account_of(plate)),
                      key=lambda v: v.at, reverse=True)

    async def history(self, plate_or_account: str | int, *,
                      limit: int = 200) -> list[Violation]:
        """All violations (newest first) of a plate (and its account) or of an account."""
        if isinstance(plate_or_account, int):
            return await self._store.history("", plate_or_account, limit=limit)
        plate = normalize_plate(plate_or_account)
        return await self._store.history(plate, self.account_of(plate), limit=limit)

    async def get(self, violation_id: int) -> Violation | None:
        return await self._store.get(violation_id)

    def next_step(self, plate: str, account_id: int | None = None) -> Step:
        plate = normalize_plate(plate)
        if account_id is None:
            account_id = self.account_of(plate)
        offences = self._offences(plate, account_id) if (plate or account_id) else []
        return self.ladder.next_step([v.offence for v in offences], self._clock())

    def propose_fee(self, kind: ViolationKind | str, *, plate: str = "", bay_id: str = "",
                    parking_session_id: int | None = None, minutes: float = 0.0) -> int:
        """The amount the fee dialog proposes: the tariff's (billing's hook) if it has
        one, else the ladder's next step's amount (0 for a warning)."""
        plate = normalize_plate(plate)
        account_id = self.account_of(plate)
        context = FeeContext(ViolationKind(kind), plate, account_id, bay_id,
                             parking_session_id, self._clock(), minutes)
        if self.propose_fee_hook is not None:
            try:
                amount = self.propose_fee_hook(context)
            except Exception as exc:
                log.warning("enforcement: fee proposal failed: %s", exc,
                            extra={"event": "enforcement_proposal_failed"})
                amount = None
            if amount is not None:
                return max(0, int(amount))
        return self.next_step(plate, account_id).amount

    # -- bus handlers (never raise) -------------------------------------------------------

    def _on_issue(self, event: BindingIssueChanged) -> None:
        if event.kind != "ice" or not event.open or event.issue_id in self._seen_issues:
            return
        self._seen_issues.add(event.issue_id)
        self._spawn(self._ice(event), f"enforcement-ice-{event.issue_id}")

    def _on_parking(self, event: ParkingSessionChanged) -> None:
        if event.opened or event.overstay_min <= 0:
            return
        if event.session_id and event.session_id in self._overstayed:
            return  # found overstaying while inside: one violation per stay
        if event.session_id:
            self._overstayed.add(event.session_id)
        self._spawn(self._overstay(event), f"enforcement-overstay-{event.session_id}")

    async def _watch_overstays(self) -> None:
        while True:
            await asyncio.sleep(self.overstay_check_s)
            try:
                await self.check_overstays()
            except Exception:  # a bug of ours: loud, and the next round still runs
                log.exception("enforcement: overstay check failed")

    async def check_overstays(self) -> list[Violation]:
        """Cars still inside past their group's maximum stay: an overstay violation each,
        once per stay, so the attendant hears of it before the car is at the exit."""
        now = self._clock()
        found = []
        for session in self._gate.open_sessions() if self._gate is not None else ():
            if not session.id or session.id in self._overstayed:
                continue
            max_min = self._access.max_stay_min(session.account_id)
            if not max_min:
                continue
            over = int((now - session.entry_at).total_seconds() // 60) - int(max_min)
            if over <= 0:
                continue
            self._overstayed.add(session.id)
            plate = normalize_plate(session.plate or (
                session.value if session.kind == "plate" else ""))
            evidence = {"entry_at": _iso(session.entry_at), "entry_lane": session.entry_lane,
                        "max_stay_min": int(max_min), "overstay_min": over,
                        "detected_at": _iso(now), "inside": True,
                        "zone_id": session.zone_id, "value": session.value}
            found.append(await self._record(
                ViolationKind.OVERSTAY, plate=plate, account_id=session.account_id,
                parking_session_id=session.id, evidence=evidence,
                reason=f"still inside {over} min past the maximum stay of {max_min} min"))
        return found

    # -- automatic violations -------------------------------------------------------------

    async def _ice(self, event: BindingIssueChanged) -> None:
        plate = normalize_plate(event.plates[0]) if event.plates else ""
        bay = self._bay(event.bay_id)
        session = self._session_of(plate)
        evidence = await self._evidence(bay, event.at, plates=event.plates)
        evidence.update({"issue_id": event.issue_id, "detail": event.detail,
                         "plates": list(event.plates), "detected_at": _iso(event.at)})
        await self._record(ViolationKind.ICE, plate=plate, bay_id=event.bay_id,
                           parking_session_id=session.id if session else None,
                           transaction_id=event.transaction_id, evidence=evidence,
                           reason=f"bay {event.bay_id} occupied without charging")

    async def _overstay(self, event: ParkingSessionChanged) -> None:
        facts = await self._store.parking_session(event.session_id) if event.session_id \
            else None
        plate = normalize_plate((facts or {}).get("plate") or "")
        if not plate and (facts or {}).get("kind", "plate") == "plate":
            plate = normalize_plate(event.value)
        account_id = (facts or {}).get("account_id")
        evidence = {"entry_at": _iso((facts or {}).get("entry_at")),
                    "exit_at": _iso((facts or {}).get("exit_at") or event.at),
                    "entry_lane": (facts or {}).get("entry_lane", ""),
                    "exit_lane": (facts or {}).get("exit_lane", ""),
                    "overstay_min": event.overstay_min, "zone_id": event.zone_id,
                    "value": event.value}
        await self._record(ViolationKind.OVERSTAY, plate=plate, account_id=account_id,
                           parking_session_id=event.session_id or None, evidence=evidence,
                           reason=f"stayed {event.overstay_min} min past the maximum")

    async def _record(self, kind: ViolationKind, *, plate: str = "",
                      account_id: int | None = None, bay_id: str = "",
                      parking_session_id: int | None = None,
                      transaction_id: int | None = None, evidence: dict | None = None,
                      reason: str = "", actor: str = SYSTEM_ACTOR,
                      amount: int | None = None) -> Violation:
        """Step by the ladder (decided in memory, at once), store, ban, publish."""
        now = self._clock()
        if account_id is None:
            account_id = self.account_of(plate)
        step = self.next_step(plate, account_id) if (plate or account_id) else self.ladder.steps[0]
        if amount is None:
            amount = step.amount
        step_kind = step.kind
        if step_kind is StepKind.WARNING and amount > 0:
            step_kind = StepKind.FEE  # an attendant's fee is at least a fee
        violation = Violation(
            id=0, kind=kind, at=now, step=step_kind, status=ViolationStatus.ISSUED,
            plate=plate, account_id=account_id, bay_id=bay_id,
            parking_session_id=parking_session_id, transaction_id=transaction_id,
            amount=amount, evidence=dict(evidence or {}), actor=actor, reason=reason[:200])
        violation.evidence["ladder"] = {"step": step.to_dict(),
                                        "window_days": self.ladder.window_days}
        self._temp -= 1
        temp_key: int | str = f"pending{self._temp}"
        if plate or account_id is not None:
            self._recent[temp_key] = violation  # counts for the next offence right away
        try:
            violation.id = await self._store.insert(violation)
        except BaseException:
            self._recent.pop(temp_key, None)
            raise
        if self._recent.pop(temp_key, None) is not None:
            self._recent[violation.id] = violation
        self._prune(now)
        if step.kind is StepKind.BAN and step.ban_days > 0:
            await self._ban(violation, step, now)
        self._publish(violation, actor)
        log.info("violation %d: %s %s step %s amount %d", violation.id, kind.value,
                 plate or bay_id or "?", step_kind.value, amount,
                 extra={"event": "violation_recorded", "violation_id": violation.id,
                        "kind": kind.value, "plate": plate, "step": step_kind.value})
        return violation

    async def _ban(self, violation: Violation, step: Step, now: datetime) -> None:
        if not violation.plate:
            log.info("violation %d: ban step without a plate, nothing blocklisted",
                     violation.id, extra={"event": "violation_ban_skipped"})
            return
        until = now + timedelta(days=step.ban_days)
        reason = (f"enforcement: repeat offender ({violation.kind.value}, "
                  f"violation {violation.id})")
        try:
            block_id = await self._access.add_block(SYSTEM_ACTOR, CredentialKind.PLATE,
                                                    violation.plate, reason, until)
        except Exception as exc:
            log.warning("violation %d: blocklisting %s failed: %s", violation.id,
                        violation.plate, exc, extra={"event": "violation_ban_failed"})
            return
        violation.evidence["ban"] = {"block_id": block_id, "until": _iso(until),
                                     "days": step.ban_days}
        await self._store.update(violation)

    # -- the attendant --------------------------------------------------------------------

    async def issue_fee(self, actor: str, *, kind: ViolationKind | str, reason: str,
                        bay_id: str = "", parking_session_id: int | None = None,
                        plate: str = "", transaction_id: int | None = None,
                        amount: int | None = None, minutes: float = 0.0) -> Violation:
        """An overstay / idle / ICE fee from the bay or the parking session. `amount`
        None: the proposal (tariff hook, else the ladder's step). Evidence attached."""
        kind = ViolationKind(kind)
        if not bay_id and parking_session_id is None and not plate:
            raise ValueError("a fee needs a bay, a parking session or a plate")
        if amount is not None and amount < 0:
            raise ValueError("a fee cannot be negative")
        plate = normalize_plate(plate)
        facts: dict = {}
        if parking_session_id is not None:
            facts = await self._store.parking_session(parking_session_id) or {}
            if not facts:
                raise ValueError(f"no parking session {parking_session_id}")
            plate = plate or normalize_plate(facts.get("plate") or "")
        if parking_session_id is None and plate:
            session = self._session_of(plate)
            parking_session_id = session.id if session else None
        if amount is None:
            amount = self.propose_fee(kind, plate=plate, bay_id=bay_id,
                                      parking_session_id=parking_session_id,
                                      minutes=minutes)
        now = self._clock()
        bay = self._bay(bay_id) if bay_id else None
        evidence = await self._evidence(bay, now, plates=(plate,) if plate else ())
        evidence["issued_at"] = _iso(now)
        if minutes:
            evidence["minutes"] = minutes
        if facts:
            evidence["entry_at"] = _iso(facts.get("entry_at"))
            evidence["exit_at"] = _iso(facts.get("exit_at"))
        violation = await self._record(
            kind, plate=plate, account_id=facts.get("account_id"), bay_id=bay_id,
            parking_session_id=parking_session_id, transaction_id=transaction_id,
            evidence=evidence, reason=reason, actor=actor, amount=int(amount))
        self._audit(actor, AUDIT_ISSUE, f"violation:{violation.id}",
                    {"kind": kind.value, "plate": plate, "bay_id": bay_id,
                     "parking_session_id": parking_session_id, "amount": violation.amount,
                     "step": violation.step.value, "reason": reason})
        return violation

    # -- the supervisor -------------------------------------------------------------------

    async def waive(self, actor: str, violation_id: int, reason: str, *,
                    approval: Approval | None = None) -> Violation:
        """No fee, and it no longer counts on the ladder; a ban it caused is lifted.
        A supervisor action: `approval` from StaffService.approve."""
        approval = require_supervisor(approval, f"Waiving violation #{violation_id}")
        violation = await self._resolvable(violation_id, reason)
        before = violation.amount
        self._resolve(violation, approval.username, ViolationStatus.WAIVED, before, reason)
        ban = violation.evidence.get("ban") or {}
        if ban.get("block_id") is not None:
            try:
                await self._access.remove_block(actor, int(ban["block_id"]))
                ban["lifted"] = True
            except Exception as exc:
                log.warning("violation %d: lifting block %s failed: %s", violation_id,
                            ban["block_id"], exc, extra={"event": "violation_unban_failed"})
        await self._store.update(violation)
        self._cache(violation)
        self._audit(actor, AUDIT_WAIVE, f"violation:{violation_id}",
                    {"reason": reason, "amount": before, "plate": violation.plate,
                     "approved_by": approval.username})
        self._publish(violation, actor)
        return violation

    async def adjust(self, actor: str, violation_id: int, amount: int,
                     reason: str, *, approval: Approval | None = None) -> Violation:
        """A supervisor action: `approval` from StaffService.approve."""
        approval = require_supervisor(approval, f"Adjusting violation #{violation_id}")
        if amount < 0:
            raise ValueError("an amount cannot be negative")
        violation = await self._resolvable(violation_id, reason)
        before = violation.amount
        self._resolve(violation, approval.username, ViolationStatus.ADJUSTED, amount, reason)
        await self._store.update(violation)
        self._cache(violation)
        self._audit(actor, AUDIT_ADJUST, f"violation:{violation_id}",
                    {"reason": reason, "amount_before": before, "amount": amount,
                     "plate": violation.plate, "approved_by": approval.username})
        self._publish(violation, actor)
        return violation

    async def _resolvable(self, violation_id: int, reason: str) -> Violation:
        if not reason.strip():
            raise ValueError("a reason is required")
        violation = await self._store.get(violation_id)
        if violation is None:
            raise ValueError(f"no violation {violation_id}")
        if violation.status is ViolationStatus.WAIVED:
            raise ValueError(f"violation {violation_id} is already waived")
        return violation

    def _resolve(self, violation: Violation, actor: str, status: ViolationStatus,
                 amount: int, reason: str) -> None:
        now = self._clock()
        changes = list(violation.evidence.get("changes") or [])
        changes.append({"at": _iso(now), "actor": actor, "status": status.value,
                        "amount_before": violation.amount, "amount": amount,
                        "reason": reason})
        violation.evidence = {**violation.evidence, "changes": changes}
        violation.status = status
        violation.amount = amount
        violation.resolved_by = actor[:128]
        violation.resolved_at = now

    # -- helpers --------------------------------------------------------------------------

    def _bay(self, bay_id: str) -> Bay | None:
        return next((b for b in self.site.bays if b.id == bay_id), None)

    def _session_of(self, plate: str) -> Any:
        if not plate or self._gate is None:
            return None
        try:
            session = self._gate.session_of(plate)
        except Exception as exc:
            log.warning("enforcement: parking session of %s unknown: %s", plate, exc,
                        extra={"event": "enforcement_lookup_failed", "plate": plate})
            return None
        return session if session is not None and session.id else None

    async def _evidence(self, bay: Bay | None, at: datetime, *,
                        plates: tuple[str, ...] = ()) -> dict:
        """The bay camera's reads (snapshot paths), the connector's status timeline."""
        since = at - timedelta(seconds=self.evidence_window_s)
        until = max(at, self._clock())
        evidence: dict[str, Any] = {"window": [_iso(since), _iso(until)]}
        if bay is None:
            return evidence
        evidence["bay_id"] = bay.id
        wanted = tuple(normalize_plate(p) for p in plates if p)
        try:
            if bay.camera_id:
                evidence["camera_id"] = bay.camera_id
                evidence["reads"] = _jsonable(await self._store.camera_reads(
                    bay.camera_id, since, until, wanted))
            if bay.charger_id and bay.connector_id is not None:
                evidence["charger_id"] = bay.charger_id
                evidence["connector_id"] = bay.connector_id
                evidence["timeline"] = _jsonable(await self._store.connector_timeline(
                    bay.charger_id, bay.connector_id, since, until))
        except Exception as exc:  # a violation without its evidence beats none at all
            log.warning("enforcement: evidence of bay %s incomplete: %s", bay.id, exc,
                        extra={"event": "enforcement_evidence_failed", "bay_id": bay.id})
            evidence["evidence_error"] = f"{type(exc).__name__}: {exc}"
        return evidence

    def _cache(self, violation: Violation) -> None:
        if violation.id in self._recent:
            self._recent[violation.id] = violation

    def _prune(self, now: datetime) -> None:
        since = self.ladder.since(now)
        for key in [k for k, v in self._recent.items() if v.at <= since]:
            del self._recent[key]

    def _publish(self, violation: Violation, actor: str) -> None:
        offences = self.ladder.count(
            [v.offence for v in self._offences(violation.plate, violation.account_id)],
            self._clock()) if (violation.plate or violation.account_id is not None) else 0
        self._bus.publish(ViolationChanged(
            at=self._clock(), violation_id=violation.id, kind=violation.kind.value,
            plate=violation.plate, account_id=violation.account_id, bay_id=violation.bay_id,
            parking_session_id=violation.parking_session_id, step=violation.step.value,
            amount=violation.amount, status=violation.status.value, offences=offences,
            actor=actor))

    def _spawn(self, coro, name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(coro, name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("enforcement: %s failed: %s: %s", name, type(exc).__name__, exc,
                        extra={"event": "enforcement_failed", "task": name})
