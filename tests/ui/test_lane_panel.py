"""The lanes panel: live barrier state pills and the audited manual raise, with real
SimBarriers (sped up) behind a real EventBus and CoreBridge, on a real qasync loop."""

from __future__ import annotations

import asyncio

import pytest
import shiboken6

from app.domain.events import BarrierStateChanged
from app.services.lanes import MANUAL_RAISE, LaneService
from app.sim.barrier import SimBarrier
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.waiting import wait_for
from ui.dialogs.raise_barrier import OTHER, REASONS, RaiseBarrierDialog
from ui.views.lane_panel import LanePanel, pill_style


class AuditList(list):
    def __call__(self, actor, action, target, details) -> None:
        self.append((actor, action, target, details))



@pytest.fixture
def audit() -> AuditList:
    return AuditList()


@pytest.fixture
def lanes(core, clock, audit):
    for barrier in core.site.barriers:
        core.barriers[barrier.id] = SimBarrier(barrier, core.bus.publish, clock,
                                               open_s=0.05, hold_s=0.1, close_s=0.05)
    core.audit = audit
    core.lanes = LaneService(core.site, core.barriers, audit, clock)
    return core.lanes


@pytest.fixture
def panel(themed, core, bridge, lanes):
    p = LanePanel(core, bridge, actor="attendant")
    p.resize(520, 400)  # not shown: a top-level window offscreen warns on size hints
    yield p
    if shiboken6.isValid(p):
        p.close()
        shiboken6.delete(p)


def test_one_card_per_lane_with_its_barrier_and_state(panel):
    assert list(panel.cards) == ["LANE-IN", "LANE-OUT"]
    card = panel.card("LANE-IN")
    assert card.name_label.text() == "Entry A"
    assert card.direction_label.text() == "Entry"
    assert card.barrier_label.text() == "Entry barrier"
    assert card.pill.text() == "Closed"
    assert panel.card("LANE-OUT").direction_label.text() == "Exit"


def test_fault_pill_is_red_with_the_drivers_detail(core, clock, panel):
    driver = core.barriers["BAR-EXIT"]
    driver._state, driver.detail = "fault", "Modbus 127.0.0.9:502: connection refused"
    core.bus.publish(BarrierStateChanged(at=clock(), barrier_id="BAR-EXIT", state="fault",
                                         previous="closed"))
    card = panel.card("LANE-OUT")
    assert card.pill.text() == "Fault"
    assert card.pill.styleSheet() == pill_style("fault") and "#d1242f" in pill_style("fault")
    assert card.pill.toolTip() == "Modbus 127.0.0.9:502: connection refused"
    assert card.barrier_label.text() == \
        "Exit barrier · Modbus 127.0.0.9:502: connection refused"
    driver._state, driver.detail = "closed", ""  # recovered
    core.bus.publish(BarrierStateChanged(at=clock(), barrier_id="BAR-EXIT", state="closed",
                                         previous="fault"))
    assert card.pill.text() == "Closed" and card.barrier_label.text() == "Exit barrier"
    assert panel.card("LANE-IN").pill.text() == "Closed"


def test_the_dialog_needs_a_reason_before_ok(qtbot, themed):
    dialog = RaiseBarrierDialog("Entry A", "Entry barrier")
    qtbot.addWidget(dialog)
    assert [dialog.reason_combo.itemText(i) for i in range(dialog.reason_combo.count())] \
        == list(REASONS)
    assert not dialog.ok_button.isEnabled() and dialog.reason() == ""
    dialog.choose("Emergency vehicle")
    assert dialog.ok_button.isEnabled() and dialog.reason() == "Emergency vehicle"
    dialog.choose(OTHER)
    assert not dialog.ok_button.isEnabled() and dialog.other_edit.isEnabled()
    qtbot.keyClicks(dialog.other_edit, "  ")
    assert not dialog.ok_button.isEnabled()
    qtbot.keyClicks(dialog.other_edit, "Delivery van, driver waved")
    assert dialog.reason() == "Delivery van, driver waved" and dialog.ok_button.isEnabled()


def test_raise_asks_a_reason_audits_and_the_pill_follows_the_boom(qapp, qtbot, core, panel,
                                                                  audit):
    card = panel.card("LANE-IN")
    seen: list[str] = []
    core.bus.subscribe(lambda ev: seen.append(card.pill.text()), BarrierStateChanged)

    async def scenario():
        card.raise_button.click()
        dialog = panel.dialog
        qtbot.waitUntil(dialog.isVisible, timeout=2000)
        assert audit == [] and core.barriers["BAR-ENTRY"].pulses == 0
        dialog.choose("Visitor let in by attendant")
        dialog.ok_button.click()
        await wait_for(lambda: card.pill.text() in ("Opening", "Open"), within=2)
        await wait_for(lambda: "raised" in card.result_text(), within=2)
        await wait_for(lambda: seen[-1:] == ["Closed"] and card.pill.text() == "Closed",
                       within=3)

    run_on_qasync(qapp, scenario())
    assert audit == [("attendant", MANUAL_RAISE, "LANE-IN",
                      {"barrier_id": "BAR-ENTRY", "reason": "Visitor let in by attendant",
                       "state_before": "closed"})]
    assert seen == ["Opening", "Open", "Closing", "Closed"]
    assert "✓ Entry barrier raised (Visitor let in by attendant)" in card.result_text()
    assert card.raise_button.isEnabled()


def test_cancel_raises_nothing(qapp, qtbot, core, panel, audit):
    async def scenario():
        panel.card("LANE-OUT").raise_button.click()
        qtbot.waitUntil(panel.dialog.isVisible, timeout=2000)
        panel.dialog.choose("Barrier test")
        panel.dialog.reject()
        await asyncio.sleep(0.05)

    run_on_qasync(qapp, scenario())
    assert audit == [] and core.barriers["BAR-EXIT"].pulses == 0
    assert panel.card("LANE-OUT").result_text() == ""


def test_a_failing_barrier_shows_a_red_line(qapp, qtbot, core, panel, audit):
    async def broken(reason):
        raise ConnectionRefusedError("connection refused")

    core.barriers["BAR-EXIT"].open = broken

    async def scenario():
        panel.ask_raise("LANE-OUT")
        qtbot.waitUntil(panel.dialog.isVisible, timeout=2000)
        panel.dialog.choose("Barrier test")
        panel.dialog.accept()
        await wait_for(lambda: "did not open" in panel.card("LANE-OUT").result_text())

    run_on_qasync(qapp, scenario())
    card = panel.card("LANE-OUT")
    assert "✗ Exit barrier did not open: connection refused" in card.result_text()
    assert "#cf222e" in card.result_label.styleSheet()
    assert len(audit) == 1


def test_the_main_window_has_a_lanes_tab(qapp, qtbot, core, lanes, themed, bridge, audit):
    from ui.views.main_window import MainWindow

    w = MainWindow(core, bridge)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.lane_dock.windowTitle() == "Lanes"
    assert w.lane_dock.widget() is w.lane_panel
    w.lane_dock.raise_()
    card = w.lane_panel.card("LANE-OUT")

    async def scenario():
        card.raise_button.click()
        qtbot.waitUntil(w.lane_panel.dialog.isVisible, timeout=2000)
        w.lane_panel.dialog.choose("Ticket/plate not read")
        w.lane_panel.dialog.accept()
        await wait_for(lambda: "raised" in card.result_text())
        await wait_for(lambda: card.pill.text() == "Closed" and not w.lane_panel.in_flight())

    run_on_qasync(qapp, scenario())
    assert [a[3]["reason"] for a in audit] == ["Ticket/plate not read"]
    w.close()
