"""One stay, end to end over loopback (issue 7's "done means"): a car enters, parks at a
bay, charges, finishes, stays past the grace period, the attendant issues a fee, and the
car leaves — the bill, the audit trail and the barrier actions are exactly right.

Times are moved back (the stay took four hours; the test takes seconds): the entry is
backdated in the database and the charger reports its transaction with past timestamps.
The tariff is the demo's (app.adapters.db.billing_repo.seed_default_tariff): EUR 3.00/h
in 15-minute blocks after 15 free minutes, parking free while charging and 15 minutes
after, EUR 0.35/kWh, idle EUR 0.25/min after a 30-minute grace capped at EUR 15, VAT
included.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.adapters.db import tables as t
from app.domain.events import PlateRead
from app.domain.timeutil import utc_now
from tests.helpers.raw_client import RawCharger
from tests.helpers.waiting import wait_for

PLATE = "GX-512-K"  # Anna de Vries, a resident (app.sim.demo_drivers)
CARD = "04A1B2C3D4E580"  # her card
SLOT_EV01 = (100, 520, 120, 26)  # CAM-BAY-A covers EV-01..EV-04 left to right
FRAME = (1280, 720)
WAIT = 10.0


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def test_enter_charge_idle_fee_pay_exit(core):
    writer = core.writer
    core.gate.dedup_s = core.gate.passed_s = 0
    entry_pulses = core.barriers["BAR-ENTRY"].pulses
    exit_pulses = core.barriers["BAR-EXIT"].pulses
    now = utc_now()

    # 1. In at the entry lane (the stay began four hours ago).
    core.bus.publish(PlateRead(at=now, camera_id="CAM-ENTRY", plate=PLATE, confidence=0.96))
    await wait_for(lambda: (s := core.gate.session_of("GX512K")) is not None and s.id > 0)
    session_id = core.gate.session_of("GX512K").id
    await writer.run(lambda conn: conn.execute(
        update(t.parking_sessions).where(t.parking_sessions.c.id == session_id)
        .values(entry_at=now - timedelta(minutes=239.5))))

    # 2. At bay EV-01: the bay camera reads the plate, the car plugs in and charges 12 kWh
    #    from -180 min; its battery is full at -119.5 (SuspendedEV, from the charger's
    #    queue with its own time); it stays plugged in until it leaves now.
    cp = await RawCharger.open(f"ws://127.0.0.1:{core.ocpp_server.port}/ocpp", "CP-01")
    try:
        await cp.call("BootNotification", {"chargePointVendor": "ABB",
                                           "chargePointModel": "Terra AC"})
        core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-BAY-A", plate=PLATE,
                                   confidence=0.93, box=SLOT_EV01, frame_size=FRAME))
        await cp.call("StatusNotification", {"connectorId": 1, "status": "Preparing",
                                             "errorCode": "NoError"})
        start = await cp.call("StartTransaction", {
            "connectorId": 1, "idTag": CARD, "meterStart": 0,
            "timestamp": iso(now - timedelta(minutes=180))})
        assert start[2]["idTagInfo"]["status"] == "Accepted"
        tx_id = start[2]["transactionId"]
        await wait_for(lambda: (b := core.binding.binding_for_tx(tx_id)) is not None
                       and b.parking_session_id == session_id, WAIT)
        assert core.binding.binding_for_tx(tx_id).method == "bay_anpr"
        await cp.call("StatusNotification", {
            "connectorId": 1, "status": "SuspendedEV", "errorCode": "NoError",
            "timestamp": iso(now - timedelta(minutes=119.5))})
        await wait_for(lambda: core.idle.idle_since("CP-01", 1) is not None, WAIT)
        await cp.call("StopTransaction", {"transactionId": tx_id, "meterStop": 12000,
                                          "timestamp": iso(utc_now()),
                                          "reason": "EVDisconnected"})
    finally:
        await cp.close()

    # 3. Still there past the grace: the attendant issues an idle fee of EUR 10.
    violation = await core.enforcement.issue_fee("attendant", kind="idle", plate="GX512K",
                                                 amount=1000, reason="blocking EV-01")
    assert violation.parking_session_id == session_id

    # 4. At the exit (a moment later: the bill has caught up with the fee): held for the
    #    bill; paid at the booth; the barrier opens.
    await core.billing.settle_pending()
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-EXIT", plate=PLATE,
                               confidence=0.96))
    await wait_for(lambda: core.gate.pending("LANE-OUT") is not None, WAIT)
    assert core.gate.pending("LANE-OUT").status == "Unpaid"
    record = await core.billing.settle(session_id)
    amounts = {}
    for line in record.bill.lines:
        amounts[line.component] = amounts.get(line.component, 0) + line.amount
    # Parking: -239.5..-180 is 59.5 min, 15 free -> 45 started min -> 3 blocks (2.25);
    # charging -180..-119.5 and the 15 min after are free; -104.5..now is 105 started
    # min -> 7 blocks (5.25): 7.50. Energy: 12 kWh x 0.35 = 4.20. Idle: full at -119.5,
    # grace to -89.5, plugged until now: 90 min x 0.25 = 22.50, capped at 15.00.
    # The attendant's fee: 10.00.
    assert amounts.get("parking") == 750, record.bill.lines
    assert amounts.get("energy") == 420
    assert amounts.get("idle") == 1500
    assert amounts.get("fee") == 1000
    assert record.total == 750 + 420 + 1500 + 1000
    # The lines name the bay the car charged at (what the driver reads on the receipt).
    energy = next(ln for ln in record.bill.lines if ln.component == "energy")
    assert energy.description.startswith("energy at EV 01 (session "), energy.description
    await core.billing.pay("booth", record.id, "card", "TRM-0042", record.total)
    core.gate.retry_pending("LANE-OUT")
    await wait_for(lambda: core.gate.session_of("GX512K") is None, WAIT)
    await wait_for(lambda: core.barriers["BAR-EXIT"].pulses == exit_pulses + 1, WAIT)
    assert core.barriers["BAR-ENTRY"].pulses == entry_pulses + 1

    # The audit trail: the fee and the payment, by whom; no manual raise was needed.
    def audit(conn):
        return [(r.actor, r.action) for r in conn.execute(
            select(t.audit_log).order_by(t.audit_log.c.id))]

    trail = await writer.run(audit)
    assert ("attendant", "violation_issued") in trail
    assert ("booth", "bill_payment") in trail
    assert not any(action == "barrier_manual_raise" for _, action in trail)
    paid = await core.billing.bill(session_id)
    assert (paid.paid, paid.status) == (record.total, "paid")
