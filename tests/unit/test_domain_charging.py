from datetime import UTC, datetime

import pytest

from app.domain.charging import (
    ChargerState,
    ConnectorState,
    ConnectorStatus,
    status_from_v16,
    status_from_v201,
    status_from_v201_charging_state,
)
from app.domain.timeutil import parse_iso, to_iso


@pytest.mark.parametrize("raw", ["Charging", "CHARGING", "charging", " Charging "])
def test_v16_status_case_insensitive(raw):
    assert status_from_v16(raw) is ConnectorStatus.CHARGING


def test_v16_all_spec_states_map():
    for name in ["Available", "Preparing", "Charging", "SuspendedEVSE", "SuspendedEV",
                 "Finishing", "Reserved", "Unavailable", "Faulted"]:
        assert status_from_v16(name).value == name
    assert status_from_v16("Bogus") is ConnectorStatus.UNKNOWN


def test_v201_states_fold_into_one_model():
    assert status_from_v201("Occupied") is ConnectorStatus.OCCUPIED
    assert status_from_v201("Faulted") is ConnectorStatus.FAULTED
    assert status_from_v201_charging_state("Charging") is ConnectorStatus.CHARGING
    assert status_from_v201_charging_state("EVConnected") is ConnectorStatus.PREPARING
    assert status_from_v201_charging_state("SuspendedEV") is ConnectorStatus.SUSPENDED_EV


def test_offline_charger_shows_offline_whatever_it_said_last():
    st = ChargerState(id="CP", online=True).with_connector(
        ConnectorState(1, ConnectorStatus.CHARGING))
    assert st.shown_status(1) is ConnectorStatus.CHARGING
    assert ChargerState(id="CP", online=False, connectors=st.connectors).shown_status(1) \
        is ConnectorStatus.OFFLINE


def test_parse_iso_variants():
    assert parse_iso("2026-11-21T10:00:00Z") == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert parse_iso("2026-11-21T11:00:00+01:00") == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert parse_iso("2026-11-21T10:00:00") == datetime(2026, 11, 21, 10, tzinfo=UTC)
    assert parse_iso("yesterday") is None
    assert parse_iso(None) is None
    assert to_iso(datetime(2026, 11, 21, 10, tzinfo=UTC)) == "2026-11-21T10:00:00.000Z"
