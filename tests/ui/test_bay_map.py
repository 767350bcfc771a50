"""The bay map as an attendant sees it: bays, pillars, colours, unassigned chargers."""

from __future__ import annotations

from app.domain.charging import ConnectorStatus as S
from app.domain.site import OcppVersion
from tests.ui.helpers import bring_online
from ui.theme import status_color


def test_map_shows_every_bay_and_charger(window):
    bay_map = window.bay_map
    assert len(bay_map.bay_items()) == 12
    assert sorted(p.charger_id for p in bay_map.pillars()) == [f"CP-0{n}" for n in range(1, 7)]
    assert all(item.status is S.OFFLINE and item.offline for item in bay_map.bay_items())
    assert bay_map.unassigned_ids() == []


def test_bays_sit_in_two_rows_with_pillars_between_their_bays(window):
    bay_map = window.bay_map
    top = {bay_map.bay_item(f"EV-0{n}").pos().y() for n in range(1, 7)}
    bottom = {bay_map.bay_item(b).pos().y() for b in ("EV-07", "EV-08", "EV-12")}
    assert len(top) == len(bottom) == 1 and max(top) < min(bottom)
    ev1, ev2 = bay_map.bay_item("EV-01"), bay_map.bay_item("EV-02")
    pillar = bay_map.pillar("CP-01")
    assert ev1.sceneBoundingRect().center().x() < pillar.pos().x()
    assert pillar.pos().x() < ev2.sceneBoundingRect().center().x()


def test_charging_flips_the_bay_colour_and_pulses(qtbot, core, window):
    item = window.bay_map.bay_item("EV-01")
    bring_online(core, "CP-01", S.AVAILABLE, S.AVAILABLE)
    assert item.status is S.AVAILABLE
    assert item.color == status_color(S.AVAILABLE)
    core.charging.status("CP-01", 1, S.CHARGING)
    assert item.status is S.CHARGING
    assert item.color == status_color(S.CHARGING) != status_color(S.AVAILABLE)
    assert window.bay_map.pillar("CP-01").online
    assert window.bay_map.pulsing
    qtbot.waitUntil(lambda: item.pulse > 0, timeout=2000)
    assert "Charging" in item.toolTip() and "CP-01" in item.toolTip()
    assert item.view.since_text.startswith("since ")


def test_disconnect_turns_both_bays_offline(core, window):
    bring_online(core, "CP-02", S.CHARGING, S.PREPARING)
    core.charging.disconnected("CP-02", "socket closed")
    for bay_id in ("EV-03", "EV-04"):
        item = window.bay_map.bay_item(bay_id)
        assert item.status is S.OFFLINE and item.offline
    assert not window.bay_map.pillar("CP-02").online
    assert not window.bay_map.pulsing  # nothing charges any more: the animation stops


def test_faulted_bay_shows_the_error_in_its_tooltip(core, window):
    bring_online(core, "CP-06", S.AVAILABLE, S.AVAILABLE)
    core.charging.status("CP-06", 2, S.FAULTED, error_code="OverCurrentFailure")
    item = window.bay_map.bay_item("EV-12")
    assert item.status is S.FAULTED
    assert item.color == status_color(S.FAULTED)
    assert "OverCurrentFailure" in item.toolTip()


def test_unknown_charger_lands_in_the_unassigned_strip(core, window):
    core.charging.connected("CP-99", OcppVersion.V16, "127.0.0.99:4000")
    assert window.bay_map.unassigned_ids() == ["CP-99"]
    assert "CP-99" not in [p.charger_id for p in window.bay_map.pillars()]
    chip = window.bay_map._strip.chips[0]
    assert chip.online and chip.state == "Online"
    core.charging.disconnected("CP-99", "gone")
    assert not window.bay_map._strip.chips[0].online


def test_every_status_paints_without_warnings(qtbot, core, window):
    bring_online(core, "CP-01")
    for status in S:
        if status is not S.OFFLINE:
            core.charging.status("CP-01", 1, status)
            assert window.bay_map.bay_item("EV-01").status is status
    assert not window.bay_map.grab().isNull()  # paints every item; Qt warnings fail the test


def test_a_bound_plate_shows_on_the_car_and_goes_with_its_binding(qtbot, core, window):
    from datetime import UTC, datetime

    from app.domain.events import BindingChanged

    bring_online(core, "CP-01", S.AVAILABLE, S.AVAILABLE)
    core.charging.status("CP-01", 1, S.CHARGING)
    item = window.bay_map.bay_item("EV-01")

    def bound(binding_id: int, plate: str, active: bool) -> None:
        core.bus.publish(BindingChanged(
            at=datetime(2025, 3, 14, 9, 0, tzinfo=UTC), binding_id=binding_id, bay_id="EV-01",
            charger_id="CP-01", connector_id=1, plate=plate, transaction_id=7,
            method="bay_anpr", confidence=0.9, active=active))

    bound(1, "GX512K", True)
    qtbot.waitUntil(lambda: item.view.plate == "GX512K", timeout=2000)
    assert "GX512K" in item.toolTip()
    window.bay_map.grab()  # paints the plate without warnings
    bound(2, "KL093T", True)  # the attendant rebinds: the new plate shows...
    bound(1, "GX512K", False)  # ...and the old binding ending does not clear it
    qtbot.waitUntil(lambda: item.view.plate == "KL093T", timeout=2000)
    bound(2, "KL093T", False)
    qtbot.waitUntil(lambda: item.view.plate == "", timeout=2000)


def test_a_fully_charged_car_idles_on_the_map_and_alerts_the_attendant(qtbot, themed, core,
                                                                         bridge):
    from datetime import UTC, datetime

    from app.domain.events import TransactionStarted
    from app.services.idle import IdleWatcher
    from ui.views.main_window import MainWindow

    core.idle = IdleWatcher(core.bus, lambda: datetime.now(UTC))
    w = MainWindow(core, bridge)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    bring_online(core, "CP-01", S.AVAILABLE, S.AVAILABLE)
    core.charging.status("CP-01", 1, S.CHARGING)
    core.bus.publish(TransactionStarted(at=datetime.now(UTC), charger_id="CP-01",
                                        connector_id=1, transaction_id=5, id_token="04A1"))
    item = w.bay_map.bay_item("EV-01")
    assert item.view.since_text.startswith("since ")
    core.charging.status("CP-01", 1, S.SUSPENDED_EV)  # the car's battery is full
    # (this core's clock is a fixed test clock: the minutes themselves are not checked)
    qtbot.waitUntil(lambda: item.view.since_text.startswith("charged · idle "), timeout=2000)
    assert "EV 01: vehicle fully charged" in w.alert_label.text()
    core.charging.status("CP-01", 1, S.AVAILABLE)  # it leaves
    qtbot.waitUntil(lambda: item.view.since_text.startswith("since "), timeout=2000)
    w.close()


def test_ice_and_overstay_found_by_the_console_alert_the_attendant(qtbot, themed, core,
                                                                   bridge):
    from datetime import UTC, datetime

    from app.domain.events import ViolationChanged
    from ui.views.main_window import MainWindow

    w = MainWindow(core, bridge)
    qtbot.addWidget(w)

    def violation(kind: str, actor: str, bay_id: str = "", status: str = "issued") -> None:
        core.bus.publish(ViolationChanged(
            at=datetime.now(UTC), violation_id=1, kind=kind, plate="GX512K", account_id=None,
            bay_id=bay_id, parking_session_id=None, step="warning", amount=0, status=status,
            actor=actor))

    violation("ice", "system:enforcement", "EV-03")
    qtbot.waitUntil(lambda: "ICE-ing at EV 03 (GX512K)" in w.alert_label.text(), timeout=2000)
    violation("overstay", "system:enforcement")
    qtbot.waitUntil(lambda: "Overstay: GX512K" in w.alert_label.text(), timeout=2000)
    # An attendant's own fee, or a waiver, is not news to the attendant.
    violation("ice", "att.bob", "EV-04")
    violation("ice", "system:enforcement", "EV-05", status="waived")
    qtbot.wait(50)
    assert "Overstay: GX512K" in w.alert_label.text()
    w.close()
