"""Item models: rows, columns, live updates through dataChanged / rowsInserted."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt

from app.domain.charging import ChargerIdentity
from app.domain.charging import ConnectorStatus as S
from app.domain.site import OcppVersion
from app.services.charging import UnknownChargerPolicy
from tests.ui.helpers import bring_online
from ui.models import BayTableModel, ChargerTableModel, Roles, format_local


@pytest.fixture
def bays(core, bridge):
    return BayTableModel(core, bridge)


@pytest.fixture
def chargers(core, bridge):
    return ChargerTableModel(core, bridge)


def cell(model, row, col):
    return model.index(row, col).data()


def test_bay_model_has_every_bay_offline_at_start(bays):
    assert bays.rowCount() == 12
    assert [bays.headerData(c, Qt.Orientation.Horizontal) for c in range(6)] == [
        "Bay", "Zone", "Charger", "Connector", "Status", "Since"]
    assert cell(bays, 0, 0) == "EV 01"
    assert cell(bays, 0, BayTableModel.COL_ZONE) == "P1 EV charging"
    assert (cell(bays, 0, 2), cell(bays, 0, 3)) == ("CP-01", "1")
    assert {bays.data(bays.index(r, 0), Roles.STATUS) for r in range(12)} == {S.OFFLINE}


def test_status_report_changes_one_row(qtbot, core, bays):
    bring_online(core, "CP-01")
    row = bays.row_of_bay("EV-02")
    with qtbot.waitSignal(bays.dataChanged, timeout=1000) as sig:
        core.charging.status("CP-01", 2, S.CHARGING)
    assert sig.args[0].row() == row
    assert bays.data(bays.index(row, 0), Roles.STATUS) is S.CHARGING
    assert cell(bays, row, BayTableModel.COL_STATUS) == "Charging"
    assert cell(bays, row, BayTableModel.COL_SINCE) != "—"


def test_charger_going_offline_turns_all_its_bays_offline(qtbot, core, bays):
    bring_online(core, "CP-03", S.CHARGING, S.AVAILABLE)
    rows = [bays.row_of_bay("EV-05"), bays.row_of_bay("EV-06")]
    assert [cell(bays, r, BayTableModel.COL_STATUS) for r in rows] == ["Charging", "Available"]
    changed: list[int] = []
    bays.dataChanged.connect(lambda tl, _br, _roles=None: changed.append(tl.row()))
    core.charging.disconnected("CP-03", "socket closed")
    assert sorted(changed) == rows
    assert [cell(bays, r, BayTableModel.COL_STATUS) for r in rows] == ["Offline", "Offline"]


def test_bay_tooltip_names_the_charger_and_its_error(core, bays):
    bring_online(core, "CP-02")
    core.charging.status("CP-02", 1, S.FAULTED, error_code="GroundFailure")
    tip = bays.index(bays.row_of_bay("EV-03"), 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "CP-02" in tip and "ABB Terra AC" in tip and "GroundFailure" in tip


def test_charger_model_lists_the_site_chargers(chargers):
    assert chargers.charger_ids() == [f"CP-0{n}" for n in range(1, 7)]
    assert [chargers.headerData(c, Qt.Orientation.Horizontal) for c in range(6)] == [
        "Charger", "OCPP", "Vendor / Model", "Firmware", "State", "Last seen"]
    row = chargers.row_of("CP-04")
    assert cell(chargers, row, ChargerTableModel.COL_OCPP) == "2.0.1"
    assert cell(chargers, row, ChargerTableModel.COL_STATE) == "Offline"
    assert cell(chargers, row, ChargerTableModel.COL_MAKE) == "Kempower Satellite S"


def test_charger_model_shows_identity_after_boot(core, chargers):
    bring_online(core, "CP-01")
    row = chargers.row_of("CP-01")
    assert cell(chargers, row, ChargerTableModel.COL_MAKE) == "ABB Terra AC"
    assert cell(chargers, row, ChargerTableModel.COL_FIRMWARE) == "1.8.21"
    assert cell(chargers, row, ChargerTableModel.COL_STATE) == "Online"
    assert cell(chargers, row, ChargerTableModel.COL_LAST_SEEN) != "—"
    assert chargers.online_count() == 1


def test_unknown_charger_is_inserted_in_order(qtbot, core, chargers):
    with qtbot.waitSignal(chargers.rowsInserted, timeout=1000) as sig:
        core.charging.connected("CP-05B", OcppVersion.V201, "127.0.0.99:4000")
    assert sig.args[1] == sig.args[2] == 5  # between CP-05 and CP-06
    assert chargers.charger_ids()[5] == "CP-05B"
    assert chargers.rowCount() == 7
    idx = chargers.index(5, 0)
    assert idx.data(Roles.KNOWN) is False
    assert "Not in the site configuration" in idx.data(Qt.ItemDataRole.ToolTipRole)


@pytest.mark.parametrize(("policy", "state"), [
    (UnknownChargerPolicy.PENDING, "Pending"),
    (UnknownChargerPolicy.REJECT, "Rejected"),
])
def test_unknown_charger_registration_state(core, chargers, policy, state):
    core.charging.unknown_policy = policy
    core.charging.connected("ZZ-1", OcppVersion.V16, "x")
    core.charging.boot("ZZ-1", ChargerIdentity("Easee", "Home"))
    assert cell(chargers, chargers.row_of("ZZ-1"), ChargerTableModel.COL_STATE) == state


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="needs time.tzset (POSIX)")
def test_times_are_stored_utc_and_shown_local(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # UTC+05:30, no daylight saving
    time.tzset()
    try:
        at = datetime(2025, 3, 14, 9, 0, 5, tzinfo=UTC)
        assert format_local(at, now=at) == "14:30:05"
        assert format_local(at, now=datetime(2025, 3, 20, tzinfo=UTC)) == "14 Mar 14:30"
        assert format_local(None) == "—"
    finally:
        monkeypatch.undo()
        time.tzset()
