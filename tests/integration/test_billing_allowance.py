"""Billing against a real core (demo site, SQLite file): a permit's monthly kWh allowance
carries over between the account's bills of one site-local month, and a fee issued by
enforcement is on the exit's bill at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from app.adapters.db import tables as t
from app.adapters.db.billing_repo import DEFAULT_TARIFF, seed_default_tariff
from app.domain.events import PlateRead
from app.domain.timeutil import utc_now
from tests.helpers.approval import supervisor
from tests.helpers.waiting import wait_for

WAIT = 10.0
# Amsterdam, March 2026 (CET until the 29th, CEST after). The third stay enters at
# 31 Mar 22:30Z = 1 Apr 00:30 local: an April stay, although it is still March in UTC.
MARCH_1 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
MARCH_2 = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
APRIL_1 = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
PERMIT_TARIFF = {
    **DEFAULT_TARIFF, "effective_from": "2025-01-01T00:00:00Z",
    "components": {"energy": {"per_kwh": 40}, "allowance": {"kwh_per_month": 10}}}


def parts(record) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in record.bill.lines:
        out[line.component] = out.get(line.component, 0) + line.amount
    return out


async def stay_with_charge(core, plate: str, account_id: int | None, entry: datetime,
                           kwh: float, n: int) -> int:
    """A closed stay of 3 h with one transaction of `kwh` bound to it, written straight
    into the database (the stored facts billing reads)."""
    started, stopped = entry + timedelta(minutes=10), entry + timedelta(hours=2)

    def write(conn) -> int:
        session_id = conn.execute(insert(t.parking_sessions).values(
            kind="plate", value=plate, plate=plate, account_id=account_id, zone_id="P1",
            entry_lane="LANE-IN", entry_at=entry, exit_lane="LANE-OUT",
            exit_at=entry + timedelta(hours=3), closed_by="exit")).inserted_primary_key[0]
        tx_id = conn.execute(insert(t.transactions).values(
            charger_id="CP-01", connector_id=1, charger_tx_id=f"T-allowance-{n}",
            id_token="", started_at=started, stopped_at=stopped, meter_start_wh=1000.0,
            meter_stop_wh=1000.0 + kwh * 1000, energy_wh=kwh * 1000, received_at=started,
            updated_at=stopped)).inserted_primary_key[0]
        conn.execute(insert(t.bindings).values(
            plate=plate, bay_id="EV-01", charger_id="CP-01", connector_id=1,
            transaction_id=tx_id, parking_session_id=session_id, method="attendant",
            confidence=1.0, created_at=started))
        return int(session_id)

    return await core.writer.run(write)


@pytest.fixture
async def billing(core):
    await core.writer.run(lambda conn: seed_default_tariff(conn, utc_now()))
    await core.billing.reload_tariffs()
    return core.billing


async def test_the_monthly_allowance_carries_over_between_an_accounts_stays(
        core, billing) -> None:
    await billing.save_tariff("sup.eva", PERMIT_TARIFF, approval=supervisor())
    anna = core.access.index.find_plate("GX512K").account_id
    assert anna is not None
    first = await stay_with_charge(core, "GX512K", anna, MARCH_1, 6.0, 1)
    second = await stay_with_charge(core, "GX512K", anna, MARCH_2, 7.0, 2)
    april = await stay_with_charge(core, "GX512K", anna, APRIL_1, 7.0, 3)
    visitor = await stay_with_charge(core, "ZZ999Z", None, MARCH_2, 12.0, 4)

    one = await billing.bill(first)
    assert one.bill.allowance_kwh_used == 6 and one.total == 0
    two = await billing.bill(second)
    # 10 kWh a month, 6 used by the first stay: 4 covered, 3 of the 7 paid
    assert two.bill.allowance_kwh_used == 4
    assert parts(two) == {"energy": 280, "allowance": -160} and two.total == 120
    [line] = [ln for ln in two.bill.lines if ln.component == "allowance"]
    assert (line.quantity, line.unit, line.unit_price) == (Decimal(-4), "kWh", 40)
    # recomputing never counts a bill's own usage: both bills stay as they are
    again = await billing.bill(second)
    assert (again.total, again.revision) == (two.total, two.revision)
    again = await billing.bill(first)
    assert (again.total, again.revision) == (one.total, one.revision)
    # the stay that entered in April (site-local) has the whole allowance again
    new_month = await billing.bill(april)
    assert new_month.bill.allowance_kwh_used == 7 and new_month.total == 0
    # a visitor has no account: nothing carried over (the tariff's allowance, once)
    guest = await billing.bill(visitor)
    assert guest.bill.allowance_kwh_used == 10 and guest.total == 2 * 40
    assert (await billing.bill(second)).total == 120  # other accounts' bills don't count


async def test_a_fee_issued_as_the_car_reaches_the_exit_is_on_its_bill(core,
                                                                       billing) -> None:
    core.bus.publish(PlateRead(at=utc_now(), camera_id="CAM-ENTRY", plate="HN-447-D",
                               confidence=0.95, source="test"))
    await wait_for(lambda: (s := core.gate.session_of("HN-447-D")) is not None and s.id > 0,
                   WAIT)
    session_id = core.gate.session_of("HN-447-D").id
    before = await billing.bill(session_id)  # inside for seconds: the free minutes
    await billing.settle_pending()
    assert billing.check_exit(session_id) is None
    fee = await core.enforcement.issue_fee("att.bob", kind="ice", reason="ICE at EV-02",
                                           parking_session_id=session_id, amount=2500)
    # no await between the fee and the exit read: the exit sees the fee
    assert billing.check_exit(session_id) == "unpaid bill: 25.00 EUR due"
    assert billing.running_bill(session_id).total == before.total + 2500
    await billing.settle_pending()
    record = billing.known_bill(session_id)
    [line] = [ln for ln in record.bill.lines if ln.component == "fee"]
    assert (line.amount, line.description) == (
        2500, f"ice fee (violation {fee.id}): ICE at EV-02")
    await core.enforcement.waive("sup.eva", fee.id, "wrong car", approval=supervisor())
    assert billing.check_exit(session_id) is None
