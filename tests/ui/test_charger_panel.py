"""The charger panel: identity, live connectors, messages, commands and approval.

Hand-written fakes stand in for the OCPP gateway, the audited command service and the
frame log; one test drives the real TransactionService (with a fake store). Commands run
as coroutines, so those tests run on a real qasync loop, as the app does.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import shiboken6
from PySide6.QtCore import QPoint, Qt

from app.domain.charging import ChargerIdentity, RegistrationStatus
from app.domain.charging import ConnectorStatus as S
from app.domain.commands import CommandResult, CommandStatus
from app.domain.events import MeterUpdated, TransactionEnded, TransactionStarted
from app.domain.frames import Direction, Frame
from app.domain.site import OcppVersion
from app.domain.transactions import Transaction
from app.services.authorization import AuthorizationService
from app.services.charging import ChargingService, UnknownChargerPolicy
from app.services.transactions import LiveMeter, TransactionService
from tests.helpers.fakes import FakeChargerStore
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.waiting import wait_for
from tests.ui.helpers import bring_online
from ui.views.charger_panel import FAIL_COLOR, OK_COLOR, ChargerPanel
from ui.views.command_bar import COMMANDS_BY_KEY

T0 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


# -- fakes ---------------------------------------------------------------------------------


class FakeGateway:
    """Answers every command Accepted (or as told); `hold` keeps answers back."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.answers: dict[str, CommandResult] = {}
        self.hold: asyncio.Event | None = None

    async def _answer(self, method: str, charger_id: str, *args) -> CommandResult:
        self.calls.append((method, charger_id, *args))
        if self.hold is not None:
            await self.hold.wait()
        return self.answers.get(method) or CommandResult(method, charger_id,
                                                         CommandStatus.ACCEPTED)

    async def remote_start(self, charger_id, connector_id, id_token):
        return await self._answer("remote_start", charger_id, connector_id, id_token)

    async def remote_stop(self, charger_id, transaction_id):
        return await self._answer("remote_stop", charger_id, transaction_id)

    async def reset(self, charger_id, hard=False):
        return await self._answer("reset", charger_id, hard)

    async def clear_cache(self, charger_id):
        return await self._answer("clear_cache", charger_id)

    async def get_configuration(self, charger_id, keys=None):
        return await self._answer("get_configuration", charger_id, keys)

    async def set_charging_profile(self, charger_id, connector_id, limit_w, profile_id=1):
        return await self._answer("set_charging_profile", charger_id, connector_id, limit_w)


class FakeCommands:
    """The audited CommandService: the gateway's methods with `actor` first."""

    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway
        self.actors: list[str] = []

    async def clear_cache(self, actor, charger_id):
        self.actors.append(actor)
        return await self.gateway.clear_cache(charger_id)


class FakeTransactions:
    """TransactionService's queries; `start`/`meter`/`end` publish what the real one does."""

    def __init__(self, bus) -> None:
        self.bus = bus
        self.active: dict[tuple[str, int], Transaction] = {}
        self.meters: dict[tuple[str, int], LiveMeter] = {}

    def active_on(self, charger_id, connector_id):
        return self.active.get((charger_id, connector_id))

    def live(self, charger_id, connector_id):
        return self.meters.get((charger_id, connector_id))

    def start(self, charger_id, connector_id, tx_id, token):
        self.active[(charger_id, connector_id)] = Transaction(
            id=tx_id, charger_id=charger_id, connector_id=connector_id,
            charger_tx_id=str(tx_id), id_token=token, started_at=T0)
        self.bus.publish(TransactionStarted(at=T0, charger_id=charger_id,
                                            connector_id=connector_id, transaction_id=tx_id,
                                            id_token=token))

    def meter(self, charger_id, connector_id, power_w, energy_wh, soc=None):
        tx = self.active_on(charger_id, connector_id)
        tx_id = tx.id if tx else None
        self.meters[(charger_id, connector_id)] = LiveMeter(tx_id, power_w, energy_wh, soc, T0)
        self.bus.publish(MeterUpdated(at=T0, charger_id=charger_id, connector_id=connector_id,
                                      transaction_id=tx_id, power_w=power_w,
                                      energy_wh=energy_wh, soc_pct=soc))

    def end(self, charger_id, connector_id):
        tx = self.active.pop((charger_id, connector_id))
        self.meters.pop((charger_id, connector_id), None)
        self.bus.publish(TransactionEnded(at=T0, charger_id=charger_id,
                                          connector_id=connector_id, transaction_id=tx.id,
                                          energy_wh=tx.energy_wh, reason="Local"))


class FakeFrames:
    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def add(self, charger_id, direction, text, at=T0):
        self.frames.append(Frame(at, charger_id, direction, text))

    def recent(self, charger_id, limit=50):
        return [f for f in self.frames if f.charger_id == charger_id][-limit:]


class FakeTransactionStore:
    """TransactionStore for the real TransactionService: ids count up, writes are kept."""

    def __init__(self) -> None:
        self.rows: dict[int, Transaction] = {}
        self.samples: list = []

    async def insert(self, tx, received_at):
        new_id = len(self.rows) + 1
        self.rows[new_id] = tx
        return new_id

    def update(self, tx, updated_at):
        self.rows[tx.id] = tx

    def add_samples(self, samples):
        self.samples.extend(samples)

    async def get(self, transaction_id):
        return self.rows.get(transaction_id)

    async def find(self, charger_id, charger_tx_id):
        return None

    async def load_open(self):
        return []

    def record_event(self, *args):
        pass


# -- helpers -------------------------------------------------------------------------------



@pytest.fixture
def gateway(core):
    gw = FakeGateway()
    core.gateway = gw
    return gw


@pytest.fixture
def transactions(core):
    tx = FakeTransactions(core.bus)
    core.transactions = tx
    return tx


@pytest.fixture
def frames(core):
    log = FakeFrames()
    core.frames = log
    return log


def _dispose(widget) -> None:
    """Delete a top-level widget now, on this thread. Left to Python's cyclic GC it may be
    destroyed on whatever thread triggers a collection (a DB writer, a camera), and Qt
    warns about its timers: qt_log_level_fail then fails some later test."""
    if shiboken6.isValid(widget):
        widget.close()
        shiboken6.delete(widget)


@pytest.fixture
def panel(themed, core, bridge):
    p = ChargerPanel(core, bridge, actor="attendant")
    p.resize(540, 760)
    yield p
    _dispose(p)


# -- opening it --------------------------------------------------------------------------


def test_double_click_on_a_charger_row_opens_the_panel(qtbot, core, window):
    bring_online(core, "CP-02", S.AVAILABLE, S.CHARGING)
    table = window.charger_table
    row = window.charger_model.row_of("CP-02")
    rect = table.visualRect(window.charger_model.index(row, 0))
    assert not window.charger_panel_dock.isVisible()
    # A real double-click is press, release, double-click, release.
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert not window.charger_panel_dock.isVisible(), "a single click only selects"
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(window.charger_panel_dock.isVisible, timeout=2000)
    assert window.charger_panel.charger_id == "CP-02"
    assert window.charger_panel.title_label.text() == "CP-02"
    assert window.charger_panel_dock.windowTitle() == "Charger CP-02"


def test_clicking_a_bay_on_the_map_opens_its_charger(qtbot, core, window):
    bring_online(core, "CP-01", S.CHARGING)
    view = window.bay_map
    item = view.bay_item("EV-02")  # CP-01, connector 2 in the demo site
    point = view.mapFromScene(item.mapToScene(item.boundingRect().center()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point))
    qtbot.waitUntil(window.charger_panel_dock.isVisible, timeout=2000)
    assert window.charger_panel.charger_id == "CP-01"


def test_bridge_turns_meter_and_transaction_events_into_signals(core, bridge, transactions):
    meters, sessions = [], []
    bridge.meterChanged.connect(lambda cid, n: meters.append((cid, n)))
    bridge.transactionChanged.connect(lambda cid, n: sessions.append((cid, n)))
    transactions.start("CP-02", 2, 8, "TAG")
    transactions.meter("CP-02", 2, 3000.0, 10.0)
    transactions.end("CP-02", 2)
    assert meters == [("CP-02", 2)]
    assert sessions == [("CP-02", 2), ("CP-02", 2)]


# -- what it shows -------------------------------------------------------------------------


def test_identity_and_connector_statuses(core, panel):
    bring_online(core, "CP-01", S.CHARGING, S.AVAILABLE)
    panel.show_charger("CP-01")
    text = {k: label.text() for k, label in panel.identity.items()}
    assert (text["vendor"], text["model"], text["serial"], text["firmware"]) == (
        "ABB", "Terra AC", "SN-42", "1.8.21")
    assert text["ocpp"] == "1.6"
    assert text["registration"] == "Accepted"
    assert text["remote"] == "127.0.0.21:51000"
    last_seen = core.charging.charger("CP-01").last_seen.astimezone()
    assert text["last_seen"] in (last_seen.strftime("%H:%M:%S"),
                                 last_seen.strftime("%d %b %H:%M"))
    assert panel.state_label.text() == "Online"
    assert panel.connector_text(1, ChargerPanel.COL_STATUS) == "Charging"
    assert panel.connector_text(2, ChargerPanel.COL_STATUS) == "Available"
    assert not panel.pending_box.isVisibleTo(panel)
    core.charging.status("CP-01", 2, S.FAULTED, "GroundFailure")
    assert panel.connector_text(2, ChargerPanel.COL_STATUS) == "Faulted"


def test_live_meter_update_shows_kw_kwh_and_soc(core, panel, transactions):
    bring_online(core, "CP-01", S.CHARGING, S.AVAILABLE)
    panel.show_charger("CP-01")
    assert panel.connector_text(1, ChargerPanel.COL_POWER) == "—"
    transactions.start("CP-01", 1, 17, "04A1B2C3")
    session = panel.connector_text(1, ChargerPanel.COL_SESSION)
    assert "17" in session and "04A1B2C3" in session
    transactions.meter("CP-01", 1, power_w=7360.0, energy_wh=1250.0, soc=54.0)
    assert panel.connector_text(1, ChargerPanel.COL_POWER) == "7.4 kW"
    assert panel.connector_text(1, ChargerPanel.COL_ENERGY) == "1.25 kWh"
    assert panel.connector_text(1, ChargerPanel.COL_SOC) == "54 %"
    # another charger's reading does not touch this panel
    transactions.meter("CP-02", 1, power_w=22000.0, energy_wh=10.0)
    assert panel.connector_text(1, ChargerPanel.COL_POWER) == "7.4 kW"
    transactions.end("CP-01", 1)
    assert panel.connector_text(1, ChargerPanel.COL_POWER) == "—"
    assert panel.connector_text(1, ChargerPanel.COL_SESSION) == "—"


async def test_live_meter_from_the_real_transaction_service(core, panel):
    core.transactions = TransactionService(FakeTransactionStore(), core.bus, lambda: T0,
                                           AuthorizationService())
    bring_online(core, "CP-03", S.AVAILABLE, S.AVAILABLE)
    panel.show_charger("CP-03")
    tx_id, _ = await core.transactions.start_16("CP-03", 2, "CAFE01", 100_000,
                                                "2025-03-14T08:59:00Z")
    assert "CAFE01" in panel.connector_text(2, ChargerPanel.COL_SESSION)
    await core.transactions.meter_values("CP-03", 2, tx_id, [{
        "timestamp": "2025-03-14T09:00:00Z",
        "sampled_value": [
            {"value": "103.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
            {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
        ],
    }])
    assert panel.connector_text(2, ChargerPanel.COL_POWER) == "11.0 kW"
    assert panel.connector_text(2, ChargerPanel.COL_ENERGY) == "3.50 kWh"


def test_last_messages_newest_first_with_direction_arrows(core, panel, frames):
    bring_online(core, "CP-01", S.AVAILABLE)
    frames.add("CP-01", Direction.IN, '[2,"a1","Heartbeat",{}]', T0)
    frames.add("CP-01", Direction.OUT, '[3,"a1",{"currentTime":"2025-03-14T09:00:01Z"}]',
               T0 + timedelta(seconds=1))
    frames.add("CP-02", Direction.IN, '[2,"zz","Heartbeat",{}]', T0)
    frames.add("CP-01", Direction.IN, '[2,"a2","MeterValues",{"data":"' + "x" * 500 + '"}]',
               T0 + timedelta(seconds=2))
    panel.show_charger("CP-01")
    lines = panel.frame_lines()
    assert len(lines) == 3
    assert lines[0].startswith("← ") and "MeterValues" in lines[0]
    assert lines[0].endswith("…") and len(lines[0]) < 300
    assert lines[1].startswith("→ ") and "currentTime" in lines[1]
    assert lines[2].startswith("← ") and "Heartbeat" in lines[2]
    frames.add("CP-01", Direction.IN, '[2,"a3","Heartbeat",{}]', T0 + timedelta(seconds=3))
    panel.refresh_frames()  # what the one-second timer does
    assert '"a3"' in panel.frame_lines()[0]


def test_frames_refresh_on_a_timer_while_visible(qtbot, core, window, frames):
    bring_online(core, "CP-01", S.AVAILABLE)
    panel = window.open_charger_panel("CP-01")
    qtbot.waitUntil(panel.isVisible, timeout=2000)
    frames.add("CP-01", Direction.IN, '[2,"t1","Heartbeat",{}]')
    qtbot.waitUntil(lambda: any('"t1"' in line for line in panel.frame_lines()), timeout=3000)
    window.charger_dock.raise_()  # another tab in front: the panel stops polling
    qtbot.waitUntil(lambda: not panel.frames_in_view(), timeout=2000)
    frames.add("CP-01", Direction.IN, '[2,"t2","Heartbeat",{}]')
    qtbot.wait(1300)
    assert not any('"t2"' in line for line in panel.frame_lines())
    window.charger_panel_dock.raise_()
    qtbot.waitUntil(lambda: any('"t2"' in line for line in panel.frame_lines()), timeout=3000)


# -- commands ------------------------------------------------------------------------------


def test_a_command_button_runs_the_command_and_shows_its_result(qapp, qtbot, core, panel,
                                                                 gateway):
    bring_online(core, "CP-01", S.AVAILABLE, S.AVAILABLE)
    panel.show_charger("CP-01")
    button = panel.command_bar.button("clear_cache")
    assert button.isEnabled()

    async def scenario():
        gateway.hold = asyncio.Event()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # returns at once
        await wait_for(lambda: gateway.calls)
        assert gateway.calls == [("clear_cache", "CP-01")]
        assert not button.isEnabled(), "the button stays disabled while in flight"
        assert "sending…" in panel.result_lines()[0]
        gateway.hold.set()
        await wait_for(button.isEnabled)

    run_on_qasync(qapp, scenario())
    line = panel.result_list.item(0)
    assert "Clear cache on CP-01: Accepted" in line.text()
    assert "✓" in line.text()
    assert line.foreground().color() == OK_COLOR
    assert panel.last_result.ok


def test_a_refusal_is_shown_in_red(qapp, core, panel, gateway):
    bring_online(core, "CP-01", S.AVAILABLE)
    panel.show_charger("CP-01")
    gateway.answers["clear_cache"] = CommandResult("clear_cache", "CP-01",
                                                   CommandStatus.REJECTED)

    async def scenario():
        panel.command_bar.button("clear_cache").click()
        await wait_for(lambda: panel.last_result is not None)

    run_on_qasync(qapp, scenario())
    line = panel.result_list.item(0)
    assert "Clear cache on CP-01: Rejected" in line.text() and "✗" in line.text()
    assert line.foreground().color() == FAIL_COLOR


def test_reset_asks_soft_or_hard_before_sending(qapp, qtbot, core, panel, gateway):
    bring_online(core, "CP-01", S.CHARGING)
    panel.show_charger("CP-01")

    async def scenario():
        panel.command_bar.button("reset").click()
        dialog = panel.dialog
        qtbot.waitUntil(dialog.isVisible, timeout=2000)
        assert gateway.calls == [], "nothing is sent before the attendant confirms"
        assert dialog.ok_button.text() == "Reset"
        dialog.set_value("hard", True)
        dialog.accept()
        await wait_for(lambda: panel.last_result is not None)

    run_on_qasync(qapp, scenario())
    assert gateway.calls == [("reset", "CP-01", True)]


def test_cancelled_dialog_sends_nothing(qapp, qtbot, core, panel, gateway):
    bring_online(core, "CP-01", S.CHARGING)
    panel.show_charger("CP-01")

    async def scenario():
        panel.command_bar.button("reset").click()
        qtbot.waitUntil(panel.dialog.isVisible, timeout=2000)
        panel.dialog.reject()
        await asyncio.sleep(0.05)

    run_on_qasync(qapp, scenario())
    assert gateway.calls == [] and panel.result_lines() == []


def test_remote_start_needs_an_id_token_and_stop_offers_the_session(qapp, qtbot, core, panel,
                                                                   gateway, transactions):
    bring_online(core, "CP-01", S.CHARGING, S.AVAILABLE)
    transactions.start("CP-01", 1, 5, "AA11")
    panel.show_charger("CP-01")

    async def scenario():
        panel.command_bar.button("remote_start").click()
        dialog = panel.dialog
        qtbot.waitUntil(dialog.isVisible, timeout=2000)
        assert dialog.values()["connector"] == 2, "the free connector is preselected"
        assert not dialog.ok_button.isEnabled()
        dialog.set_value("id_token", "BB22")
        assert dialog.ok_button.isEnabled()
        dialog.accept()
        await wait_for(lambda: len(gateway.calls) == 1)

        panel.command_bar.button("remote_stop").click()
        dialog = panel.dialog
        qtbot.waitUntil(dialog.isVisible, timeout=2000)
        assert dialog.values() == {"transaction_id": "5"}
        dialog.accept()
        await wait_for(lambda: len(gateway.calls) == 2)

    run_on_qasync(qapp, scenario())
    assert gateway.calls == [("remote_start", "CP-01", 2, "BB22"),
                             ("remote_stop", "CP-01", "5")]


def test_power_limit_is_asked_in_kw_and_sent_in_w(qapp, qtbot, core, panel, gateway):
    bring_online(core, "CP-01", S.CHARGING)
    panel.show_charger("CP-01")

    async def scenario():
        panel.command_bar.button("set_limit").click()
        qtbot.waitUntil(panel.dialog.isVisible, timeout=2000)
        panel.dialog.set_value("connector", 0)
        panel.dialog.set_value("limit_kw", 7.4)
        panel.dialog.accept()
        await wait_for(lambda: gateway.calls)

    run_on_qasync(qapp, scenario())
    assert gateway.calls == [("set_charging_profile", "CP-01", 0, 7400.0)]


def test_get_configuration_shows_the_keys_in_a_table(qapp, qtbot, core, panel, gateway):
    bring_online(core, "CP-01", S.AVAILABLE)
    panel.show_charger("CP-01")
    gateway.answers["get_configuration"] = CommandResult(
        "get_configuration", "CP-01", CommandStatus.ACCEPTED,
        payload={"configuration": {"NumberOfConnectors": "2", "HeartbeatInterval": "60"},
                 "readonly": ["NumberOfConnectors"], "unknown": []})

    async def scenario():
        panel.command_bar.button("get_config").click()
        await wait_for(lambda: panel.config_dialog is not None)

    run_on_qasync(qapp, scenario())
    dialog = panel.config_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    assert dialog.keys() == ["HeartbeatInterval", "NumberOfConnectors"]
    assert dialog.value_of("HeartbeatInterval") == "60"
    assert dialog.table.item(1, 2).text() == "yes"  # NumberOfConnectors is read-only
    assert gateway.calls == [("get_configuration", "CP-01", None)]
    dialog.close()


def test_the_audited_service_is_used_with_the_os_user_as_actor(qapp, core, bridge, qtbot,
                                                               gateway):
    import getpass

    core.commands = FakeCommands(gateway)
    bring_online(core, "CP-01", S.AVAILABLE)
    panel = ChargerPanel(core, bridge)  # no actor given: the OS user
    panel.show_charger("CP-01")

    async def scenario():
        panel.command_bar.button("clear_cache").click()
        await wait_for(lambda: panel.last_result is not None)

    try:
        run_on_qasync(qapp, scenario())
        assert core.commands.actors == [getpass.getuser()]
    finally:
        _dispose(panel)


def test_commands_are_disabled_for_an_offline_charger_and_without_a_gateway(core, panel,
                                                                           gateway):
    panel.show_charger("CP-04")  # never connected
    buttons = panel.command_bar.buttons()
    assert set(buttons) == set(COMMANDS_BY_KEY)
    assert not any(b.isEnabled() for b in buttons.values())
    assert "offline" in buttons["reset"].toolTip()
    bring_online(core, "CP-04", S.AVAILABLE)
    assert all(b.isEnabled() for b in buttons.values())
    core.gateway = None
    panel.refresh()
    assert not any(b.isEnabled() for b in buttons.values())


# -- approval ------------------------------------------------------------------------------


def test_a_pending_charger_can_be_approved(qapp, core, panel):
    core.charging = ChargingService(core.site, FakeChargerStore(), core.bus, lambda: T0,
                                    unknown_policy=UnknownChargerPolicy.PENDING)
    core.charging.connected("EVB-9", OcppVersion.V201, "127.0.0.99:4000")
    core.charging.boot("EVB-9", ChargerIdentity("Alfen", "Eve", "A-1", "6.1"))
    assert core.charging.charger("EVB-9").registration is RegistrationStatus.PENDING
    panel.show_charger("EVB-9")
    assert panel.state_label.text() == "Pending"
    assert panel.pending_box.isVisibleTo(panel)
    assert panel.approve_button.isVisibleTo(panel)

    async def scenario():
        panel.approve_button.click()
        await wait_for(lambda: panel.last_result is not None)

    run_on_qasync(qapp, scenario())
    assert core.charging.is_known("EVB-9")
    assert not panel.approve_button.isVisibleTo(panel)
    assert "Approved" in panel.pending_text.text()
    assert "Approve charger on EVB-9: Accepted" in panel.result_lines()[0]


def test_an_accepted_charger_has_no_approve_button(core, panel):
    bring_online(core, "CP-01", S.AVAILABLE)
    panel.show_charger("CP-01")
    assert not panel.pending_box.isVisibleTo(panel)
