import json

import pytest

import resources
from app.domain import events as ev
from app.domain.charging import ChargerIdentity, ConnectorStatus, RegistrationStatus
from app.domain.site import OcppVersion
from app.domain.site_io import site_from_dict
from app.services.bus import EventBus
from app.services.charging import ChargingService, UnknownChargerPolicy
from tests.helpers.fakes import FakeChargerStore, FakeClock


@pytest.fixture
def world():
    site = site_from_dict(json.loads(resources.path("demo", "site.json").read_text("utf-8")))
    bus, store, clock = EventBus(), FakeChargerStore(), FakeClock()
    events: list = []
    bus.subscribe(events.append)
    svc = ChargingService(site, store, bus, clock, heartbeat_interval_s=30)
    return svc, store, clock, events


def test_site_chargers_start_offline_with_their_connectors(world):
    svc, *_ = world
    assert svc.online_count() == 0
    cp = svc.charger("CP-01")
    assert cp.shown_status(1) is ConnectorStatus.OFFLINE
    assert set(cp.connectors) == {1, 2}


def test_connect_boot_status_disconnect_cycle(world):
    svc, store, clock, events = world
    svc.connected("CP-01", OcppVersion.V16, "127.0.0.1:5000")
    decision = svc.boot("CP-01", ChargerIdentity("ABB", "Terra", "S1", "1.2"))
    assert decision.status is RegistrationStatus.ACCEPTED
    assert decision.interval_s == 30
    assert decision.current_time == clock.now
    svc.status("CP-01", 1, ConnectorStatus.CHARGING)
    assert svc.online_count() == 1
    assert svc.charger("CP-01").shown_status(1) is ConnectorStatus.CHARGING
    assert svc.charger("CP-01").identity.vendor == "ABB"
    svc.disconnected("CP-01", "gone")
    assert svc.charger("CP-01").shown_status(1) is ConnectorStatus.OFFLINE
    kinds = [type(e) for e in events]
    assert kinds == [ev.ChargerConnected, ev.ChargerBooted, ev.ConnectorStatusChanged,
                     ev.ChargerDisconnected]
    assert [c[0] for c in store.calls] == ["connection", "boot", "seen", "status", "disconnect"]


def test_repeated_status_changes_nothing(world):
    svc, store, _, events = world
    svc.connected("CP-02", OcppVersion.V16, "x")
    svc.status("CP-02", 1, ConnectorStatus.AVAILABLE)
    svc.status("CP-02", 1, ConnectorStatus.AVAILABLE)
    assert len(store.of("status")) == 1
    assert sum(isinstance(e, ev.ConnectorStatusChanged) for e in events) == 1


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (UnknownChargerPolicy.ACCEPT, RegistrationStatus.ACCEPTED),
        (UnknownChargerPolicy.PENDING, RegistrationStatus.PENDING),
        (UnknownChargerPolicy.REJECT, RegistrationStatus.REJECTED),
    ],
)
def test_unknown_charger_policy(world, policy, expected):
    svc, *_ = world
    svc.unknown_policy = policy
    svc.connected("CP-X", OcppVersion.V16, "x")
    assert svc.boot("CP-X", ChargerIdentity()).status is expected
    # configured chargers are always accepted
    assert svc.boot("CP-01", ChargerIdentity()).status is RegistrationStatus.ACCEPTED


def test_unknown_charger_joins_the_registry(world):
    svc, *_ = world
    svc.connected("CP-X", OcppVersion.V201, "x")
    assert "CP-X" in [c.id for c in svc.chargers()]
    assert svc.online_count() == 1


def test_bus_survives_a_failing_subscriber(caplog):
    bus = EventBus()
    got = []

    def broken(_e):
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(got.append)
    with caplog.at_level("ERROR"):
        bus.publish("hello")
    assert got == ["hello"]
    assert "boom" in caplog.text
    caplog.clear()  # expected error: do not trip the suite's error-log guard


def test_201_occupied_keeps_the_finer_charging_state(world):
    svc, *_ = world
    svc.connected("CP-04", OcppVersion.V201, "x")
    svc.status("CP-04", 1, ConnectorStatus.OCCUPIED)
    assert svc.charger("CP-04").shown_status(1) is ConnectorStatus.OCCUPIED
    svc.status("CP-04", 1, ConnectorStatus.CHARGING)  # from TransactionEvent
    svc.status("CP-04", 1, ConnectorStatus.OCCUPIED)  # a StatusNotification after reconnect
    assert svc.charger("CP-04").shown_status(1) is ConnectorStatus.CHARGING
    svc.status("CP-04", 1, ConnectorStatus.AVAILABLE)
    assert svc.charger("CP-04").shown_status(1) is ConnectorStatus.AVAILABLE


def test_a_state_reported_again_after_a_reconnect_starts_a_new_since(world):
    svc, store, clock, _events = world
    svc.connected("CP-01", OcppVersion.V16, "x")
    svc.status("CP-01", 1, ConnectorStatus.AVAILABLE)
    first = svc.charger("CP-01").connector(1).since
    svc.status("CP-01", 1, ConnectorStatus.AVAILABLE)  # same connection: nothing new
    assert svc.charger("CP-01").connector(1).since == first
    svc.disconnected("CP-01", "power cut")
    clock.advance(3600)
    svc.connected("CP-01", OcppVersion.V16, "x")
    svc.status("CP-01", 1, ConnectorStatus.AVAILABLE)
    assert svc.charger("CP-01").connector(1).since == clock.now
    assert len(store.of("status")) == 2
