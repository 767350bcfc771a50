"""What a simulated charger keeps: configuration keys / device model, local list, charging
profiles, firmware versions. No network, no loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.sim.charger import next_firmware
from app.sim.config import SettingStore, settings_16, settings_201
from app.sim.local_list import LocalList
from app.sim.profiles import ChargingProfiles, Period, Profile

COMMON = {"heartbeat_s": 300, "meter_interval_s": 60, "connectors": 2,
          "password": None, "list_max": 10, "list_per_message": 5, "max_stack_level": 3,
          "max_periods": 4, "max_profiles": 4, "ping_s": 20}


def _store16() -> tuple[SettingStore, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []
    store = SettingStore(settings_16(**COMMON),
                         on_change=lambda s: changes.append((s.name, s.value)))
    return store, changes


def _store201() -> tuple[SettingStore, list[tuple[str, str]]]:
    changes: list[tuple[str, str]] = []
    model = settings_201(
        charger_id="CP-9", vendor="ABB", model="Terra AC", evses=2, max_power_w=22_000,
        station_state=lambda: "Available", evse_state=lambda n: "Occupied" if n == 1 else
        "Available", evse_power=lambda n: "7000.0", entries=lambda: "0",
        now=lambda: "2026-11-21T10:00:00.000Z", **{k: v for k, v in COMMON.items()
                                                   if k != "password"}, password=None)
    return SettingStore(model, on_change=lambda s: changes.append((s.name, s.value))), changes


def test_16_get_configuration_lists_keys_readonly_and_hides_secrets() -> None:
    store, _ = _store16()
    items, unknown = store.get16(None)
    keys = {i["key"]: i for i in items}
    assert unknown == []
    assert keys["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True,
                                          "value": "2"}
    assert keys["HeartbeatInterval"]["readonly"] is False
    assert "value" not in keys["AuthorizationKey"]
    some, unknown = store.get16(["heartbeatINTERVAL", "Nope", "HeartbeatInterval"])
    assert [i["key"] for i in some] == ["HeartbeatInterval"] and unknown == ["Nope"]
    # Only 1.6 keys: no 2.0.1 variables leak in.
    assert all("." not in i["key"] for i in items)


@pytest.mark.parametrize(("key", "value", "status"), [
    ("HeartbeatInterval", "60", "Accepted"),
    ("HeartbeatInterval", "0", "Rejected"),
    ("HeartbeatInterval", "1.5", "Rejected"),
    ("LocalAuthorizeOffline", "TRUE", "Accepted"),
    ("LocalAuthorizeOffline", "yes", "Rejected"),
    ("MeterValuesSampledData", "Energy.Active.Import.Register,Voltage", "Accepted"),
    ("MeterValuesSampledData", "SoC", "Rejected"),  # an AC charger does not know it
    ("NumberOfConnectors", "3", "Rejected"),
    ("SupportedFeatureProfiles", "Core", "Rejected"),
    ("WebSocketPingInterval", "30", "RebootRequired"),
    ("AuthorizationKey", "short", "Rejected"),
    ("AuthorizationKey", "0123456789abcdef", "Accepted"),
    ("NoSuchKey", "1", "NotSupported"),
])
def test_16_change_configuration(key: str, value: str, status: str) -> None:
    store, _ = _store16()
    assert store.change16(key, value) == status


def test_16_changes_take_effect_now_or_after_a_reboot() -> None:
    store, changes = _store16()
    assert store.change16("LocalAuthorizeOffline", "False") == "Accepted"
    assert store.value("LocalAuthorizeOffline") == "false"
    assert changes == [("LocalAuthorizeOffline", "false")]
    assert store.change16("WebSocketPingInterval", "45") == "RebootRequired"
    assert store.value("WebSocketPingInterval") == "20"
    store.reboot()
    assert store.value("WebSocketPingInterval") == "45"
    assert changes[-1] == ("WebSocketPingInterval", "45")
    store.put("HeartbeatInterval", "30")  # what the boot said: no change event
    assert store.value("HeartbeatInterval") == "30" and len(changes) == 2


def test_201_get_variables_statuses() -> None:
    store, _ = _store201()

    def get(component: dict, variable: str, **kw: str) -> dict:
        return store.get201({"component": component, "variable": {"name": variable}, **kw})

    ok = get({"name": "OCPPCommCtrlr"}, "HeartbeatInterval")
    assert (ok["attribute_status"], ok["attribute_value"]) == ("Accepted", "300")
    assert get({"name": "Nope"}, "X")["attribute_status"] == "UnknownComponent"
    assert get({"name": "OCPPCommCtrlr"}, "X")["attribute_status"] == "UnknownVariable"
    assert get({"name": "OCPPCommCtrlr"}, "HeartbeatInterval",
               attribute_type="MaxSet")["attribute_status"] == "NotSupportedAttributeType"
    secret = get({"name": "SecurityCtrlr"}, "BasicAuthPassword")
    assert secret["attribute_status"] == "Rejected" and "attribute_value" not in secret
    evse = get({"name": "EVSE", "evse": {"id": 1}}, "AvailabilityState")
    assert evse["attribute_value"] == "Occupied"
    assert get({"name": "EVSE"}, "AvailabilityState")["attribute_status"] == "UnknownComponent"
    assert get({"name": "EVSE", "evse": {"id": 3}}, "Power")["attribute_status"] == \
        "UnknownComponent"


def test_201_set_variables_and_reports() -> None:
    store, changes = _store201()

    def put(component: str, variable: str, value: str) -> dict:
        return store.set201({"component": {"name": component}, "variable": {"name": variable},
                             "attribute_value": value})

    assert put("OCPPCommCtrlr", "HeartbeatInterval", "90")["attribute_status"] == "Accepted"
    assert changes == [("HeartbeatInterval", "90")]  # the 1.6 name, for the charger
    low = put("TxCtrlr", "EVConnectionTimeOut", "0")
    assert low["attribute_status"] == "Rejected"
    assert low["attribute_status_info"] == {"reason_code": "ValueTooLow"}
    assert put("ChargingStation", "Model", "X")["attribute_status"] == "Rejected"
    assert put("OCPPCommCtrlr", "WebSocketPingInterval", "5")["attribute_status"] == \
        "RebootRequired"
    assert store.get16(None) == ([], [])  # a 2.0.1 charger has no 1.6 keys

    full = store.report("FullInventory")
    config = store.report("ConfigurationInventory")
    summary = store.report("SummaryInventory")
    assert len(summary) == 1 + 2 * 2  # the station, and each EVSE and its connector
    assert {d["variable"]["name"] for d in summary} == {"AvailabilityState"}
    assert all(d["variable_attribute"][0]["mutability"] != "ReadOnly" for d in config)
    assert len(config) < len(full)
    power = next(d for d in full if d["component"].get("evse") == {"id": 1}
                 and d["variable"]["name"] == "Power")
    assert power["variable_characteristics"]["max_limit"] == 22_000


def test_local_list_full_and_differential_updates() -> None:
    lst = LocalList(max_length=3, max_per_message=3)
    assert lst.reported_version == 0
    assert lst.update(5, True, [("A", "Accepted"), ("B", "Blocked")]) == "Accepted"
    assert (lst.reported_version, lst.status_of("B")) == (5, "Blocked")
    assert lst.update(5, False, [("C", "Accepted")]) == "VersionMismatch"  # a replay
    assert lst.update(7, False, [("C", "Accepted")]) == "VersionMismatch"  # one was lost
    assert lst.update(6, False, [("C", "Accepted"), ("A", None)]) == "Accepted"
    assert lst.entries == {"B": "Blocked", "C": "Accepted"}
    assert lst.update(7, False, [("D", "Accepted"), ("E", "Accepted")]) == "Failed"  # full
    assert lst.update(1, True, [("X", None)]) == "Failed"  # a full list needs statuses
    assert lst.update(2, True, []) == "Accepted"
    assert lst.reported_version == 0  # empty


def _profile(pid: int, connector: int, purpose: str = "TxDefaultProfile", level: int = 0,
             limit: float = 7000, **kw) -> Profile:
    periods = kw.pop("periods", (Period(0, limit),))
    return Profile(id=pid, connector_id=connector, stack_level=level, purpose=purpose,
                   kind=kw.pop("kind", "Relative"), unit=kw.pop("unit", "W"), periods=periods,
                   **kw)


def test_profiles_precedence_and_sharing() -> None:
    profiles = ChargingProfiles()
    assert profiles.limit_w(1, 0, 1) is None
    profiles.install(_profile(1, 0, limit=11_000))
    assert profiles.limit_w(2, 0, 1) == 11_000  # connector 0: every connector
    profiles.install(_profile(2, 1, limit=7_000))
    assert profiles.limit_w(1, 0, 1) == 7_000  # its own beats connector 0
    profiles.install(_profile(3, 1, level=2, limit=5_000))
    assert profiles.limit_w(1, 0, 1) == 5_000  # the higher stack level
    profiles.install(_profile(4, 1, purpose="TxProfile", limit=9_000))
    assert profiles.limit_w(1, 0, 1) == 9_000  # a TxProfile beats the defaults
    profiles.install(_profile(5, 0, purpose="ChargePointMaxProfile", limit=12_000))
    assert profiles.limit_w(1, 0, 2) == 6_000  # the charger's maximum is shared
    assert profiles.transaction_ended(1)
    assert profiles.limit_w(1, 0, 1) == 5_000
    # The same purpose and stack level on the same connector replaces the old profile.
    profiles.install(_profile(6, 1, level=2, limit=4_000))
    assert 3 not in profiles.matching() and profiles.limit_w(1, 0, 1) == 4_000
    assert profiles.matching(purpose="TxDefaultProfile") == [1, 2, 6]
    assert profiles.matching(profile_id=42) == []


def test_profile_schedules() -> None:
    amps = _profile(1, 1, unit="A", periods=(Period(0, 16, 1), Period(3600, 32)))
    now = datetime.now(UTC)
    assert amps.limit_w(10, now) == 16 * 230
    assert amps.limit_w(4000, now) == 32 * 230 * 3
    short = _profile(1, 1, duration_s=60)
    assert short.limit_w(30, now) == 7000 and short.limit_w(61, now) is None
    absolute = _profile(1, 1, kind="Absolute", start=now - timedelta(hours=1),
                        periods=(Period(0, 1000), Period(1800, 2000)))
    assert absolute.limit_w(0, now) == 2000
    future = _profile(1, 1, valid_from=now + timedelta(days=1))
    assert future.limit_w(0, now) is None


@pytest.mark.parametrize(("profile", "tx", "why"), [
    (_profile(1, 3), None, "UnknownEVSE"),
    (_profile(1, 1, purpose="ChargePointMaxProfile"), None, "MaxProfileNotOnStation"),
    (_profile(1, 1, purpose="TxProfile"), None, "NoTransaction"),
    (_profile(1, 1, purpose="TxProfile", transaction_id="9"), "8", "WrongTransaction"),
    (_profile(1, 1, level=11), None, "StackLevelTooHigh"),
    (_profile(1, 1, periods=()), None, "TooManyPeriods"),
    (_profile(1, 1, unit="kW"), None, "InvalidSchedule"),
    (_profile(1, 1, purpose="TxProfile", transaction_id="8"), "8", None),
    (_profile(1, 0), None, None),
])
def test_profiles_a_charger_refuses(profile: Profile, tx: str | None, why: str | None) -> None:
    assert ChargingProfiles().problem(profile, connectors=2, tx_id=tx) == why


@pytest.mark.parametrize(("current", "location", "new"), [
    ("1.8.33", "https://fw.example.com/terra-1.9.0.bin", "1.9.0"),
    ("1.8.33", "https://fw.example.com/firmware.bin", "1.8.34"),
    ("6.4.0-4203", "ftp://fw/update", "6.4.0-4204"),
    ("6.4.0-4203", "ftp://fw/eve-7.1.0-4335.img", "7.1.0-4335"),
    ("sim", "http://x/fw", "sim.1"),
])
def test_next_firmware(current: str, location: str, new: str) -> None:
    assert next_firmware(current, location) == new
