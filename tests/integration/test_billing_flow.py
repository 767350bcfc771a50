"""Billing with a real core (demo site, SQLite file, OCPP loopback): a car enters, charges
(bound at the bay), leaves -> one bill with parking waived while charging plus energy; a
rebind moves the charging to the other stay's bill; a late offline transaction bound by
the attendant recomputes; a waiver recomputes; a payment settles; `export bills` and
`export payments` list it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select, update

from app import cli_billing, cli_chargers
from app.adapters.db import tables as t
from app.adapters.db.audit_repo import load_audit
from app.adapters.db.billing_repo import seed_default_tariff
from app.cli import build_parser, settings_from_args
from app.domain.events import BillChanged, PlateRead
from app.domain.timeutil import utc_now
from app.services.billing import AUDIT_ADJUST, AUDIT_PAYMENT
from app.services.staff import SupervisorRequired
from tests.helpers.approval import supervisor
from tests.helpers.raw_client import RawCharger
from tests.helpers.waiting import wait_for

ANNA_CARD = "04A1B2C3D4E580"  # demo account: Anna de Vries, GX-512-K, residents
FRAME = (1280, 720)
SLOT = {1: (100, 520, 120, 26), 2: (420, 520, 120, 26)}  # CAM-BAY-A: EV-01, EV-02
WAIT = 10.0


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def rows(settings, table, *where) -> list:
    engine = create_engine(settings.resolved_db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(table).where(*where).order_by(table.c.id)).all()
    finally:
        engine.dispose()


def writer_of(core):
    return core.writer


@pytest.fixture
async def billing(core):
    """The core's BillingService with the demo tariff; binding with a short tick."""
    await core.writer.run(lambda conn: seed_default_tariff(conn, utc_now()))
    binding = core.binding
    binding.window_s, binding.ice_grace_s, binding.tick_s = 120.0, 600.0, 0.05
    await core.billing.reload_tariffs()
    return core.billing


@pytest.fixture
async def cp(url):
    charger = await RawCharger.open(url, "CP-01")
    reply = await charger.call("BootNotification", {"chargePointVendor": "ABB",
                                                    "chargePointModel": "Terra AC"})
    assert reply[2]["status"] == "Accepted"
    yield charger
    await charger.close()


async def enter(core, plate: str, *, ago: timedelta, base: datetime | None = None) -> int:
    """The car drives in; its stored entry is moved back to `base - ago` (a stay of hours
    in a test of seconds)."""
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate=plate,
                               confidence=0.95, source="test"))
    await wait_for(lambda: (s := core.gate.session_of(plate)) is not None and s.id > 0, WAIT)
    session_id = core.gate.session_of(plate).id
    entry = (base or utc_now()) - ago

    def backdate(conn) -> None:
        conn.execute(update(t.parking_sessions).where(t.parking_sessions.c.id == session_id)
                     .values(entry_at=entry))

    await writer_of(core).run(backdate)
    return session_id


async def leave(core, plate: str) -> None:
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-EXIT", plate=plate,
                               confidence=0.95, source="test"))
    await wait_for(lambda: core.gate.session_of(plate) is None, WAIT)


def bay_read(core, plate: str, connector: int) -> None:
    core.bus.publish(PlateRead(at=utc_now() - timedelta(seconds=5), camera_id="CAM-BAY-A",
                               plate=plate, confidence=0.93, source="test",
                               box=SLOT[connector], frame_size=FRAME))


async def start(cp: RawCharger, connector: int, *, ago: timedelta,
                base: datetime | None = None) -> int:
    reply = await cp.call("StartTransaction", {
        "connectorId": connector, "idTag": ANNA_CARD, "meterStart": 1000,
        "timestamp": iso((base or utc_now()) - ago)})
    assert reply[0] == 3, reply
    return reply[2]["transactionId"]


async def stop(cp: RawCharger, tx_id: int, *, ago: timedelta = timedelta(0)) -> None:
    reply = await cp.call("StopTransaction", {"transactionId": tx_id, "meterStop": 9000,
                                              "timestamp": iso(utc_now() - ago),
                                              "reason": "EVDisconnected"})
    assert reply[0] == 3, reply


def parts(record) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in record.bill.lines:
        out[line.component] = out.get(line.component, 0) + line.amount
    return out


async def settled(billing) -> None:
    await asyncio.sleep(0.1)  # queued writes and the lookups they trigger
    await billing.settle_pending()


async def test_enter_charge_leave_waive_pay_export(core, settings, billing, cp,
                                                   capsys) -> None:
    changes: list[BillChanged] = []
    core.bus.subscribe(changes.append, BillChanged)
    core.gate.exit_check = None  # the exit held for payment: its own test below
    base = utc_now()
    session_id = await enter(core, "GX-512-K", ago=timedelta(hours=3), base=base)
    bay_read(core, "GX-512-K", 1)
    await cp.call("StatusNotification", {"connectorId": 1, "status": "Preparing",
                                         "errorCode": "NoError"})
    tx_id = await start(cp, 1, ago=timedelta(hours=2), base=base)
    await wait_for(lambda: (b := core.binding.binding_for_tx(tx_id)) is not None
                   and b.id > 0 and b.parking_session_id == session_id, WAIT)
    await stop(cp, tx_id)
    await leave(core, "GX-512-K")
    await settled(billing)
    record = await billing.bill(session_id)
    # 3 h stay: 15 min free, 45 min parked before charging (3 blocks), parking waived
    # while charging and for 15 min after; 8 kWh at EUR 0.35.
    assert parts(record) == {"parking": 225, "energy": 280}
    assert (record.total, record.status, record.closed_at is not None) == (505, "due", True)
    assert not billing.is_settled(session_id)
    [row] = rows(settings, t.bills)
    assert (row.parking_session_id, row.total, row.paid, row.status, row.plate) == (
        session_id, 505, 0, "due", "GX512K")
    assert changes and changes[-1].parking_session_id == session_id
    await billing.bill(session_id)  # unchanged: nothing written
    assert rows(settings, t.bills) == [row]

    with pytest.raises(SupervisorRequired):
        await billing.adjust("att.bob", record.id, "waiver", ["parking"], reason="first visit")
    waived = await billing.adjust("sup.eva", record.id, "waiver", ["parking"],
                                  reason="first visit", approval=supervisor())
    assert parts(waived)["parking"] == 225 and waived.total == 280
    assert waived.revision == row.revision + 1
    paid = await billing.pay("att.bob", record.id, "card", "PIN-0042", 280)
    assert (paid.status, paid.paid) == ("paid", 280) and billing.is_settled(session_id)
    [row] = rows(settings, t.bills)
    assert (row.total, row.paid, row.status) == (280, 280, "paid")
    assert [(p.method, p.amount, p.actor) for p in rows(settings, t.payments)] == [
        ("card", 280, "att.bob")]
    await asyncio.sleep(0.2)  # the audit rows are queued
    engine = create_engine(settings.resolved_db_url)
    try:
        with engine.connect() as conn:
            actions = {e["action"] for e in load_audit(conn, action_prefix="bill_")}
    finally:
        engine.dispose()
    assert actions == {AUDIT_ADJUST, AUDIT_PAYMENT}

    out = io.StringIO()
    assert cli_billing.export_bills(settings, "csv", out=out) == 0
    [exported] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert (exported["parking_session_id"], exported["parking"], exported["energy"],
            exported["waiver"], exported["total"], exported["paid"],
            exported["payment_methods"], exported["status"]) == (
        str(session_id), "225", "280", "-225", "280", "280", "card", "paid")
    assert int(exported["vat"]) == round(280 * 21 / 121)
    # The same through the command line (`gatehouse export bills --format json`).
    args = build_parser().parse_args(["export", "bills", "--format", "json", "--data-dir",
                                      str(settings.data_dir), "--demo"])
    capsys.readouterr()
    assert cli_chargers.run(args, settings_from_args(args)) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["total"], listed["payment_methods"]) == (record.id, 280,
                                                                          "card")
    # The payments for reconciliation, with the card terminal's reference.
    args = build_parser().parse_args(["export", "payments", "--data-dir",
                                      str(settings.data_dir), "--demo"])
    assert cli_chargers.run(args, settings_from_args(args)) == 0
    [payment] = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {k: payment[k] for k in ("bill_id", "parking_session_id", "plate", "method",
                                    "reference", "amount", "currency", "actor")} == {
        "bill_id": str(record.id), "parking_session_id": str(session_id), "plate": "GX512K",
        "method": "card", "reference": "PIN-0042", "amount": "280", "currency": "EUR",
        "actor": "att.bob"}
    assert payment["at"].endswith("Z")


async def test_rebind_moves_the_charging_to_the_other_bill(core, billing, cp) -> None:
    anna = await enter(core, "GX-512-K", ago=timedelta(hours=1))
    bram = await enter(core, "KL-093-T", ago=timedelta(hours=1))
    bay_read(core, "GX-512-K", 1)
    tx_id = await start(cp, 1, ago=timedelta(minutes=1))
    await wait_for(lambda: (b := core.binding.binding_for_tx(tx_id)) is not None
                   and b.id > 0, WAIT)
    old = core.binding.binding_for_tx(tx_id)
    assert old.parking_session_id == anna
    await core.binding.rebind("attendant.bob", old.id, "KL-093-T", "Bram's car is in EV 01")
    await stop(cp, tx_id)
    await settled(billing)
    await wait_for(lambda: (b := billing.known_bill(bram)) is not None
                   and "energy" in parts(b), WAIT)
    assert parts(billing.known_bill(bram))["energy"] == 280
    assert "energy" not in parts(await billing.bill(anna))


async def test_a_late_offline_transaction_recomputes_the_bill(core, billing, cp) -> None:
    session_id = await enter(core, "GX-512-K", ago=timedelta(hours=2))
    before = await billing.bill(session_id)
    assert "energy" not in parts(before)
    # The charger was offline: start and stop arrive now, an hour late; nobody read the bay.
    tx_id = await start(cp, 2, ago=timedelta(minutes=90))
    await stop(cp, tx_id, ago=timedelta(minutes=30))
    assert core.transactions.get(tx_id).offline
    await core.binding.bind("attendant.bob", tx_id, "GX-512-K", "charged at EV-02 offline")
    await settled(billing)
    await wait_for(lambda: "energy" in parts(billing.known_bill(session_id)), WAIT)
    after = billing.known_bill(session_id)
    assert parts(after)["energy"] == 280
    assert parts(after)["parking"] < parts(before)["parking"]  # waived while it charged
    assert after.revision > before.revision


async def test_an_unpaid_bill_holds_the_exit_until_paid(core, billing) -> None:
    """The exit lane asks the bill: 3 hours unpaid -> the barrier stays closed and the
    attendant sees why; paid (at the pay station, while waiting) -> the barrier opens by
    itself, without another read or the attendant."""
    core.gate.exit_check = billing.check_exit
    core.gate.dedup_s = core.gate.passed_s = 0  # the same car read again at once
    session_id = await enter(core, "HN-447-D", ago=timedelta(hours=3))
    await settled(billing)
    owed = await billing.bill(session_id)  # recomputed from the backdated entry
    assert owed.total > 0 and owed.paid == 0
    pulses = core.barriers["BAR-EXIT"].pulses
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-EXIT", plate="HN-447-D",
                               confidence=0.95, source="test"))
    await wait_for(lambda: core.gate.pending("LANE-OUT") is not None, WAIT)
    prompt = core.gate.pending("LANE-OUT")
    assert prompt.status == "Unpaid" and prompt.reason.startswith("unpaid bill: ")
    assert core.barriers["BAR-EXIT"].pulses == pulses
    assert core.gate.session_of("HN-447-D") is not None
    record = await billing.settle(session_id)
    await billing.pay("pay-station", record.id, "card", "PS-1 4411", record.total - 1)
    assert core.gate.pending("LANE-OUT") is not None  # a cent short: still waiting
    assert core.barriers["BAR-EXIT"].pulses == pulses
    await billing.pay("pay-station", record.id, "card", "PS-1 4412", 1)
    await wait_for(lambda: core.gate.session_of("HN-447-D") is None, WAIT)
    await wait_for(lambda: core.barriers["BAR-EXIT"].pulses == pulses + 1, WAIT)
    assert core.gate.pending("LANE-OUT") is None

