"""One bill per parking stay: parking, charging, idle, overstay and fees on one record.

The bill of a parking session is always recomputed from its timeline by the pure engine
(app.domain.billing.compute_bill): the session (entry, exit, zone, plate, the account's
group and maximum stay), the charging sessions bound to it (the newest binding of each
transaction decides: a rebind moves the charging to the other stay's bill), their meter
registers, when charging finished (ChargingFinished, else the transaction's end), the
bill's waivers and validations, the issued violation fees of the stay, and the permit
allowance already used this month.

Allowance (a tariff's ``allowance.kwh_per_month``): a stay of an account may use what is
left of the month's allowance after the account's *other* bills, counting the bills of
the stays whose entry falls in the same calendar month, in the site's time zone, as this
stay's entry (the month of the entry decides, also for a stay across the month's end).
What a bill used is read back from its stored "allowance" lines, and the bill being
computed is always left out, so recomputing a bill never counts its own usage. Visitors
(no account) carry nothing over. A bill is not recomputed when another bill of the
month changes: it keeps the allowance it was given until something of its own changes.

It recomputes on: a parking session opened or closed (ParkingSessionChanged), a binding
made, changed or ended (BindingChanged), a transaction ended (TransactionEnded, also a
late one from a charger's offline queue), charging finished or resumed, an adjustment, a
payment. Recomputes of one stay run one at a time; a change during a recompute runs it
once more. The stored bill (``bills``, one row per parking session) moves to revision+1
only when its lines or totals change; an unchanged recompute writes nothing and publishes
nothing. Every change publishes BillChanged.

Status: ``open`` while the car is inside and something is owed; ``paid`` once the
payments cover the total; ``due`` when the car has left (or the bill was settled at the
exit) and something is still owed.

The exit: ``settle(session)`` fixes the bill at the exit moment (the car is still at the
barrier); the real exit, when it comes within EXIT_GRACE of that, keeps the settled end,
so paying the settled bill is enough. ``is_settled(session)`` and ``check_exit(session)``
(synchronous, for the gate) price the cached timeline of the last recompute as of now.

Fees reach that cache at once: a ViolationChanged (or ``fee_changed`` with the fee's
details) records the fee issued, adjusted or waived in a per-stay overlay that every
synchronous pricing applies on top of the cached timeline, before the background
recompute has read it back from the database. An overlay entry is dropped once a
recompute that started reading after it was recorded has stored its bill (the violation
is written before its event is published, so that read sees it); until then a recompute
that began earlier cannot hide a newer fee from the exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain import events as domain_events
from app.domain.billing import (
    Adjustment,
    Bill,
    BillingError,
    ChargingPeriod,
    Fee,
    Timeline,
    compute_bill,
    deliveries_from_samples,
)
from app.domain.events import (
    BillChanged,
    BindingChanged,
    ChargingFinished,
    ChargingResumed,
    ParkingSessionChanged,
    TransactionEnded,
)
from app.domain.site import Site
from app.domain.tariffs import (
    FieldError,
    Tariff,
    applies_to,
    field_decimal,
    pick_tariff,
    tariff_from_dict,
)
from app.services.bus import handed_to_loop
from app.services.staff import Approval, require_supervisor

log = logging.getLogger(__name__)

METHODS = ("cash", "card", "invoice", "permit")
ADJUSTMENT_TYPES = ("waiver", "validation")
EXIT_GRACE = timedelta(minutes=15)  # settled at the barrier, out within this: same bill
KEEP_LEFT = 2000  # stays that left, kept in memory
AUDIT_TARIFF = "tariff_save"
AUDIT_PAYMENT = "bill_payment"
AUDIT_ADJUST = "bill_adjust"


class BillingStore(Protocol):
    """app.adapters.db.billing_repo.SqlBillingStore; every call is awaited."""

    async def load_tariffs(self) -> list[dict[str, Any]]: ...
    async def save_tariff(self, doc: dict[str, Any], actor: str, now: datetime) -> int: ...
    async def timeline_facts(self, session_id: int) -> dict[str, Any] | None: ...
    async def sessions_of_transaction(self, transaction_id: int) -> list[int]: ...
    async def sessions_of_binding(self, binding_id: int) -> list[int]: ...
    async def upsert_bill(self, values: dict[str, Any]) -> tuple[dict[str, Any], bool]: ...
    async def bill_by_id(self, bill_id: int) -> dict[str, Any] | None: ...
    async def add_payment(self, values: dict[str, Any]) -> int: ...
    async def add_adjustment(self, values: dict[str, Any]) -> int: ...
    async def recent_bills(self, limit: int = 200) -> list[dict[str, Any]]: ...
    async def allowance_used_kwh(self, account_id: int, exclude_session_id: int,
                                 since: datetime, until: datetime) -> Decimal: ...


# Violations whose fee is on the bill (as app.adapters.db.billing_repo reads them).
FEE_STATUSES = ("issued", "adjusted")


class _Bus(Protocol):
    def publish(self, event: Any) -> None: ...
    def subscribe(self, handler: Callable[[Any], None],
                  event_type: type | None = None) -> Callable[[], None]: ...


@dataclass(frozen=True)
class Payment:
    """One payment of a bill: cash, card (terminal reference), invoice, permit."""

    id: int
    at: datetime
    method: str
    reference: str
    amount: int
    actor: str = ""


@dataclass(frozen=True)
class BillRecord:
    """A stored bill: the engine's itemized Bill plus what the console adds to it."""

    id: int
    parking_session_id: int
    bill: Bill
    paid: int
    status: str  # open | due | paid | void
    revision: int
    opened_at: datetime
    closed_at: datetime | None
    plate: str = ""
    payment_methods: tuple[str, ...] = ()
    payments: tuple[Payment, ...] = ()  # oldest first: the receipt lists them

    @property
    def total(self) -> int:
        return self.bill.total

    @property
    def currency(self) -> str:
        return self.bill.currency

    @property
    def outstanding(self) -> int:
        return max(self.bill.total - self.paid, 0)

    @property
    def settled(self) -> bool:
        return self.paid >= self.bill.total


@dataclass
class _Known:
    timeline: Timeline
    record: BillRecord


def bill_status(total: int, paid: int, closed: bool) -> str:
    if paid >= total and (closed or paid > 0):
        return "paid"
    return "due" if closed else "open"


class BillingService:
    def __init__(self, site: Site, store: BillingStore, bus: _Bus,
                 clock: Callable[[], datetime], audit: Callable[[str, str, str, dict], None],
                 *, access: Any, gate: Any, transactions: Any, binding: Any) -> None:
        self._site = site
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._access = access
        self._gate = gate
        self._transactions = transactions
        self._binding = binding
        try:
            self._tz = ZoneInfo(site.timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("billing: unknown site time zone %r: days are UTC days",
                        site.timezone, extra={"event": "billing_bad_timezone"})
            self._tz = ZoneInfo("UTC")
        self._tariffs: list[Tariff] = []
        self._known: dict[int, _Known] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._pending: set[int] = set()
        self._finished: dict[int, datetime] = {}  # transaction id -> charging finished at
        self._settled_at: dict[int, datetime] = {}  # session id -> end fixed by settle()
        # session id -> fee id -> (sequence, the fee or None: waived); see the docstring
        self._fee_overlay: dict[int, dict[str, tuple[int, Fee | None]]] = {}
        self._fee_seq = 0
        self._tasks: set[asyncio.Task] = set()
        self._warned: set[Any] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.reload_tariffs()
        self._unsubscribe = [
            self._bus.subscribe(self._on_parking, ParkingSessionChanged),
            self._bus.subscribe(self._on_binding, BindingChanged),
            self._bus.subscribe(self._on_tx_ended, TransactionEnded),
            self._bus.subscribe(self._on_finished, ChargingFinished),
            self._bus.subscribe(self._on_resumed, ChargingResumed),
        ]
        # Enforcement's fees (app.services.enforcement publishes ViolationChanged).
        violation_changed = getattr(domain_events, "ViolationChanged", None)
        if violation_changed is not None:
            self._unsubscribe.append(self._bus.subscribe(self._on_violation,
                                                         violation_changed))
        for session in self._open_sessions():
            self._schedule(session)

    async def stop(self, grace_s: float = 3.0) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)

    async def settle_pending(self, timeout_s: float = 10.0) -> None:
        """Wait until every scheduled recompute has run (tests, shutdown, reports)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                return
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await asyncio.wait(pending, timeout=left)

    # -- tariffs ---------------------------------------------------------------------------

    def tariffs(self) -> list[Tariff]:
        return list(self._tariffs)

    async def reload_tariffs(self) -> None:
        tariffs = []
        for i, doc in enumerate(await self._store.load_tariffs()):
            try:
                tariffs.append(tariff_from_dict(doc, f"tariffs[{i}]"))
            except (FieldError, TypeError, ValueError) as exc:
                log.warning("billing: stored tariff %s left out: %s", doc.get("id"), exc,
                            extra={"event": "billing_bad_tariff"})
        self._tariffs = tariffs

    async def save_tariff(self, actor: str, doc: dict[str, Any], *,
                          approval: Approval | None = None) -> int:
        """Validate and store a tariff as the next version of its id (FieldError names a bad
        field). The doc's own version number is replaced. Returns the stored version.
        A supervisor action: `approval` from StaffService.approve."""
        approval = require_supervisor(approval, "Saving a tariff")
        if not isinstance(doc, dict):
            raise FieldError("tariff", "must be an object")
        tariff_from_dict({**doc, "version": 1})  # every field but the version it gets
        version = await self._store.save_tariff(dict(doc), approval.username, self._clock())
        self._audit(actor, AUDIT_TARIFF, f"tariff:{doc['id']}",
                    {"version": version, "effective_from": doc.get("effective_from"),
                     "approved_by": approval.username})
        await self.reload_tariffs()
        for session in self._open_sessions():
            self._schedule(session)
        return version

    # -- the timeline -----------------------------------------------------------------------

    async def timeline_for(self, parking_session_id: int) -> Timeline:
        facts = await self._store.timeline_facts(parking_session_id)
        if facts is None:
            raise KeyError(f"no parking session {parking_session_id}")
        raw = await self._with_allowance(parking_session_id, facts,
                                         self._timeline(parking_session_id, facts))
        return self._at_exit(parking_session_id, self._with_fees(parking_session_id, raw))

    def _timeline(self, session_id: int, facts: dict[str, Any]) -> Timeline:
        s = facts["session"]
        entry: datetime = s["entry_at"]
        exit_at: datetime | None = s.get("exit_at")
        group, max_stay = self._group(s.get("account_id"))
        periods = tuple(p for c in facts.get("charging", ())
                        if (p := self._period(c["tx"], c.get("samples", ()))) is not None)
        adjustments = tuple(_adjustment(a) for a in facts.get("adjustments", ()))
        fees = tuple(_fee(v["id"], v["amount"], v.get("kind"), v.get("reason"))
                     for v in facts.get("fees", ()))
        return Timeline(
            entry_at=entry, exit_at=exit_at, now=None if exit_at else self._clock(),
            zone=s.get("zone_id") or "", group=group, plate=s.get("plate") or "",
            session_id=str(session_id), charging=periods, adjustments=adjustments,
            max_stay_min=max_stay, fees=fees)

    async def _with_allowance(self, session_id: int, facts: dict[str, Any],
                              timeline: Timeline) -> Timeline:
        """The timeline with the allowance the account's other bills of the entry's month
        (site-local) already used; unchanged for visitors and tariffs without one."""
        account_id = facts["session"].get("account_id")
        if account_id is None:
            return timeline
        base = pick_tariff(self._tariffs, timeline.group, timeline.zone, timeline.entry_at)
        if base is None or base.allowance is None:
            return timeline
        since, until = month_of(timeline.entry_at, self._tz)
        used = await self._store.allowance_used_kwh(int(account_id), session_id, since,
                                                    until)
        return replace(timeline, allowance_used_kwh_this_month=Decimal(used))

    def _with_fees(self, session_id: int, timeline: Timeline) -> Timeline:
        """The timeline with the fees issued, adjusted or waived since it was read."""
        overlay = self._fee_overlay.get(session_id)
        if not overlay:
            return timeline
        fees = {f.id: f for f in timeline.fees}
        for fee_id, (_, fee) in overlay.items():
            if fee is None:
                fees.pop(fee_id, None)
            else:
                fees[fee_id] = fee
        return replace(timeline, fees=tuple(fees.values()))

    def _priced_now(self, session_id: int, known: _Known) -> Bill:
        """The bill of the cached timeline as of now, with the fees known since (sync)."""
        timeline = self._with_fees(session_id, known.timeline)
        return compute_bill(self._at_exit(session_id, timeline), self._tariffs, self._tz)

    def _at_exit(self, session_id: int, timeline: Timeline) -> Timeline:
        """The timeline as billed: a stay settled at the barrier ends when it was settled
        (if the car leaves within EXIT_GRACE); otherwise it runs until now."""
        hint = self._settled_at.get(session_id)
        exit_at = timeline.exit_at
        if hint is not None:
            if exit_at is not None and abs(exit_at - hint) <= EXIT_GRACE:
                exit_at = hint  # paid at the barrier, out a moment later: the same bill
            elif exit_at is None and self._clock() - hint <= EXIT_GRACE:
                exit_at = hint  # at the barrier now
            elif exit_at is None:
                del self._settled_at[session_id]  # turned back: the stay goes on
        return replace(timeline, exit_at=exit_at,
                       now=None if exit_at is not None else self._clock())

    def tariff_for(self, account_id: int | None, zone_id: str,
                   at: datetime | None = None) -> Tariff | None:
        """The tariff version that prices this account's (None: a visitor's) stay in this
        zone at `at` (default now)."""
        group, _ = self._group(account_id)
        return pick_tariff(self._tariffs, group, zone_id, at or self._clock())

    def propose_fee(self, context: Any) -> int | None:
        """Enforcement's proposal hook: the penalty the car's tariff sets for this kind of
        fee (tariff ``penalties``), or None to fall back on the ladder's amount.
        `context`: app.services.enforcement.FeeContext."""
        bay = next((b for b in self._site.bays if b.id == context.bay_id), None)
        known = self._known.get(context.parking_session_id or 0)
        zone = bay.zone_id if bay is not None else known.timeline.zone if known else ""
        tariff = self.tariff_for(context.account_id, zone, context.at)
        return tariff.penalty(str(getattr(context.kind, "value", context.kind))) \
            if tariff is not None else None

    def _group(self, account_id: int | None) -> tuple[str, int | None]:
        try:
            index = self._access.index
            account = index.accounts.get(account_id) if account_id is not None else None
            if account is not None:
                group = index.group_of(account).id
            else:
                group = "visitor" if "visitor" in getattr(index, "groups", {}) else ""
            return group, self._access.max_stay_min(account_id)
        except Exception as exc:  # the access data is being reloaded, or broken
            self._warn_once("group", "billing: group of account %s unknown: %s", account_id,
                            exc)
            return "", None

    def _period(self, tx: dict[str, Any],
                samples: Sequence[tuple[int, datetime, datetime, float]]
                ) -> ChargingPeriod | None:
        live = self._transactions.get(tx["id"]) if self._transactions is not None else None
        flagged = bool(live.clock_flagged if live is not None else tx.get("clock_flagged"))
        started = (live.started_at if live is not None else None) or tx.get("started_at")
        stopped = (live.stopped_at if live is not None else None) or tx.get("stopped_at")
        if flagged or started is None:
            started = tx.get("received_at") or started
            if stopped is not None and tx.get("updated_at") is not None:
                stopped = tx["updated_at"] if flagged else stopped
        if started is None:
            return None
        if stopped is not None and stopped < started:
            stopped = started
        registers: list[tuple[datetime, Decimal]] = []
        meter_start = live.meter_start_wh if live is not None else tx.get("meter_start_wh")
        meter_stop = live.meter_stop_wh if live is not None else tx.get("meter_stop_wh")
        if meter_start is not None:
            registers.append((started, Decimal(str(meter_start))))
        seen: set[int] = set()
        for sample_id, at, received_at, wh in samples:
            if sample_id in seen:
                continue
            seen.add(sample_id)
            moment = received_at if flagged else at
            registers.append((min(max(moment, started), stopped or moment),
                              Decimal(str(wh))))
        if meter_stop is not None and stopped is not None:
            registers.append((stopped, Decimal(str(meter_stop))))
        deliveries = deliveries_from_samples(registers)
        if not deliveries:
            energy = live.energy_wh if live is not None else tx.get("energy_wh")
            if energy:
                deliveries = ((started, Decimal(str(energy))),)
        ended = self._finished.get(tx["id"]) or stopped
        if ended is not None:
            ended = max(ended, started)
            if stopped is not None:
                ended = min(ended, stopped)
        return ChargingPeriod(str(tx["id"]), started, stopped, ended, deliveries, flagged,
                              self._where(tx.get("charger_id"), tx.get("connector_id")))

    def _where(self, charger_id: Any, connector_id: Any) -> str:
        """The bay a transaction charged at ("EV 01"), else "CP-01/2", else ""."""
        if not charger_id:
            return ""
        bay = next((b for b in self._site.bays if b.charger_id == charger_id
                    and (b.connector_id or 0) == (connector_id or 0)), None)
        return bay.label if bay is not None else f"{charger_id}/{connector_id or 0}"

    # -- bills -------------------------------------------------------------------------------

    async def bill(self, parking_session_id: int) -> BillRecord:
        """Compute the stay's bill now, store it (when it changed) and return it."""
        return await self._recompute(parking_session_id)

    async def settle(self, parking_session_id: int) -> BillRecord:
        """The bill as final at the exit: the stay ends now (or at its recorded exit)."""
        known = self._known.get(parking_session_id)
        if known is None or known.timeline.exit_at is None:
            self._settled_at.setdefault(parking_session_id, self._clock())
        return await self._recompute(parking_session_id, closing=True)

    def is_settled(self, parking_session_id: int) -> bool:
        """Do the payments cover the stay's bill as of now? (The exit lane asks: an unpaid
        bill keeps the barrier closed unless an attendant overrides.) A stay without a
        bill, or one no tariff prices, owes nothing."""
        owed = self._owed(parking_session_id)
        return owed is None or owed <= 0

    def _owed(self, parking_session_id: int) -> int | None:
        known = self._known.get(parking_session_id)
        if known is None:
            return None
        try:
            total = self._priced_now(parking_session_id, known).total
        except BillingError:
            return None
        return total - known.record.paid

    def running_bill(self, parking_session_id: int) -> Bill | None:
        """The stay's bill as of this moment, from the timeline of its last recompute (no
        database): what the map shows growing while a charged car idles. None when the
        stay is unknown or no tariff prices it."""
        known = self._known.get(parking_session_id)
        if known is None or not self._tariffs:
            return None
        try:
            return self._priced_now(parking_session_id, known)
        except BillingError:
            return None

    def check_exit(self, parking_session_id: int) -> str | None:
        """The exit lane read this stay's car: fix the bill at this moment (the stored
        bill follows in the background) and say why the barrier stays closed, or None
        when nothing is owed. Synchronous, for the gate's decision."""
        known = self._known.get(parking_session_id)
        if known is None:
            return None
        if known.timeline.exit_at is None:
            self._settled_at.setdefault(parking_session_id, self._clock())
        self._schedule(parking_session_id)
        owed = self._owed(parking_session_id)
        if owed is None or owed <= 0:
            return None
        return f"unpaid bill: {owed / 100:.2f} {known.record.currency} due"

    async def recent_bills(self, limit: int = 200) -> list[dict[str, Any]]:
        """Summaries of the newest stored bills (id, parking_session_id, plate, opened_at,
        closed_at, total, paid, status, currency): closed stays, also after a restart."""
        return await self._store.recent_bills(limit)

    def known_bill(self, parking_session_id: int) -> BillRecord | None:
        known = self._known.get(parking_session_id)
        return known.record if known is not None else None

    async def pay(self, actor: str, bill_id: int, method: str, reference: str,
                  amount: int) -> BillRecord:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError("amount must be a positive integer (minor units)")
        row = await self._store.bill_by_id(bill_id)
        if row is None or row.get("parking_session_id") is None:
            raise KeyError(f"no bill {bill_id}")
        at = self._clock()
        payment_id = await self._store.add_payment({
            "bill_id": bill_id, "at": at, "method": method, "reference": str(reference)[:128],
            "amount": amount, "actor": actor[:128]})
        self._audit(actor, AUDIT_PAYMENT, f"bill:{bill_id}", {
            "payment_id": payment_id, "method": method, "reference": reference,
            "amount": amount, "currency": row.get("currency"),
            "parking_session_id": row["parking_session_id"]})
        return await self._recompute(int(row["parking_session_id"]))

    async def adjust(self, actor: str, bill_id: int, kind: str,
                     components: str | Sequence[str], *, percent: float | None = None,
                     amount: int | None = None, reason: str,
                     approval: Approval | None = None) -> BillRecord:
        """A waiver or a validation on a bill (both None: waive the components entirely).
        A supervisor action: `approval` from StaffService.approve."""
        approval = require_supervisor(approval, f"A {kind} on bill {bill_id}")
        if kind not in ADJUSTMENT_TYPES:
            raise FieldError("adjustment.type", 'must be "waiver" or "validation"')
        comps = applies_to(components if isinstance(components, str) else list(components),
                           "adjustment.components")
        if percent is not None and amount is not None:
            raise FieldError("adjustment.percent", "give a percent or an amount, not both")
        if percent is not None:
            value = field_decimal(percent, "adjustment.percent")
            if value > 100:
                raise FieldError("adjustment.percent", "must be between 0 and 100")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)
                                   or not 0 <= amount <= 10**9):
            raise FieldError("adjustment.amount", "must be a non-negative integer "
                                                  "(minor units)")
        if not reason or not reason.strip():
            raise FieldError("adjustment.reason", "is required")
        row = await self._store.bill_by_id(bill_id)
        if row is None or row.get("parking_session_id") is None:
            raise KeyError(f"no bill {bill_id}")
        adjustment_id = await self._store.add_adjustment({
            "bill_id": bill_id, "type": kind, "components": list(comps),
            "percent": None if percent is None else float(percent), "amount": amount,
            "reason": reason.strip()[:200], "actor": approval.username[:128],
            "at": self._clock()})
        self._audit(actor, AUDIT_ADJUST, f"bill:{bill_id}", {
            "adjustment_id": adjustment_id, "type": kind, "components": list(comps),
            "percent": percent, "amount": amount, "reason": reason,
            "approved_by": approval.username,
            "parking_session_id": row["parking_session_id"]})
        return await self._recompute(int(row["parking_session_id"]))

    def fee_changed(self, parking_session_id: int | None, violation_id: int | None = None,
                    *, amount: int | None = None, status: str | None = None,
                    kind: str = "", reason: str = "") -> None:
        """A violation fee of this stay was issued, adjusted or waived (enforcement; the
        ViolationChanged event does the same). With the violation's id, amount and status
        the exit sees the fee at once (check_exit, is_settled, running_bill); the stored
        bill follows in the background either way."""
        if not parking_session_id:
            return
        if violation_id is not None and amount is not None and status is not None:
            self._fee_seq += 1
            fee = _fee(violation_id, amount, kind, reason) \
                if status in FEE_STATUSES and amount > 0 else None
            if fee is not None and not reason:
                # keep the stored description (with its reason) when the fee is known
                known = self._known.get(parking_session_id)
                old = next((f for f in known.timeline.fees if f.id == fee.id), None) \
                    if known is not None else None
                if old is not None:
                    fee = replace(fee, description=old.description)
            self._fee_overlay.setdefault(parking_session_id, {})[_fee_id(violation_id)] = (
                self._fee_seq, fee)
        self._schedule(parking_session_id)

    # -- recomputing -------------------------------------------------------------------------

    async def _recompute(self, session_id: int, *, closing: bool = False) -> BillRecord:
        """One recompute of a stay at a time (a per-stay lock)."""
        async with self._lock(session_id):
            return await self._compute_and_store(session_id, closing)

    def _lock(self, session_id: int) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    async def _compute_and_store(self, session_id: int, closing: bool) -> BillRecord:
        fees_seen = self._fee_seq  # fee changes up to here are in what is read next
        facts = await self._store.timeline_facts(session_id)
        if facts is None:
            raise KeyError(f"no parking session {session_id}")
        raw = await self._with_allowance(session_id, facts, self._timeline(session_id, facts))
        timeline = self._at_exit(session_id, raw)
        bill = compute_bill(timeline, self._tariffs, self._tz)
        payments = facts.get("payments") or []
        paid = sum(int(p["amount"]) for p in payments)
        closed = timeline.exit_at is not None or closing
        session = facts["session"]
        values = {
            "parking_session_id": session_id, "transaction_id": None,
            "plate": (session.get("plate") or "")[:32], "account_id": session.get("account_id"),
            "zone_id": session.get("zone_id") or "", "opened_at": session["entry_at"],
            "closed_at": timeline.exit_at, "currency": bill.currency,
            "subtotal": bill.subtotal, "vat": bill.vat, "total": bill.total, "paid": paid,
            "lines": bill.to_dict()["lines"], "tariff_versions": list(bill.tariff_versions),
            "status": bill_status(bill.total, paid, closed), "computed_at": self._clock()}
        row, changed = await self._store.upsert_bill(values)
        record = BillRecord(
            id=int(row["id"]), parking_session_id=session_id, bill=bill, paid=paid,
            status=row.get("status", values["status"]), revision=int(row.get("revision", 1)),
            opened_at=session["entry_at"], closed_at=timeline.exit_at,
            plate=values["plate"],
            payment_methods=tuple(sorted({str(p["method"]) for p in payments})),
            payments=tuple(Payment(int(p.get("id") or 0), p["at"], str(p["method"]),
                                   str(p.get("reference") or ""), int(p["amount"]),
                                   str(p.get("actor") or "")) for p in payments))
        self._known[session_id] = _Known(raw, record)
        self._drop_fees_read(session_id, fees_seen)
        self._forget_old()
        if changed:
            log.info("bill %d of parking session %d: %d %s, paid %d, %s (revision %d)",
                     record.id, session_id, bill.total, bill.currency, paid, record.status,
                     record.revision,
                     extra={"event": "bill_changed", "bill_id": record.id,
                            "parking_session_id": session_id, "total": bill.total,
                            "paid": paid, "status": record.status})
            self._bus.publish(BillChanged(
                at=self._clock(), bill_id=record.id, parking_session_id=session_id,
                total=bill.total, paid=paid, status=record.status, currency=bill.currency,
                revision=record.revision))
        return record

    def _schedule(self, session_id: int | None) -> None:
        """Recompute a stay's bill in the background; requests that arrive while one is
        still waiting for its turn are merged into it."""
        if not session_id or session_id in self._pending:
            return
        self._pending.add(session_id)
        self._spawn(self._background(session_id), f"bill-{session_id}")

    async def _background(self, session_id: int) -> None:
        async with self._lock(session_id):
            self._pending.discard(session_id)
            if not self._tariffs:
                self._warn_once("no tariffs", "billing: no tariffs: stays are not billed")
                return
            try:
                await self._compute_and_store(session_id, False)
            except asyncio.CancelledError:
                raise
            except BillingError as exc:
                # once per kind of problem, not per stay ("no tariff ... at <time>")
                self._warn_once(("tariff", str(exc).split(" at ")[0]),
                                "billing: session %d not billed: %s", session_id, exc)
            except KeyError:
                log.warning("billing: parking session %d not found", session_id,
                            extra={"event": "bill_failed", "parking_session_id": session_id})
            except Exception as exc:
                log.warning("billing: bill of parking session %d not computed: %s: %s",
                            session_id, type(exc).__name__, exc,
                            extra={"event": "bill_failed", "parking_session_id": session_id})

    def _schedule_for(self, lookup: Callable[[], Any]) -> None:
        async def run() -> None:
            try:
                sessions = await lookup()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("billing: which bills to recompute unknown: %s: %s",
                            type(exc).__name__, exc, extra={"event": "bill_failed"})
                return
            for session_id in sessions:
                self._schedule(session_id)

        self._spawn(run(), "bill-lookup")

    def _spawn(self, coro: Any, name: str) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is not None and running is not self._loop:
            # an event published off the loop thread: the loop takes it over
            self._loop.call_soon_threadsafe(self._spawn, coro, name)
            return
        task = (running or asyncio.get_running_loop()).create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- events ------------------------------------------------------------------------------

    def _on_parking(self, event: ParkingSessionChanged) -> None:
        # Opened: the bill exists from the entry. Closed: the exit was queued on the writer
        # before this event, so the recompute reads it.
        self._schedule(event.session_id)

    def _on_violation(self, event: Any) -> None:
        if handed_to_loop(self._loop, self._on_violation, event):
            return
        violation_id = getattr(event, "violation_id", None)
        self.fee_changed(getattr(event, "parking_session_id", None),
                         violation_id if violation_id else None,
                         amount=getattr(event, "amount", None),
                         status=getattr(event, "status", None),
                         kind=getattr(event, "kind", "") or "")

    def _on_binding(self, event: BindingChanged) -> None:
        binding_id = event.binding_id
        if binding_id:
            self._schedule_for(lambda: self._store.sessions_of_binding(binding_id))

    def _on_tx_ended(self, event: TransactionEnded) -> None:
        self._changed_tx(event.transaction_id)

    def _on_finished(self, event: ChargingFinished) -> None:
        if event.transaction_id is None:
            return
        self._finished[event.transaction_id] = event.at
        self._changed_tx(event.transaction_id)

    def _on_resumed(self, event: ChargingResumed) -> None:
        if event.transaction_id is None:
            return
        if self._finished.pop(event.transaction_id, None) is not None:
            self._changed_tx(event.transaction_id)

    def _changed_tx(self, transaction_id: int | None) -> None:
        if transaction_id:
            tx_id = transaction_id
            self._schedule_for(lambda: self._store.sessions_of_transaction(tx_id))

    # -- helpers -----------------------------------------------------------------------------

    def _open_sessions(self) -> list[int]:
        if self._gate is None:
            return []
        return [s.id for s in self._gate.open_sessions() if s.id]

    def _drop_fees_read(self, session_id: int, seen: int) -> None:
        """Overlay entries recorded before a recompute started reading are in its facts."""
        overlay = self._fee_overlay.get(session_id)
        if overlay is None:
            return
        for fee_id in [k for k, (seq, _) in overlay.items() if seq <= seen]:
            del overlay[fee_id]
        if not overlay:
            del self._fee_overlay[session_id]

    def _forget_old(self, keep: int = KEEP_LEFT) -> None:
        """Stays that have left are kept for a while (the exit, a late payment), then
        dropped from memory: their bills stay in the database."""
        left = [sid for sid, k in self._known.items() if k.timeline.exit_at is not None]
        for sid in left[:max(len(left) - keep, 0)]:
            del self._known[sid]
            self._settled_at.pop(sid, None)
            self._fee_overlay.pop(sid, None)
            lock = self._locks.get(sid)
            if lock is not None and not lock.locked() and sid not in self._pending:
                del self._locks[sid]
        if len(self._finished) > 4 * keep:
            for tx_id in list(self._finished)[:len(self._finished) - keep]:
                del self._finished[tx_id]

    def _warn_once(self, key: Any, message: str, *args: Any) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning(message, *args, extra={"event": "billing_warning"})


def month_of(moment: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of ``moment``'s calendar month in
    ``tz``, as aware UTC: the allowance month of a stay that entered at ``moment``."""
    local = moment.astimezone(tz)
    start = datetime(local.year, local.month, 1, tzinfo=tz)
    nxt = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), nxt.astimezone(UTC)


def _fee_id(violation_id: Any) -> str:
    return f"V{int(violation_id):08d}"


def _fee(violation_id: Any, amount: Any, kind: str | None, reason: str | None) -> Fee:
    """A violation's fee as a bill line's Fee (the same id whether read or announced)."""
    return Fee(_fee_id(violation_id), int(amount),
               f"{kind or 'violation'} fee (violation {violation_id})"
               + (f": {reason}" if reason else ""))


def _adjustment(row: dict[str, Any]) -> Adjustment:
    percent = row.get("percent")
    return Adjustment(
        id=f"A{int(row['id']):08d}", type=str(row.get("type") or "waiver"),
        components=tuple(row.get("components") or ("all",)),
        percent=None if percent is None else Decimal(str(percent)),
        amount=row.get("amount"), reason=str(row.get("reason") or ""))
