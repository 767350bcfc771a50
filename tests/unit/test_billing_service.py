"""BillingService with fakes: the real engine, bus and access index; a fake store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from app.adapters.db.billing_repo import DEFAULT_TARIFF
from app.domain.access import AccessData, Account
from app.domain.access_rules import AccessIndex
from app.domain.billing import Fee, Timeline, compute_bill, timeline_from_dict
from app.domain.events import (
    BillChanged,
    BindingChanged,
    ChargingFinished,
    ParkingSessionChanged,
    TransactionEnded,
    ViolationChanged,
)
from app.domain.site import Site
from app.domain.tariffs import FieldError, tariff_from_dict
from app.services.billing import (
    AUDIT_ADJUST,
    AUDIT_PAYMENT,
    AUDIT_TARIFF,
    BillingService,
    month_of,
)
from app.services.bus import EventBus
from app.services.staff import SupervisorRequired
from tests.helpers.approval import supervisor
from tests.helpers.fakes import FakeClock

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam


class FakeStore:
    def __init__(self) -> None:
        self.tariff_docs: list[dict] = [dict(DEFAULT_TARIFF)]
        self.sessions: dict[int, dict] = {}
        self.tx: dict[int, dict] = {}
        self.samples: dict[int, list] = {}
        self.bound: dict[int, int] = {}  # transaction -> parking session (newest binding)
        self.ever: dict[int, set[int]] = {}  # transaction -> every session it was bound to
        self.bindings: dict[int, int] = {}  # binding id -> transaction
        self.fees: dict[int, list[dict]] = {}
        self.bills: dict[int, dict] = {}  # by session
        self.payments: list[dict] = []
        self.adjustments: list[dict] = []
        self.writes = 0
        self.allowance_asks: list[tuple] = []
        self.hold: asyncio.Event | None = None  # timeline_facts waits for it once read

    def bind(self, binding_id: int, tx_id: int, session_id: int) -> None:
        self.bindings[binding_id] = tx_id
        self.bound[tx_id] = session_id
        self.ever.setdefault(tx_id, set()).add(session_id)

    async def load_tariffs(self) -> list[dict]:
        return list(self.tariff_docs)

    async def save_tariff(self, doc: dict, actor: str, now: datetime) -> int:
        version = 1 + max((d["version"] for d in self.tariff_docs if d["id"] == doc["id"]),
                          default=0)
        self.tariff_docs.append({**doc, "version": version})
        return version

    async def timeline_facts(self, session_id: int) -> dict | None:
        await asyncio.sleep(0)
        if session_id not in self.sessions:
            return None
        bill = self.bills.get(session_id)
        facts = {
            "session": dict(self.sessions[session_id]),
            "charging": [{"tx": self.tx[t], "samples": self.samples.get(t, [])}
                         for t, s in sorted(self.bound.items()) if s == session_id],
            "fees": list(self.fees.get(session_id, [])), "bill": bill,
            "adjustments": [a for a in self.adjustments if bill and a["bill_id"] == bill["id"]],
            "payments": [p for p in self.payments if bill and p["bill_id"] == bill["id"]]}
        if self.hold is not None:
            hold, self.hold = self.hold, None
            await hold.wait()
        return facts

    async def sessions_of_transaction(self, tx_id: int) -> list[int]:
        return sorted(self.ever.get(tx_id, ()))

    async def sessions_of_binding(self, binding_id: int) -> list[int]:
        return await self.sessions_of_transaction(self.bindings[binding_id])

    async def upsert_bill(self, values: dict) -> tuple[dict, bool]:
        sid = values["parking_session_id"]
        current = self.bills.get(sid)
        if current is None:
            self.writes += 1
            self.bills[sid] = {**values, "id": 100 + sid, "revision": 1}
            return self.bills[sid], True
        keys = [k for k in values if k != "computed_at"]
        if all(current[k] == values[k] for k in keys):
            return current, False
        priced = any(current[k] != values[k] for k in ("lines", "total", "vat"))
        self.writes += 1
        current.update(values, revision=current["revision"] + int(priced))
        return current, True

    async def bill_by_id(self, bill_id: int) -> dict | None:
        return next((b for b in self.bills.values() if b["id"] == bill_id), None)

    async def add_payment(self, values: dict) -> int:
        self.payments.append(values)
        return len(self.payments)

    async def add_adjustment(self, values: dict) -> int:
        self.adjustments.append({**values, "id": len(self.adjustments) + 1})
        return len(self.adjustments)

    async def allowance_used_kwh(self, account_id: int, exclude_session_id: int,
                                 since: datetime, until: datetime) -> Decimal:
        self.allowance_asks.append((account_id, exclude_session_id, since, until))
        return sum((-Decimal(ln["quantity"]) for sid, b in self.bills.items()
                    if b["account_id"] == account_id and sid != exclude_session_id
                    and since <= b["opened_at"] < until
                    for ln in b["lines"] if ln["component"] == "allowance"), Decimal(0))


class FakeTransactions:
    def get(self, tx_id: int) -> Any:
        return None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(hours=3))


@pytest.fixture
def store() -> FakeStore:
    s = FakeStore()
    s.sessions[1] = {"id": 1, "entry_at": T0, "exit_at": None, "zone_id": "P1",
                     "plate": "GX512K", "account_id": 7}
    s.sessions[2] = {"id": 2, "entry_at": T0, "exit_at": None, "zone_id": "P1",
                     "plate": "KL093T", "account_id": None}
    return s


@pytest.fixture
async def service(store, clock):
    bus = EventBus()
    audits: list[tuple] = []
    access = SimpleNamespace(index=AccessIndex(AccessData(accounts=(
        Account(7, "Anna", group_id="resident"),))))
    access.max_stay_min = lambda account_id: 240 if account_id is None else None
    gate = SimpleNamespace(open_sessions=lambda: [])
    svc = BillingService(Site(name="t", timezone="Europe/Amsterdam"), store, bus, clock,
                         lambda *a: audits.append(a), access=access, gate=gate,
                         transactions=FakeTransactions(), binding=None)
    svc.bus, svc.audits, svc.seen = bus, audits, []
    bus.subscribe(svc.seen.append, BillChanged)
    await svc.start()
    yield svc
    await svc.stop()


def charge(store: FakeStore, tx_id: int, start: datetime, minutes: int, kwh: float,
           *, stopped: bool = True) -> None:
    end = start + timedelta(minutes=minutes)
    store.tx[tx_id] = {"id": tx_id, "started_at": start, "stopped_at": end if stopped else None,
                       "meter_start_wh": 1000.0, "meter_stop_wh": 1000 + kwh * 1000
                       if stopped else None, "energy_wh": kwh * 1000, "clock_flagged": False,
                       "received_at": start, "updated_at": end}
    store.samples[tx_id] = [(tx_id * 10, start + timedelta(minutes=minutes // 2),
                             start + timedelta(minutes=minutes // 2), 1000 + kwh * 500)]


def components(record) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in record.bill.lines:
        out[line.component] = out.get(line.component, 0) + line.amount
    return out


async def test_parking_only_bill_while_inside_then_at_exit(service, store, clock) -> None:
    record = await service.bill(2)  # a visitor, inside for 3 h
    # 165 chargeable minutes -> 11 blocks of EUR 0.75
    assert components(record) == {"parking": 825}
    assert (record.status, record.paid, record.revision) == ("open", 0, 1)
    assert record.bill.vat == round(825 * 21 / 121)
    store.sessions[2]["exit_at"] = T0 + timedelta(hours=5)  # past the visitors' 240 min
    record = await service.bill(2)
    assert components(record) == {"parking": 1425, "overstay": 500}
    assert (record.status, record.revision, record.closed_at) == ("due", 2,
                                                                  T0 + timedelta(hours=5))
    writes = store.writes
    again = await service.bill(2)
    assert store.writes == writes and again.revision == 2  # unchanged: nothing written


async def test_charging_waives_parking_and_adds_energy_and_idle(service, store, clock) -> None:
    charge(store, 11, T0 + timedelta(minutes=10), 120, 20.0)
    store.bind(1, 11, 1)
    store.sessions[1]["exit_at"] = T0 + timedelta(hours=4)
    record = await service.bill(1)
    parts = components(record)
    assert parts["energy"] == 700  # 20 kWh x EUR 0.35
    # parking: 0-15 free, 10..145 waived (charging + 15 min), 145..240: 95 min -> 7 blocks
    assert parts["parking"] == 7 * 75
    assert "idle" not in parts  # the transaction ended when charging did
    # The car finished charging 60 min in, stayed plugged: idle after 30 min grace, capped
    service._finished[11] = T0 + timedelta(minutes=70)
    record = await service.bill(1)
    parts = components(record)
    assert parts["idle"] == 30 * 25  # 100..130: 30 min
    assert record.revision == 2
    assert (record.bill.total, record.status) == (sum(parts.values()), "due")


async def test_events_recompute_the_right_bills(service, store, clock) -> None:
    charge(store, 11, T0 + timedelta(minutes=5), 60, 10.0)
    store.bind(1, 11, 1)
    service.bus.publish(BindingChanged(at=clock(), binding_id=1, bay_id="EV-01",
                                       charger_id="CP-01", connector_id=1, plate="GX512K",
                                       transaction_id=11, method="bay_anpr", confidence=0.9,
                                       active=True))
    await service.settle_pending()
    assert components(service.known_bill(1))["energy"] == 350
    # A rebind gives the transaction to session 2: both bills recompute.
    store.bind(2, 11, 2)
    service.bus.publish(BindingChanged(at=clock(), binding_id=2, bay_id="EV-01",
                                       charger_id="CP-01", connector_id=1, plate="KL093T",
                                       transaction_id=11, method="attendant", confidence=1.0,
                                       active=True))
    await service.settle_pending()
    assert "energy" not in components(service.known_bill(1))
    assert components(service.known_bill(2))["energy"] == 350
    # A late offline transaction bound to session 1 ends: its bill recomputes.
    charge(store, 12, T0 + timedelta(minutes=20), 30, 4.0)
    store.bind(3, 12, 1)
    service.bus.publish(TransactionEnded(at=clock(), charger_id="CP-02", connector_id=1,
                                         transaction_id=12, energy_wh=4000.0, reason="Local"))
    await service.settle_pending()
    assert components(service.known_bill(1))["energy"] == 140
    # The exit closes the stay.
    store.sessions[1]["exit_at"] = clock()
    service.bus.publish(ParkingSessionChanged(at=clock(), session_id=1, zone_id="P1",
                                              opened=False, value="GX512K", occupancy=0,
                                              capacity=10))
    await service.settle_pending()
    assert service.known_bill(1).status == "due"
    # made, rebound away, the late transaction, the exit (status only: same revision)
    assert [e.parking_session_id for e in service.seen].count(1) == 4
    assert [e.revision for e in service.seen if e.parking_session_id == 1] == [1, 2, 3, 3]
    # ChargingFinished: idle counts from there
    service.bus.publish(ChargingFinished(at=T0 + timedelta(minutes=5), charger_id="CP-01",
                                         connector_id=1, transaction_id=11,
                                         reason="SuspendedEV"))
    await service.settle_pending()
    assert components(service.known_bill(2))["idle"] == 30 * 25


async def test_pay_adjust_and_is_settled(service, store, clock) -> None:
    record = await service.bill(2)
    assert not service.is_settled(2)
    assert service.is_settled(99)  # no bill: nothing owed
    with pytest.raises(ValueError):
        await service.pay("att", record.id, "bitcoin", "", 100)
    with pytest.raises(FieldError, match=r"adjustment\.reason"):
        await service.adjust("att", record.id, "waiver", "parking", reason=" ",
                             approval=supervisor())
    with pytest.raises(SupervisorRequired, match="needs a supervisor"):
        await service.adjust("att", record.id, "validation", ["parking"], percent=50,
                             reason="shop validation")
    waived = await service.adjust("sup.eva", record.id, "validation", ["parking"],
                                  percent=50, reason="shop validation", approval=supervisor())
    assert waived.total == 825 - 413 and waived.revision == 2
    paid = await service.pay("att.bob", record.id, "card", "PIN-123", waived.total)
    assert (paid.status, paid.paid, paid.payment_methods) == ("paid", 412, ("card",))
    assert service.is_settled(2)
    clock.advance(60 * 60)  # an hour later the car is still inside: it owes more
    assert not service.is_settled(2)
    actions = [a[1] for a in service.audits]
    assert actions == [AUDIT_ADJUST, AUDIT_PAYMENT]


async def test_settle_fixes_the_exit_within_the_grace(service, store, clock) -> None:
    record = await service.settle(2)
    assert record.status == "due" and record.closed_at == clock()
    await service.pay("att", record.id, "cash", "", record.total)
    clock.advance(120)  # the car drives out two minutes later
    store.sessions[2]["exit_at"] = clock()
    assert service.is_settled(2)
    after = await service.bill(2)
    assert (after.total, after.status) == (record.total, "paid")


async def test_check_exit_holds_an_unpaid_stay_and_fixes_its_end(service, store,
                                                                 clock) -> None:
    assert service.check_exit(2) is None  # no bill known yet: nothing to hold
    record = await service.bill(2)
    assert service.check_exit(2) == "unpaid bill: 8.25 EUR due"
    await service.settle_pending()
    assert service.known_bill(2).status == "due"  # fixed at the barrier
    await service.pay("att", record.id, "cash", "", 825)
    clock.advance(5 * 60)  # paid at the barrier: still the same bill minutes later
    assert service.check_exit(2) is None and service.is_settled(2)
    clock.advance(20 * 60)  # the car turned back and stayed: the stay goes on
    assert not service.is_settled(2)
    assert (await service.bill(2)).status == "open"


async def test_no_tariffs_bills_nothing_and_holds_no_one(service, store, caplog) -> None:
    service._tariffs = []
    service.bus.publish(ParkingSessionChanged(at=T0, session_id=2, zone_id="P1", opened=True,
                                              value="KL093T", occupancy=1, capacity=10))
    await service.settle_pending()
    assert store.bills == {} and service.is_settled(2) and service.check_exit(2) is None
    assert "no tariffs" in caplog.text


async def test_violation_fees_are_fee_lines(service, store, clock) -> None:
    store.fees[2] = [{"id": 5, "kind": "ice", "amount": 2500, "reason": "ICE at EV-02"}]
    record = await service.bill(2)
    [fee] = [ln for ln in record.bill.lines if ln.component == "fee"]
    assert (fee.amount, fee.description) == (2500, "ice fee (violation 5): ICE at EV-02")
    assert record.total == 825 + 2500


async def test_save_tariff_versions_and_validation(service, store) -> None:
    doc = {**DEFAULT_TARIFF, "effective_from": "2026-12-01T00:00:00+01:00"}
    with pytest.raises(SupervisorRequired):
        await service.save_tariff("att.bob", doc)
    assert await service.save_tariff("sup.eva", doc, approval=supervisor()) == 2
    assert [t.version for t in service.tariffs()] == [1, 2]
    bad = {**doc, "components": {"parking": {"block_min": 0, "block_price": 10}}}
    with pytest.raises(FieldError, match=r"tariff\.components\.parking\.block_min"):
        await service.save_tariff("sup.eva", bad, approval=supervisor())
    assert [a[1] for a in service.audits] == [AUDIT_TARIFF]


def test_default_tariff_is_valid_and_prices_a_day() -> None:
    tariff = tariff_from_dict(DEFAULT_TARIFF)
    timeline = Timeline(entry_at=T0, exit_at=T0 + timedelta(hours=12))
    bill = compute_bill(timeline, [tariff], "Europe/Amsterdam")
    assert bill.total == 2500  # the daily maximum
    assert tariff.overstay is not None and tariff.parking.free_min == 15


# -- the engine's fees (golden) ---------------------------------------------------------------

def test_golden_fee_lines_after_reductions() -> None:
    tariff = tariff_from_dict(DEFAULT_TARIFF)
    timeline = timeline_from_dict({
        "entry_at": "2026-03-02T09:00:00Z", "exit_at": "2026-03-02T10:00:00Z",
        "fees": [{"id": "V-2", "amount": 1000, "description": "ICE fee"},
                 {"id": "V-1", "amount": 0}, {"id": "V-2", "amount": 999}],
        "adjustments": [{"id": "W-1", "type": "waiver", "component": "all"}]})
    assert timeline.fees == (Fee("V-2", 1000, "ICE fee"), Fee("V-1", 0, ""))
    bill = compute_bill(timeline, [tariff], "Europe/Amsterdam").to_dict()
    assert [(ln["component"], ln["amount"]) for ln in bill["lines"]] == [
        ("parking", 225), ("waiver", -225), ("fee", 1000)]
    assert (bill["total"], bill["vat"], bill["subtotal"]) == (1000, 174, 826)
    assert bill["lines"][-1]["quantity"] == "1" and Decimal(bill["lines"][-1]["quantity"]) == 1
    with pytest.raises(FieldError, match=r"timeline.fees\[0\].amount"):
        timeline_from_dict({"entry_at": "2026-03-02T09:00:00Z", "now": "2026-03-02T10:00:00Z",
                            "fees": [{"id": "x", "amount": -1}]})


async def test_an_event_from_another_thread_is_handed_to_the_loop(service, store) -> None:
    import threading

    event = ParkingSessionChanged(at=T0, session_id=2, zone_id="P1", opened=True,
                                  value="KL093T", occupancy=1, capacity=10)
    thread = threading.Thread(target=service.bus.publish, args=(event,))
    thread.start()
    thread.join()
    for _ in range(50):
        await asyncio.sleep(0.01)
        await service.settle_pending()
        if service.known_bill(2) is not None:
            break
    assert service.known_bill(2) is not None and store.bills[2]["total"] == 825


# -- a fee at the exit: seen at once, before the background recompute --------------------------

def violation(session_id: int, violation_id: int, amount: int, status: str = "issued"
              ) -> ViolationChanged:
    return ViolationChanged(at=T0, violation_id=violation_id, kind="ice", plate="KL093T",
                            account_id=None, bay_id="EV-02", parking_session_id=session_id,
                            step="fee", amount=amount, status=status)


async def test_a_fee_issued_just_before_the_exit_read_holds_the_car(service, store,
                                                                    clock) -> None:
    await service.bill(2)
    assert service.check_exit(2) == "unpaid bill: 8.25 EUR due"
    await service.settle_pending()
    # enforcement writes the violation, then publishes; the exit reads the car at once
    store.fees[2] = [{"id": 5, "kind": "ice", "amount": 2500, "reason": "ICE at EV-02"}]
    service.bus.publish(violation(2, 5, 2500))
    assert service.check_exit(2) == "unpaid bill: 33.25 EUR due"
    assert not service.is_settled(2)
    assert service.running_bill(2).total == 3325
    await service.settle_pending()
    [fee] = [ln for ln in service.known_bill(2).bill.lines if ln.component == "fee"]
    assert (fee.amount, fee.description) == (2500, "ice fee (violation 5): ICE at EV-02")
    assert service._fee_overlay == {}  # read back from the store: the overlay is gone
    # adjusted to 10.00, then waived: the exit follows each at once
    store.fees[2] = [{"id": 5, "kind": "ice", "amount": 1000, "reason": "ICE at EV-02"}]
    service.bus.publish(violation(2, 5, 1000, "adjusted"))
    assert service.check_exit(2) == "unpaid bill: 18.25 EUR due"
    store.fees[2] = []
    service.bus.publish(violation(2, 5, 1000, "waived"))
    assert service.check_exit(2) == "unpaid bill: 8.25 EUR due"
    await service.settle_pending()
    assert "fee" not in components(service.known_bill(2))


async def test_a_recompute_that_read_before_the_fee_does_not_hide_it(service, store,
                                                                     clock) -> None:
    await service.bill(2)
    store.hold = hold = asyncio.Event()
    early = asyncio.create_task(service.bill(2))  # reads the facts, then waits
    for _ in range(5):
        await asyncio.sleep(0)
    store.fees[2] = [{"id": 6, "kind": "idle", "amount": 1500, "reason": ""}]
    service.bus.publish(violation(2, 6, 1500))
    assert store.hold is None  # the early recompute has read
    hold.set()
    record = await early  # stored without the fee: it read before the fee was written
    assert "fee" not in components(record)
    assert service.check_exit(2) == "unpaid bill: 23.25 EUR due"  # the fee still counts
    await service.settle_pending()  # the recompute the fee scheduled
    assert components(service.known_bill(2))["fee"] == 1500
    assert service._fee_overlay == {}


def test_fee_changed_without_details_only_schedules() -> None:
    svc = BillingService.__new__(BillingService)
    scheduled: list[int] = []
    svc._schedule = scheduled.append  # type: ignore[method-assign]
    svc._fee_overlay, svc._fee_seq, svc._known = {}, 0, {}
    svc.fee_changed(4)
    svc.fee_changed(None)
    assert scheduled == [4] and svc._fee_overlay == {}
    svc.fee_changed(4, 9, amount=700, status="issued", kind="overstay")
    assert svc._fee_overlay[4]["V00000009"][1] == Fee("V00000009", 700,
                                                      "overstay fee (violation 9)")


# -- the running bill ----------------------------------------------------------------------------

async def test_running_bill_grows_while_a_charged_car_idles(service, store, clock) -> None:
    assert service.running_bill(1) is None  # not computed yet
    charge(store, 11, T0 + timedelta(minutes=10), 60, 10.0, stopped=False)  # still plugged
    store.bind(1, 11, 1)
    service.bus.publish(ChargingFinished(at=T0 + timedelta(minutes=140), charger_id="CP-01",
                                         connector_id=1, transaction_id=11,
                                         reason="SuspendedEV"))
    await service.settle_pending()

    def idle() -> int:
        bill = service.running_bill(1)
        assert bill is not None
        return sum(ln.amount for ln in bill.lines if ln.component == "idle")

    # charging finished 140 min in, 30 min grace: idle from 170 min; now is 180 min
    assert idle() == 10 * 25
    clock.advance(10 * 60)
    assert idle() == 20 * 25
    clock.advance(60 * 60)
    assert idle() == 1500  # the cap per charging session
    assert store.writes == 1  # priced in memory, nothing stored
    assert service.running_bill(99) is None


# -- the permit allowance across the month's bills ----------------------------------------------

ALLOWANCE_TARIFF = {**DEFAULT_TARIFF, "components": {
    "energy": {"per_kwh": 40}, "allowance": {"kwh_per_month": 10}}}


def test_month_of_is_the_site_local_calendar_month() -> None:
    tz = __import__("zoneinfo").ZoneInfo("Europe/Amsterdam")
    # 31 Mar 22:30Z is 1 Apr 00:30 in Amsterdam (CEST): April
    assert month_of(datetime(2026, 3, 31, 22, 30, tzinfo=UTC), tz) == (
        datetime(2026, 3, 31, 22, 0, tzinfo=UTC), datetime(2026, 4, 30, 22, 0, tzinfo=UTC))
    assert month_of(datetime(2026, 12, 15, tzinfo=UTC), tz) == (
        datetime(2026, 11, 30, 23, 0, tzinfo=UTC), datetime(2026, 12, 31, 23, 0, tzinfo=UTC))


async def test_allowance_carries_over_between_an_accounts_bills(service, store,
                                                                clock) -> None:
    store.tariff_docs = [ALLOWANCE_TARIFF]
    await service.reload_tariffs()
    exit_at = T0 + timedelta(hours=2)
    store.sessions[1]["exit_at"] = exit_at
    store.sessions[3] = {"id": 3, "entry_at": T0 + timedelta(days=1), "exit_at": exit_at
                         + timedelta(days=1), "zone_id": "P1", "plate": "GX512K",
                         "account_id": 7}
    store.sessions[4] = {**store.sessions[3], "id": 4, "plate": "KL093T", "account_id": None}
    charge(store, 11, T0 + timedelta(minutes=5), 60, 6.0)
    charge(store, 12, T0 + timedelta(days=1, minutes=5), 60, 7.0)
    charge(store, 13, T0 + timedelta(days=1, minutes=5), 60, 12.0)
    store.bind(1, 11, 1)
    store.bind(2, 12, 3)
    store.bind(3, 13, 4)
    first = await service.bill(1)
    assert first.bill.allowance_kwh_used == 6 and first.total == 0
    second = await service.bill(3)
    assert second.bill.allowance_kwh_used == 4
    assert components(second) == {"energy": 280, "allowance": -160}  # 3 kWh paid
    again = await service.bill(3)  # its own lines never count against it
    assert again.total == second.total and again.revision == second.revision
    assert (await service.bill(1)).bill.allowance_kwh_used == 6
    visitor = await service.bill(4)  # no account: the tariff's allowance, no carry-over
    assert visitor.bill.allowance_kwh_used == 10
    since, until = month_of(T0, service._tz)
    assert {a[1:] for a in store.allowance_asks} == {(1, since, until), (3, since, until)}
    assert {a[0] for a in store.allowance_asks} == {7}
