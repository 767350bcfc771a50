"""The attendant's binding queue in the real main window: a real BindingService (demo site,
real bus and rules; store and transactions faked) whose open issues survived a restart;
bind, rebind, unbind and resolve through ReasonDialogs on a real qasync loop, and Show
camera enlarging the bay's camera in the Cameras tab."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

from app.domain.binding import BindingIssue
from app.domain.enforcement import (
    Ladder,
    StepKind,
    Violation,
    ViolationKind,
    ViolationStatus,
)
from app.domain.events import ViolationChanged
from app.domain.transactions import Transaction
from app.services.binding import BindingService
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.waiting import wait_for
from ui.models.common import format_local
from ui.views.binding_queue import BindingQueueView

T0 = datetime(2025, 3, 14, 8, 30, tzinfo=UTC)


class Store:
    def __init__(self, issues: list[BindingIssue]) -> None:
        self.issues = issues
        self.bindings: dict[int, object] = {}
        self.updated: list[BindingIssue] = []

    async def insert_binding(self, binding) -> int:
        new_id = len(self.bindings) + 1
        self.bindings[new_id] = binding
        return new_id

    def update_binding(self, binding) -> None:
        self.bindings[binding.id] = binding

    async def insert_issue(self, issue) -> int:
        return 100 + len(self.issues)

    def update_issue(self, issue) -> None:
        self.updated.append(issue)

    async def load_open(self):
        return [], list(self.issues)


class Transactions:
    def __init__(self, *txs: Transaction) -> None:
        self.by_id = {t.id: t for t in txs}

    def get(self, tx_id):
        return self.by_id.get(tx_id)

    def active(self):
        return [t for t in self.by_id.values() if t.active]

    def active_on(self, charger, connector):
        return next((t for t in self.active()
                     if (t.charger_id, t.connector_id) == (charger, connector)), None)


class Audit(list):
    def __call__(self, actor, action, target, details) -> None:
        self.append((actor, action, target, details))


@pytest.fixture
def binding(core, clock):
    issues = [
        BindingIssue(1, "conflict", "EV-03", T0, "CP-02", 1, 41, ("GX512K", "V384BG"),
                     "two plates read around the plug-in"),
        BindingIssue(2, "ice", "EV-10", T0.replace(minute=40), "CP-05", 2, None, ("KL093T",),
                     "occupied 12 min without charging"),
    ]
    txs = Transactions(Transaction(41, "CP-02", 1, "41", "04A1B2C3", T0))
    audit = Audit()
    service = BindingService(core.site, core.bus, clock, Store(issues), txs,
                             access=None, gate=None, audit=audit, tick_s=3600)
    service.audit_log = audit
    core.binding = service
    return service


def run(qapp, service, body):
    async def scenario():
        await service.start()
        try:
            return await body()
        finally:
            await service.stop()

    return run_on_qasync(qapp, scenario())


def test_the_queue_lists_open_issues_and_acts_on_them(qapp, qtbot, binding, window):
    view = window.binding_view
    assert view is not None and window.binding_dock is not None

    async def body():
        view.refresh()
        await wait_for(lambda: len(view.model.issues) == 2)
        assert window.binding_dock.windowTitle() == "Binding (2)"
        assert "2 open issues" in view.summary.text()
        m = view.model
        assert [m.index(0, c).data() for c in range(3)] == \
            [T0.astimezone().strftime("%H:%M"), "EV 03", "Two plates: GX512K, V384BG"]
        assert m.index(1, m.COL_KIND).data() == "Parked, not charging: KL093T"
        assert not view.bind_button.isEnabled()  # nothing selected yet

        # Show camera: the bay's camera, enlarged in the Cameras tab.
        assert view.select_issue(1)
        assert view.detail.text() == \
            "Bay EV 03 · GX512K, V384BG · CP-02/1 · session 41: two plates read around the plug-in"
        qtbot.mouseClick(view.camera_button, Qt.MouseButton.LeftButton)
        assert window.center_tabs.currentWidget() is window.camera_wall
        assert window.camera_wall.focus_id == "CAM-BAY-A" or not window.camera_wall.tiles

        # Bind the first plate of the conflict: the issue goes, the binding is made.
        dialog = view.ask_bind()
        assert dialog.value() == ""  # two candidates: no guess filled in
        assert dialog.value_edit.placeholderText() == "GX512K or V384BG"
        dialog.value_edit.setText("GX512K")
        dialog.choose("Plate checked on the camera")
        dialog.accept()
        await wait_for(lambda: view.status.text().startswith("✓"), within=5)
        assert view.status.text() == "✓ GX512K bound to EV 03"
        b = binding.active_binding("CP-02", 1)
        assert (b.plate, b.transaction_id, b.method) == ("GX512K", 41, "attendant")
        assert [i.id for i in view.model.issues] == [2]
        await wait_for(lambda: window.binding_dock.windowTitle() == "Binding (1)")

        # Resolve the ICE issue with a reason of the attendant's own.
        assert view.select_issue(2)
        assert not view.unbind_button.isEnabled()  # no binding at EV-10
        dialog = view.ask_resolve()
        dialog.choose("Driver moved the car")
        dialog.accept()
        await wait_for(lambda: not view.model.issues, within=5)
        assert view.summary.text().startswith("No open issues")
        assert window.binding_dock.windowTitle() == "Binding"
        return [a[1] for a in binding.audit_log]

    actions = run(qapp, binding, body)
    assert actions == ["binding_bind", "binding_issue_resolve"]
    assert binding.audit_log[1][3]["resolution"] == "Driver moved the car"


def test_rebind_and_unbind_a_bound_bay(qapp, qtbot, binding, window):
    view = window.binding_view

    async def body():
        b = await binding.bind("attendant", 41, "GX512K", "seed")
        await asyncio.sleep(0)
        # A wrong-bay issue at the bound bay: the attendant moves the binding to V384BG.
        binding._issues.append(BindingIssue(3, "wrong_bay", "EV-03", T0, "CP-02", 1, 41,
                                            ("V384BG",), "V384BG is bound at EV 05"))
        view.refresh()
        assert view.select_issue(3)
        assert view.unbind_button.isEnabled()
        dialog = view.ask_bind()
        assert dialog.ok_button.text() == "Rebind" and dialog.value() == "V384BG"
        assert "bound to <b>GX512K</b>" in dialog.message_label.text()
        dialog.choose("Plate checked on site")
        dialog.accept()
        await wait_for(lambda: view.status.text().startswith(("✓", "✗")), within=5)
        assert view.status.text() == "✓ EV 03 rebound from GX512K to V384BG"
        assert not b.active and binding.active_binding("CP-02", 1).plate == "V384BG"
        # The conflict issue (same session) went with it; select the other one and unbind.
        assert [i.id for i in view.model.issues] == [2]
        binding._issues.append(BindingIssue(4, "conflict", "EV-03", T0, "CP-02", 1, 41,
                                            ("V384BG", "XX999X"), ""))
        view.refresh()
        view.select_issue(4)
        dialog = view.ask_unbind()
        dialog.choose("Wrong car bound")
        dialog.accept()
        await wait_for(lambda: binding.active_binding("CP-02", 1) is None, within=5)
        await wait_for(lambda: view.status.text().startswith("✓ V384BG unbound"), within=5)
        # A refused action says why.
        view.select_issue(2)
        dialog = view.ask_bind()
        dialog.value_edit.setText("")
        assert not dialog.ok_button.isEnabled()  # a plate is required
        dialog.reject()

    run(qapp, binding, body)


def test_no_binding_service_no_tab(window):
    assert window.binding_view is None and window.binding_dock is None


def test_the_window_still_fits_a_1024_screen_with_the_queue(qtbot, binding, window):
    assert window.binding_dock is not None
    assert window.minimumWidth() <= 1024
    assert window.minimumSizeHint().width() <= 1024
    window.resize(1024, 600)
    qtbot.wait(50)
    assert window.width() == 1024


class Offences:
    """Just enough of an EnforcementService for the badge: the in-memory offences of a
    plate (newest first) and its level on the real ladder."""

    ladder = Ladder()

    def __init__(self, *violations: Violation) -> None:
        self.violations = list(violations)

    def offences(self, plate):
        return sorted((v for v in self.violations if v.plate == plate),
                      key=lambda v: v.at, reverse=True)

    def offender_level(self, plate):
        return self.ladder.level([v.offence for v in self.offences(plate)], T0)


def _violation(n: int, plate: str, kind: str, minutes_ago: int, amount: int) -> Violation:
    return Violation(n, ViolationKind(kind), T0 - timedelta(minutes=minutes_ago),
                     StepKind.FEE if amount else StepKind.WARNING, ViolationStatus.ISSUED,
                     plate=plate, amount=amount)


def test_a_repeat_offender_is_badged_in_the_queue(qapp, qtbot, core, bridge, binding):
    # V384BG: two offences in the window -> "⚠ 2"; KL093T: one -> no badge.
    core.enforcement = Offences(_violation(1, "V384BG", "idle", 600, 0),
                                _violation(2, "V384BG", "ice", 60, 2500),
                                _violation(3, "KL093T", "overstay", 30, 2500))
    view = BindingQueueView(core, bridge, actor="attendant")
    qtbot.addWidget(view)

    async def body():
        view.refresh()
        await wait_for(lambda: len(view.model.issues) == 2)
        m = view.model
        assert m.index(0, m.COL_KIND).data() == "Two plates: GX512K, V384BG ⚠ 2"
        assert m.index(1, m.COL_KIND).data() == "Parked, not charging: KL093T"
        tip = m.index(0, m.COL_BAY).data(Qt.ItemDataRole.ToolTipRole)
        first = core.enforcement.violations[0]
        second = core.enforcement.violations[1]
        assert ("V384BG — Repeat offender: 2nd in 90 days\n"
                f"{format_local(second.at)} · Parked, not charging · fee €25.00 · issued\n"
                f"{format_local(first.at)} · Idle after charging · warning · issued") in tip
        assert "Repeat offender" not in m.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
        view.select_issue(1)
        assert view.detail.text().startswith("Bay EV 03 · GX512K, V384BG ⚠ 2 · CP-02/1")
        assert view.detail.toolTip().startswith("V384BG — Repeat offender: 2nd in 90 days")

        # A supervisor waives one: it no longer counts, the badge goes when the bridge
        # says a violation changed.
        core.enforcement.violations[0] = replace(first, status=ViolationStatus.WAIVED)
        core.bus.publish(ViolationChanged(at=T0, violation_id=1, kind="idle",
                                          plate="V384BG", account_id=None, bay_id="",
                                          parking_session_id=None, step="warning",
                                          amount=0, status="waived", offences=1))
        await wait_for(lambda: "⚠" not in m.index(0, m.COL_KIND).data())
        assert m.index(0, m.COL_KIND).data() == "Two plates: GX512K, V384BG"
        assert view.detail.toolTip() == ""

    run(qapp, binding, body)
