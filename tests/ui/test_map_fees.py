"""The bay map while a charged car idles (grace, then the idle fee growing) and the badge
of a repeat offender's car, as the attendant sees them.

The bill is the real engine (compute_bill) behind a hand-written billing fake that prices
the stay at the test's clock, the way BillingService.running_bill does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.domain.billing import ChargingPeriod, Timeline, compute_bill
from app.domain.charging import ConnectorStatus as S
from app.domain.enforcement import StepKind, ViolationKind
from app.domain.events import BillChanged, BindingChanged, TransactionStarted, ViolationChanged
from app.domain.tariffs import tariff_from_dict
from app.services.idle import IdleWatcher
from tests.helpers.enforcement import FakeEnforcement, violation
from tests.ui.helpers import bring_online
from ui.models import BayTableModel, ChargerTableModel, Roles, format_local
from ui.models.bays import idle_fee_of
from ui.views.bay_map import BayMapView

SESSION = 41
PLATE = "GX512K"


def tariff(per_min: int = 20, grace_min: int = 10, *, gross: bool = True,
           vat_rate_bp: int = 1900) -> Any:
    return tariff_from_dict({
        "id": "std", "version": 1, "effective_from": "2025-01-01T00:00:00Z",
        "currency": "EUR", "vat_rate_bp": vat_rate_bp, "prices_include_vat": gross,
        "components": {"idle": {"per_min": per_min, "grace_min": grace_min}}})


@dataclass
class FakeBinding:
    """core.binding as the bay model reads it: the active bindings."""

    bays: dict[str, tuple[int, str, int | None]] = field(default_factory=dict)

    def active_bindings(self) -> list[Any]:
        return [self.binding(bid) for bid, _, _ in self.bays.values()]

    def binding(self, binding_id: int) -> Any:
        for bay_id, (bid, plate, session) in self.bays.items():
            if bid == binding_id:
                return _Binding(binding_id, plate, bay_id, session)
        return None


@dataclass
class _Binding:
    id: int
    plate: str
    bay_id: str
    parking_session_id: int | None


class FakeBilling:
    """running_bill(session) = the real engine on the stay's timeline, up to `now`."""

    def __init__(self, tariffs: list[Any]) -> None:
        self._tariffs = tariffs
        self.timelines: dict[int, Timeline] = {}
        self.now = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)

    def tariffs(self) -> list[Any]:
        return list(self._tariffs)

    def running_bill(self, parking_session_id: int) -> Any:
        timeline = self.timelines.get(parking_session_id)
        if timeline is None:
            return None
        return compute_bill(replace(timeline, now=self.now), self._tariffs, "UTC")


def make_map(qtbot, core, bridge) -> BayMapView:
    view = BayMapView(BayTableModel(core, bridge), ChargerTableModel(core, bridge))
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitExposed(view)
    return view


def bind(core, binding_id: int = 1, active: bool = True) -> None:
    core.bus.publish(BindingChanged(
        at=datetime(2025, 3, 14, 9, 0, tzinfo=UTC), binding_id=binding_id, bay_id="EV-01",
        charger_id="CP-01", connector_id=1, plate=PLATE, transaction_id=5,
        method="bay_anpr", confidence=0.9, active=active))


def charge_until_full(core, clock) -> datetime:
    """CP-01/1 charges, then the battery is full: returns when charging finished."""
    bring_online(core, "CP-01", S.AVAILABLE, S.AVAILABLE)
    core.charging.status("CP-01", 1, S.CHARGING)
    core.bus.publish(TransactionStarted(at=clock(), charger_id="CP-01", connector_id=1,
                                        transaction_id=5, id_token="04A1"))
    core.charging.status("CP-01", 1, S.SUSPENDED_EV)
    finished = core.idle.idle_since("CP-01", 1)
    assert finished is not None
    return finished


@pytest.fixture
def idle_core(core, clock):
    core.idle = IdleWatcher(core.bus, clock)
    core.binding = FakeBinding({"EV-01": (1, PLATE, SESSION)})
    return core


def tick(view: BayMapView, at: datetime, billing: FakeBilling | None = None) -> None:
    """The map's 30 s refresh, with the wall clock at `at`."""
    view.clock = lambda: at
    if billing is not None:
        billing.now = at
    view._bay_model._idle_timer.timeout.emit()


def test_the_idle_fee_grows_on_the_map_after_the_grace(qtbot, idle_core, bridge, clock):
    core = idle_core
    billing = core.billing = FakeBilling([tariff(per_min=20, grace_min=10)])
    view = make_map(qtbot, core, bridge)
    item = view.bay_item("EV-01")
    finished = charge_until_full(core, clock)
    billing.timelines[SESSION] = Timeline(
        entry_at=finished - timedelta(hours=2), exit_at=None, session_id=str(SESSION),
        plate=PLATE, charging=(ChargingPeriod("5", finished - timedelta(hours=1), None,
                                              finished),))

    tick(view, finished + timedelta(minutes=7), billing)
    assert item.view.since_text == "charged · idle 7 min"
    assert item.view.fee_text == "grace · 3 min left" and not item.view.fee_due
    assert "after 10 min grace: none yet" in item.toolTip()

    tick(view, finished + timedelta(minutes=23), billing)  # 13 minutes after the grace
    assert item.view.idle_line == "charged · idle 23 min · idle fee €2.60"
    assert item.view.fee_due
    assert "Idle fee so far <b>€2.60</b>" in item.toolTip()
    assert not view.grab().isNull()  # paints the fee line without Qt warnings

    # A recomputed bill refreshes its bay at once, without waiting for the timer.
    billing.now = finished + timedelta(minutes=33)
    view.clock = lambda: billing.now
    core.bus.publish(BillChanged(at=billing.now, bill_id=9, parking_session_id=SESSION,
                                 total=460, paid=0, status="open"))
    assert item.view.idle_line == "charged · idle 33 min · idle fee €4.60"

    core.charging.status("CP-01", 1, S.AVAILABLE)  # the car leaves
    qtbot.waitUntil(lambda: item.view.since_text.startswith("since "), timeout=2000)
    assert item.view.fee_text == "" and "Idle fee" not in item.toolTip()


def test_net_prices_show_what_the_driver_pays():
    t = tariff(per_min=100, grace_min=0, gross=False, vat_rate_bp=1900)
    end = datetime(2025, 3, 14, 10, 0, tzinfo=UTC)
    bill = compute_bill(Timeline(
        entry_at=end - timedelta(hours=1), exit_at=None, now=end + timedelta(minutes=3),
        charging=(ChargingPeriod("5", end - timedelta(minutes=30), None, end),)), [t], "UTC")
    fee = idle_fee_of(bill, [t], end)
    assert (fee.amount, fee.currency, fee.grace_min) == (357, "EUR", 0)  # 3.00 + 19 % VAT
    assert fee.text == "idle fee €3.57"


@pytest.mark.parametrize("billing", [None, object()], ids=["no billing", "older billing"])
def test_without_a_running_bill_the_map_shows_the_idle_time_only(qtbot, idle_core, bridge,
                                                                   clock, billing):
    idle_core.billing = billing
    view = make_map(qtbot, idle_core, bridge)
    item = view.bay_item("EV-01")
    finished = charge_until_full(idle_core, clock)
    tick(view, finished + timedelta(minutes=23))
    assert item.view.idle_line == "charged · idle 23 min"
    assert item.view.charger_text == "CP-01  ·  1"  # today's two lines
    assert view._bay_model.index(0, 0).data(Roles.IDLE_FEE) is None


def test_a_stay_without_a_bill_yet_shows_the_idle_time_only(qtbot, idle_core, bridge, clock):
    idle_core.billing = FakeBilling([tariff()])  # no timeline for the stay: no bill
    view = make_map(qtbot, idle_core, bridge)
    finished = charge_until_full(idle_core, clock)
    tick(view, finished + timedelta(minutes=23))
    assert view.bay_item("EV-01").view.idle_line == "charged · idle 23 min"


def test_a_repeat_offenders_car_wears_a_badge_and_its_history(qtbot, core, bridge):
    enforcement = core.enforcement = FakeEnforcement()
    at1 = datetime(2025, 3, 10, 8, 15, tzinfo=UTC)
    at2 = datetime(2025, 2, 20, 17, 40, tzinfo=UTC)
    enforcement.history[PLATE] = [
        violation(7, at1, ViolationKind.IDLE, StepKind.FEE, 2500),
        violation(3, at2, ViolationKind.ICE, StepKind.WARNING)]
    view = make_map(qtbot, core, bridge)
    item = view.bay_item("EV-01")
    bring_online(core, "CP-01", S.AVAILABLE, S.AVAILABLE)
    core.charging.status("CP-01", 1, S.CHARGING)
    bind(core)
    assert item.view.plate == PLATE
    assert item.view.offender == "⚠ 2"
    tip = item.toolTip()
    assert "2nd in 90 days" in tip
    assert format_local(at1) in tip and "€25.00" in tip and format_local(at2) in tip
    assert tip.index(format_local(at1)) < tip.index(format_local(at2))  # newest first
    assert not view.grab().isNull()  # the badge paints without warnings

    # A third offence is recorded: the badge counts it at once.
    enforcement.history[PLATE].insert(0, violation(9, datetime(2025, 3, 14, 8, 0, tzinfo=UTC),
                                                   ViolationKind.OVERSTAY, StepKind.BAN, 5000))
    core.bus.publish(ViolationChanged(
        at=datetime(2025, 3, 14, 8, 0, tzinfo=UTC), violation_id=9, kind="overstay",
        plate=PLATE, account_id=None, bay_id="EV-01", parking_session_id=None, step="ban",
        amount=5000, status="issued", offences=3))
    assert item.view.offender == "⚠ 3" and "3rd in 90 days" in item.toolTip()

    bind(core, active=False)  # the car leaves: no plate, no badge
    assert item.view.plate == "" and item.view.offender == ""
    assert "offender" not in item.toolTip().lower()


def test_a_first_offence_gets_no_badge(qtbot, core, bridge):
    enforcement = core.enforcement = FakeEnforcement()
    enforcement.history[PLATE] = [violation(1, datetime(2025, 3, 10, tzinfo=UTC),
                                            ViolationKind.ICE, StepKind.WARNING)]
    view = make_map(qtbot, core, bridge)
    bind(core)
    assert view.bay_item("EV-01").view.offender == ""
