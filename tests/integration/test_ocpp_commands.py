"""Console -> charger commands: the OcppGateway of a real core, with foreign ocpp-library
charge points (1.6 and 2.0.1) over loopback answering as scripted.

One core and one charger per version serve the whole module (a core per test would make
the file slow); each test resets the chargers' scripts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest.mock import ANY

import pytest
import pytest_asyncio
from ocpp.exceptions import InternalError, NotImplementedError
from ocpp.routing import on
from ocpp.v16 import call_result as r16
from ocpp.v16.enums import Action as A16
from ocpp.v201 import call_result as r201
from ocpp.v201.enums import Action as A201
from sqlalchemy import create_engine

from app.adapters.db.audit_repo import load_audit
from app.adapters.ocpp.gateway import OcppGateway
from app.bootstrap import build_core
from app.domain.commands import CommandStatus as S
from tests.helpers.ocpp_clients import Client16, Client201, charge_point
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
NOW_ISO = "2026-11-21T10:00:00.000Z"
ID16, ID201 = "CMD-16", "CMD-201"

# The scripted chargers' own ocpp-library logger: a CALLERROR they are told to send is
# logged there at ERROR with a traceback; that is the test charger's business, not ours.
_QUIET = logging.getLogger("tests.scripted_charger")
_QUIET.disabled = True


# -- scripted charge points -------------------------------------------------------------

@dataclass
class Late:
    """Answer `then` after `seconds`."""
    seconds: float
    then: Any = None


CLOSE = "close the connection"


class Script:
    """What a scripted charger received, and how it answers (per action: a status word,
    an OCPPError to send as CALLERROR, Late(...), CLOSE, or a function of the request)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _QUIET
        self.reset_script()

    def reset_script(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self.answers: dict[str, Any] = {}
        self.ignore_changes = False
        self.late_answers = 0
        self.local_list_version = 7
        self.values = dict(self.INITIAL)

    async def answer(self, action: str, kwargs: dict, make, default: str) -> Any:
        self.received.append((action, kwargs))
        spec = self.answers.get(action, default)
        if isinstance(spec, Late):
            await asyncio.sleep(spec.seconds)
            self.late_answers += 1
            spec = default if spec.then is None else spec.then
        if isinstance(spec, Exception):
            raise spec
        if spec == CLOSE:
            await self._connection.close()
            spec = default
        if callable(spec):
            return spec(kwargs)
        return make(self, spec, kwargs)


def _handler(action, make, default: str = "Accepted"):
    name = f"on_{action.name}"

    async def handler(self, **kwargs):
        return await self.answer(action.value, kwargs, make, default)

    handler.__name__ = name  # the ocpp library routes by function name
    return name, on(action)(handler)


def _scripted(base: type, handlers: list) -> type:
    return type(f"Scripted{base.__name__}", (Script, base),
                dict(_handler(*h) for h in handlers))


def _get_config(cp, word, kw):
    keys = kw.get("key") or list(cp.values)
    return r16.GetConfiguration(
        configuration_key=[{"key": k, "readonly": False, "value": cp.values[k]}
                           for k in keys if k in cp.values] or None,
        unknown_key=[k for k in keys if k not in cp.values] or None)


def _change_config(cp, word, kw):
    if kw["key"] not in cp.values:
        word = "NotSupported"
    elif word == "Accepted" and not cp.ignore_changes:
        cp.values[kw["key"]] = kw["value"]
    return r16.ChangeConfiguration(status=word)


def _name(item) -> str:
    return f"{item['component']['name']}.{item['variable']['name']}"


def _get_variables(cp, word, kw):
    results = []
    for item in kw["get_variable_data"]:
        name = _name(item)
        known = name in cp.values
        results.append({"attribute_status": "Accepted" if known else "UnknownVariable",
                        "component": item["component"], "variable": item["variable"],
                        **({"attribute_value": cp.values[name]} if known else {})})
    return r201.GetVariables(get_variable_result=results)


def _set_variables(cp, word, kw):
    results = []
    for item in kw["set_variable_data"]:
        name = _name(item)
        status = word if name in cp.values else "UnknownVariable"
        if status == "Accepted" and not cp.ignore_changes:
            cp.values[name] = item["attribute_value"]
        results.append({"attribute_status": status, "component": item["component"],
                        "variable": item["variable"]})
    return r201.SetVariables(set_variable_result=results)


Charger16 = _scripted(Client16, [
    (A16.remote_start_transaction, lambda cp, w, kw: r16.RemoteStartTransaction(status=w)),
    (A16.remote_stop_transaction, lambda cp, w, kw: r16.RemoteStopTransaction(status=w)),
    (A16.unlock_connector, lambda cp, w, kw: r16.UnlockConnector(status=w), "Unlocked"),
    (A16.reset, lambda cp, w, kw: r16.Reset(status=w)),
    (A16.change_availability, lambda cp, w, kw: r16.ChangeAvailability(status=w)),
    (A16.get_configuration, _get_config),
    (A16.change_configuration, _change_config),
    (A16.trigger_message, lambda cp, w, kw: r16.TriggerMessage(status=w)),
    (A16.clear_cache, lambda cp, w, kw: r16.ClearCache(status=w)),
    (A16.send_local_list, lambda cp, w, kw: r16.SendLocalList(status=w)),
    (A16.get_local_list_version,
     lambda cp, w, kw: r16.GetLocalListVersion(list_version=cp.local_list_version)),
    (A16.set_charging_profile, lambda cp, w, kw: r16.SetChargingProfile(status=w)),
    (A16.clear_charging_profile, lambda cp, w, kw: r16.ClearChargingProfile(status=w)),
    (A16.data_transfer, lambda cp, w, kw: r16.DataTransfer(
        status=w, data="pong" if w == "Accepted" else None)),
    (A16.get_diagnostics, lambda cp, w, kw: r16.GetDiagnostics(
        file_name="diag-1.zip" if w == "Accepted" else None)),
    (A16.update_firmware, lambda cp, w, kw: r16.UpdateFirmware()),
])
Charger16.INITIAL = {"HeartbeatInterval": "300", "MeterValueSampleInterval": "60"}

Charger201 = _scripted(Client201, [
    (A201.request_start_transaction,
     lambda cp, w, kw: r201.RequestStartTransaction(status=w)),
    (A201.request_stop_transaction, lambda cp, w, kw: r201.RequestStopTransaction(status=w)),
    (A201.unlock_connector, lambda cp, w, kw: r201.UnlockConnector(status=w), "Unlocked"),
    (A201.reset, lambda cp, w, kw: r201.Reset(status=w)),
    (A201.change_availability, lambda cp, w, kw: r201.ChangeAvailability(status=w)),
    (A201.get_variables, _get_variables),
    (A201.set_variables, _set_variables),
    (A201.get_base_report, lambda cp, w, kw: r201.GetBaseReport(status=w)),
    (A201.trigger_message, lambda cp, w, kw: r201.TriggerMessage(status=w)),
    (A201.clear_cache, lambda cp, w, kw: r201.ClearCache(status=w)),
    (A201.send_local_list, lambda cp, w, kw: r201.SendLocalList(status=w)),
    (A201.get_local_list_version,
     lambda cp, w, kw: r201.GetLocalListVersion(version_number=cp.local_list_version)),
    (A201.set_charging_profile, lambda cp, w, kw: r201.SetChargingProfile(status=w)),
    (A201.clear_charging_profile, lambda cp, w, kw: r201.ClearChargingProfile(status=w)),
    (A201.data_transfer, lambda cp, w, kw: r201.DataTransfer(
        status=w, data="pong" if w == "Accepted" else None)),
    (A201.get_log, lambda cp, w, kw: r201.GetLog(
        status=w, filename="log-1.zip" if w == "Accepted" else None)),
    (A201.update_firmware, lambda cp, w, kw: r201.UpdateFirmware(status=w)),
])
Charger201.INITIAL = {"OCPPCommCtrlr.HeartbeatInterval": "300",
                      "OCPPCommCtrlr.WebSocketPingInterval": "30",
                      "TxCtrlr.EVConnectionTimeOut": "60"}


# -- fixtures -------------------------------------------------------------------------------

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mcore(tmp_path_factory):
    settings = loopback_settings(tmp_path_factory.mktemp("commands"))
    core = await build_core(settings)
    await core.start()
    try:
        yield core
    finally:
        await core.stop()


@pytest.fixture(scope="module")
def murl(mcore):
    return f"ws://127.0.0.1:{mcore.ocpp_server.port}/ocpp"


async def _connected(core, url, charger_id, subprotocol, cls):
    ctx = charge_point(url, charger_id, subprotocol, cls=cls)
    cp = await ctx.__aenter__()
    # The client's handshake can finish before the server's handler registers it.
    await wait_for(lambda: core.ocpp_server.session(charger_id) is not None)
    return ctx, cp


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chargers(mcore, murl):
    ctx16, cp16 = await _connected(mcore, murl, ID16, "ocpp1.6", Charger16)
    ctx201, cp201 = await _connected(mcore, murl, ID201, "ocpp2.0.1", Charger201)
    try:
        yield {ID16: cp16, ID201: cp201}
    finally:
        await ctx201.__aexit__(None, None, None)
        await ctx16.__aexit__(None, None, None)


@pytest.fixture
def cp16(chargers):
    chargers[ID16].reset_script()
    return chargers[ID16]


@pytest.fixture
def cp201(chargers):
    chargers[ID201].reset_script()
    return chargers[ID201]


@pytest.fixture
def gw(mcore):
    return OcppGateway(mcore.ocpp_server, timeout_s=5, clock=lambda: NOW)


# -- every command reaches the charger as it should ----------------------------------------

PROFILE16 = {"charging_profile_id": 1, "stack_level": 0,
             "charging_profile_purpose": "TxDefaultProfile", "charging_profile_kind": "Relative",
             "charging_schedule": {"charging_rate_unit": "W", "charging_schedule_period": [
                 {"start_period": 0, "limit": 7400.0}]}}

CASES16 = [
    ("remote_start", lambda g, c: g.remote_start(c, 1, "TAG-1"),
     [("RemoteStartTransaction", {"id_tag": "TAG-1", "connector_id": 1})], {}),
    ("remote_start_any_connector", lambda g, c: g.remote_start(c, None, "TAG-2"),
     [("RemoteStartTransaction", {"id_tag": "TAG-2"})], {}),
    ("remote_stop", lambda g, c: g.remote_stop(c, "42"),
     [("RemoteStopTransaction", {"transaction_id": 42})], {}),
    ("unlock_connector", lambda g, c: g.unlock_connector(c, 2),
     [("UnlockConnector", {"connector_id": 2})], {}),
    ("reset_soft", lambda g, c: g.reset(c), [("Reset", {"type": "Soft"})], {}),
    ("reset_hard", lambda g, c: g.reset(c, hard=True), [("Reset", {"type": "Hard"})], {}),
    ("change_availability_off", lambda g, c: g.change_availability(c, 2, False),
     [("ChangeAvailability", {"connector_id": 2, "type": "Inoperative"})], {}),
    ("change_availability_on", lambda g, c: g.change_availability(c, 0, True),
     [("ChangeAvailability", {"connector_id": 0, "type": "Operative"})], {}),
    ("get_configuration_keys", lambda g, c: g.get_configuration(c, ["HeartbeatInterval", "X"]),
     [("GetConfiguration", {"key": ["HeartbeatInterval", "X"]})],
     {"configuration": {"HeartbeatInterval": "300"}, "readonly": [], "unknown": ["X"]}),
    ("get_configuration_all", lambda g, c: g.get_configuration(c),
     [("GetConfiguration", {})],
     {"configuration": {"HeartbeatInterval": "300", "MeterValueSampleInterval": "60"}}),
    ("change_configuration", lambda g, c: g.change_configuration(c, "HeartbeatInterval", "120"),
     [("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "120"}),
      ("GetConfiguration", {"key": ["HeartbeatInterval"]})],
     {"read_back": {"HeartbeatInterval": "120"}}),
    ("trigger_message", lambda g, c: g.trigger_message(c, "StatusNotification", 1),
     [("TriggerMessage", {"requested_message": "StatusNotification", "connector_id": 1})], {}),
    ("trigger_message_201_name", lambda g, c: g.trigger_message(c, "LogStatusNotification"),
     [("TriggerMessage", {"requested_message": "DiagnosticsStatusNotification"})], {}),
    ("clear_cache", lambda g, c: g.clear_cache(c), [("ClearCache", {})], {}),
    ("send_local_list_full",
     lambda g, c: g.send_local_list(c, 3, [("TAG-1", "Accepted"), ("TAG-2", "Blocked")], True),
     [("SendLocalList", {"list_version": 3, "update_type": "Full", "local_authorization_list": [
         {"id_tag": "TAG-1", "id_tag_info": {"status": "Accepted"}},
         {"id_tag": "TAG-2", "id_tag_info": {"status": "Blocked"}}]})],
     {"list_version": 3, "entries": 2}),
    ("send_local_list_differential",
     lambda g, c: g.send_local_list(c, 4, [("TAG-3", "")], False),
     [("SendLocalList", {"list_version": 4, "update_type": "Differential",
                         "local_authorization_list": [{"id_tag": "TAG-3"}]})], {}),
    ("get_local_list_version", lambda g, c: g.get_local_list_version(c),
     [("GetLocalListVersion", {})], {"list_version": 7}),
    ("set_charging_profile", lambda g, c: g.set_charging_profile(c, 1, 7400),
     [("SetChargingProfile", {"connector_id": 1, "cs_charging_profiles": PROFILE16})],
     {"profile_id": 1, "limit_w": 7400}),
    ("clear_charging_profile_id", lambda g, c: g.clear_charging_profile(c, 5),
     [("ClearChargingProfile", {"id": 5})], {}),
    ("clear_charging_profile_ours", lambda g, c: g.clear_charging_profile(c),
     [("ClearChargingProfile", {"charging_profile_purpose": "TxDefaultProfile"})], {}),
    ("data_transfer", lambda g, c: g.data_transfer(c, "Acme", "ping", "hello"),
     [("DataTransfer", {"vendor_id": "Acme", "message_id": "ping", "data": "hello"})],
     {"data": "pong"}),
    ("get_diagnostics", lambda g, c: g.get_diagnostics(c, "ftp://logs.example/up"),
     [("GetDiagnostics", {"location": "ftp://logs.example/up"})],
     {"file_name": "diag-1.zip"}),
    ("update_firmware", lambda g, c: g.update_firmware(c, "https://fw.example/2.bin"),
     [("UpdateFirmware", {"location": "https://fw.example/2.bin", "retrieve_date": NOW_ISO})],
     {}),
]


@pytest.mark.parametrize(("invoke", "sent", "payload"), [c[1:] for c in CASES16],
                         ids=[c[0] for c in CASES16])
async def test_16_command_sent_and_accepted(gw, cp16, invoke, sent, payload):
    result = await invoke(gw, ID16)
    assert result.status is S.ACCEPTED, result.describe()
    assert cp16.received == sent
    assert result.payload.items() >= payload.items()
    assert result.charger_id == ID16 and result.ok


@pytest.mark.parametrize("invoke", [
    lambda g, c: g.get_variables(c, [("OCPPCommCtrlr", "HeartbeatInterval")]),
    lambda g, c: g.set_variables(c, [("OCPPCommCtrlr", "HeartbeatInterval", "10")]),
    lambda g, c: g.get_base_report(c),
], ids=["get_variables", "set_variables", "get_base_report"])
async def test_201_only_commands_are_not_sent_to_a_16_charger(gw, cp16, invoke):
    result = await invoke(gw, ID16)
    assert result.status is S.NOT_SUPPORTED
    assert "2.0.1" in result.detail and "not sent" in result.detail
    assert cp16.received == []


PROFILE201 = {"id": 3, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
              "charging_profile_kind": "Relative", "charging_schedule": [
                  {"id": 3, "charging_rate_unit": "W",
                   "charging_schedule_period": [{"start_period": 0, "limit": 11000.0}]}]}


def _var(component, variable, **extra):
    return {"component": {"name": component}, "variable": {"name": variable}, **extra}


CASES201 = [
    ("remote_start", lambda g, c: g.remote_start(c, 1, "TAG-1"),
     [("RequestStartTransaction", {"id_token": {"id_token": "TAG-1", "type": "Central"},
                                   "remote_start_id": ANY, "evse_id": 1})],
     {"remote_start_id": ANY}),
    ("remote_start_local_token",
     lambda g, c: g.remote_start(c, None, "04A1B2C3", token_type="ISO14443"),
     [("RequestStartTransaction", {"id_token": {"id_token": "04A1B2C3", "type": "ISO14443"},
                                   "remote_start_id": ANY})], {}),
    ("remote_stop", lambda g, c: g.remote_stop(c, "tx-9f2"),
     [("RequestStopTransaction", {"transaction_id": "tx-9f2"})], {}),
    ("unlock_connector", lambda g, c: g.unlock_connector(c, 2),
     [("UnlockConnector", {"evse_id": 2, "connector_id": 1})], {}),
    ("reset_soft", lambda g, c: g.reset(c), [("Reset", {"type": "OnIdle"})], {}),
    ("reset_hard", lambda g, c: g.reset(c, hard=True), [("Reset", {"type": "Immediate"})], {}),
    ("change_availability_evse", lambda g, c: g.change_availability(c, 2, False),
     [("ChangeAvailability", {"operational_status": "Inoperative", "evse": {"id": 2}})], {}),
    ("change_availability_station", lambda g, c: g.change_availability(c, 0, True),
     [("ChangeAvailability", {"operational_status": "Operative"})], {}),
    ("get_configuration_mapped",
     lambda g, c: g.get_configuration(
         c, ["HeartbeatInterval", "OCPPCommCtrlr.WebSocketPingInterval", "NoSuchKey"]),
     [("GetVariables", {"get_variable_data": [
         _var("OCPPCommCtrlr", "HeartbeatInterval"),
         _var("OCPPCommCtrlr", "WebSocketPingInterval")]})],
     {"configuration": {"HeartbeatInterval": "300",
                        "OCPPCommCtrlr.WebSocketPingInterval": "30"},
      "unknown": ["NoSuchKey"]}),
    ("change_configuration_mapped",
     lambda g, c: g.change_configuration(c, "ConnectionTimeOut", "90"),
     [("SetVariables", {"set_variable_data": [
         _var("TxCtrlr", "EVConnectionTimeOut", attribute_value="90")]}),
      ("GetVariables", {"get_variable_data": [_var("TxCtrlr", "EVConnectionTimeOut")]})],
     {"variable": "TxCtrlr.EVConnectionTimeOut", "read_back": {"TxCtrlr.EVConnectionTimeOut":
                                                              "90"}}),
    ("get_variables", lambda g, c: g.get_variables(c, [("OCPPCommCtrlr", "HeartbeatInterval")]),
     [("GetVariables", {"get_variable_data": [_var("OCPPCommCtrlr", "HeartbeatInterval")]})],
     {"values": {"OCPPCommCtrlr.HeartbeatInterval": "300"}}),
    ("set_variables",
     lambda g, c: g.set_variables(c, [("OCPPCommCtrlr", "HeartbeatInterval", "120"),
                                      ("OCPPCommCtrlr", "WebSocketPingInterval", "20")]),
     [("SetVariables", {"set_variable_data": [
         _var("OCPPCommCtrlr", "HeartbeatInterval", attribute_value="120"),
         _var("OCPPCommCtrlr", "WebSocketPingInterval", attribute_value="20")]}),
      ("GetVariables", {"get_variable_data": [_var("OCPPCommCtrlr", "HeartbeatInterval"),
                                              _var("OCPPCommCtrlr", "WebSocketPingInterval")]})],
     {"results": {"OCPPCommCtrlr.HeartbeatInterval": "Accepted",
                  "OCPPCommCtrlr.WebSocketPingInterval": "Accepted"}}),
    ("get_base_report", lambda g, c: g.get_base_report(c),
     [("GetBaseReport", {"request_id": ANY, "report_base": "FullInventory"})],
     {"request_id": ANY}),
    ("trigger_status", lambda g, c: g.trigger_message(c, "StatusNotification", 2),
     [("TriggerMessage", {"requested_message": "StatusNotification",
                          "evse": {"id": 2, "connector_id": 1}})], {}),
    ("trigger_16_name", lambda g, c: g.trigger_message(c, "DiagnosticsStatusNotification"),
     [("TriggerMessage", {"requested_message": "LogStatusNotification"})], {}),
    ("clear_cache", lambda g, c: g.clear_cache(c), [("ClearCache", {})], {}),
    ("send_local_list",
     lambda g, c: g.send_local_list(c, 3, [("TAG-1", "Accepted"), ("TAG-2", "")], False),
     [("SendLocalList", {"version_number": 3, "update_type": "Differential",
                         "local_authorization_list": [
                             {"id_token": {"id_token": "TAG-1", "type": "ISO14443"},
                              "id_token_info": {"status": "Accepted"}},
                             {"id_token": {"id_token": "TAG-2", "type": "ISO14443"}}]})],
     {"list_version": 3}),
    ("send_local_list_empty_full", lambda g, c: g.send_local_list(c, 5, [], True),
     [("SendLocalList", {"version_number": 5, "update_type": "Full"})], {}),
    ("get_local_list_version", lambda g, c: g.get_local_list_version(c),
     [("GetLocalListVersion", {})], {"list_version": 7}),
    ("set_charging_profile", lambda g, c: g.set_charging_profile(c, 1, 11000, profile_id=3),
     [("SetChargingProfile", {"evse_id": 1, "charging_profile": PROFILE201})],
     {"profile_id": 3}),
    ("clear_charging_profile_id", lambda g, c: g.clear_charging_profile(c, 3),
     [("ClearChargingProfile", {"charging_profile_id": 3})], {}),
    ("clear_charging_profile_ours", lambda g, c: g.clear_charging_profile(c),
     [("ClearChargingProfile", {"charging_profile_criteria": {
         "charging_profile_purpose": "TxDefaultProfile"}})], {}),
    ("data_transfer", lambda g, c: g.data_transfer(c, "Acme", "ping", "hello"),
     [("DataTransfer", {"vendor_id": "Acme", "message_id": "ping", "data": "hello"})],
     {"data": "pong"}),
    ("get_diagnostics", lambda g, c: g.get_diagnostics(c, "ftp://logs.example/up"),
     [("GetLog", {"log": {"remote_location": "ftp://logs.example/up"},
                  "log_type": "DiagnosticsLog", "request_id": ANY})],
     {"file_name": "log-1.zip", "request_id": ANY}),
    ("update_firmware", lambda g, c: g.update_firmware(c, "https://fw.example/2.bin"),
     [("UpdateFirmware", {"request_id": ANY, "firmware": {
         "location": "https://fw.example/2.bin", "retrieve_date_time": NOW_ISO}})],
     {"request_id": ANY}),
]


@pytest.mark.parametrize(("invoke", "sent", "payload"), [c[1:] for c in CASES201],
                         ids=[c[0] for c in CASES201])
async def test_201_command_sent_and_accepted(gw, cp201, invoke, sent, payload):
    result = await invoke(gw, ID201)
    assert result.status is S.ACCEPTED, result.describe()
    assert cp201.received == sent
    assert result.payload.items() >= payload.items()


async def test_201_ids_we_issue_are_the_ids_the_charger_got(gw, cp201):
    first = await gw.remote_start(ID201, 1, "TAG-1")
    second = await gw.get_base_report(ID201, "ConfigurationInventory")
    got = [kw.get("remote_start_id", kw.get("request_id")) for _, kw in cp201.received]
    assert got == [first.payload["remote_start_id"], second.payload["request_id"]]
    assert got[1] > got[0]


async def test_201_remote_start_reports_a_transaction_the_charger_already_has(gw, cp201):
    cp201.answers["RequestStartTransaction"] = lambda kw: r201.RequestStartTransaction(
        status="Accepted", transaction_id="tx-77")
    result = await gw.remote_start(ID201, 1, "TAG-1")
    assert result.payload["transaction_id"] == "tx-77"


# -- every kind of answer ---------------------------------------------------------------------

@pytest.mark.parametrize(("cid", "action", "answer", "invoke", "status"), [
    (ID16, "Reset", "Rejected", lambda g, c: g.reset(c), S.REJECTED),
    (ID201, "Reset", "Rejected", lambda g, c: g.reset(c), S.REJECTED),
    (ID16, "UnlockConnector", "UnlockFailed", lambda g, c: g.unlock_connector(c, 1), S.REJECTED),
    (ID201, "UnlockConnector", "OngoingAuthorizedTransaction",
     lambda g, c: g.unlock_connector(c, 1), S.REJECTED),
    (ID16, "ClearChargingProfile", "Unknown", lambda g, c: g.clear_charging_profile(c),
     S.REJECTED),
    (ID16, "SendLocalList", "VersionMismatch",
     lambda g, c: g.send_local_list(c, 1, [("A", "Accepted")], False), S.REJECTED),
    (ID16, "ChangeAvailability", "Scheduled", lambda g, c: g.change_availability(c, 1, False),
     S.PENDING),
    (ID201, "Reset", "Scheduled", lambda g, c: g.reset(c), S.PENDING),
    (ID16, "UnlockConnector", "NotSupported", lambda g, c: g.unlock_connector(c, 1),
     S.NOT_SUPPORTED),
    (ID16, "TriggerMessage", "NotImplemented", lambda g, c: g.trigger_message(c, "Heartbeat"),
     S.NOT_SUPPORTED),
    (ID201, "TriggerMessage", "NotImplemented", lambda g, c: g.trigger_message(c, "Heartbeat"),
     S.NOT_SUPPORTED),
    (ID16, "DataTransfer", "UnknownVendorId", lambda g, c: g.data_transfer(c, "Nobody"),
     S.NOT_SUPPORTED),
    (ID201, "DataTransfer", "UnknownMessageId", lambda g, c: g.data_transfer(c, "Acme", "x"),
     S.NOT_SUPPORTED),
    (ID16, "SetChargingProfile", "NotSupported", lambda g, c: g.set_charging_profile(c, 1, 3e3),
     S.NOT_SUPPORTED),
    (ID201, "GetBaseReport", "NotSupported", lambda g, c: g.get_base_report(c),
     S.NOT_SUPPORTED),
    (ID201, "GetLog", "Rejected", lambda g, c: g.get_diagnostics(c, "ftp://x/"), S.REJECTED),
    (ID201, "UpdateFirmware", "InvalidCertificate",
     lambda g, c: g.update_firmware(c, "https://x/"), S.REJECTED),
    (ID16, "GetDiagnostics", "Rejected", lambda g, c: g.get_diagnostics(c, "ftp://x/"),
     S.REJECTED),  # no fileName: nothing to upload
], ids=lambda v: v if isinstance(v, str) else None)
async def test_status_words_map_to_results(gw, chargers, cid, action, answer, invoke, status):
    cp = chargers[cid]
    cp.reset_script()
    cp.answers[action] = answer
    result = await invoke(gw, cid)
    assert result.status is status, result.describe()
    if action != "GetDiagnostics":
        assert result.charger_status == answer
    assert not result.ok or status is S.PENDING


async def test_16_no_local_list_is_not_supported(gw, cp16):
    cp16.local_list_version = -1
    result = await gw.get_local_list_version(ID16)
    assert result.status is S.NOT_SUPPORTED and result.payload == {"list_version": -1}


@pytest.mark.parametrize("cid", [ID16, ID201])
async def test_callerror_internal_error_is_a_call_error_with_the_chargers_words(
        gw, chargers, cid, caplog):
    cp = chargers[cid]
    cp.reset_script()
    cp.answers["ClearCache"] = InternalError(description="flash write failed")
    result = await gw.clear_cache(cid)
    assert result.status is S.CALL_ERROR
    assert result.error_code == "InternalError"
    assert "flash write failed" in result.detail
    assert "InternalError" in result.describe()


@pytest.mark.parametrize("cid", [ID16, ID201])
async def test_callerror_not_implemented_is_not_supported(gw, chargers, cid):
    cp = chargers[cid]
    cp.reset_script()
    cp.answers["ClearCache"] = NotImplementedError(description="no cache here")
    result = await gw.clear_cache(cid)
    assert result.status is S.NOT_SUPPORTED
    assert result.error_code == "NotImplemented"


@pytest.mark.parametrize(("subprotocol", "cls"), [("ocpp1.6", Client16),
                                                  ("ocpp2.0.1", Client201)])
async def test_charger_without_the_handler_answers_not_implemented(
        gw, mcore, murl, subprotocol, cls):
    # The plain library client has no handler for Reset: its CALLERROR is NotImplemented.
    class Bare(cls):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.logger = _QUIET

    ctx, _cp = await _connected(mcore, murl, "CMD-BARE", subprotocol, Bare)
    try:
        result = await gw.reset("CMD-BARE")
    finally:
        await ctx.__aexit__(None, None, None)
    assert result.status is S.NOT_SUPPORTED
    assert result.error_code == "NotImplemented"
    await wait_for(lambda: mcore.ocpp_server.session("CMD-BARE") is None)


async def test_offline_charger_gets_nothing(gw):
    result = await gw.reset("NOT-CONNECTED")
    assert result.status is S.OFFLINE
    assert "not sent" in result.detail
    assert result.command == "reset" and result.charger_id == "NOT-CONNECTED"


@pytest.mark.parametrize("cid", [ID16, ID201])
async def test_timeout_then_the_late_answer_does_not_confuse_the_next_command(
        mcore, chargers, cid, caplog):
    cp = chargers[cid]
    cp.reset_script()
    quick = OcppGateway(mcore.ocpp_server, timeout_s=0.3)
    cp.answers["Reset"] = Late(0.8)
    result = await quick.reset(cid)
    assert result.status is S.TIMEOUT
    assert "0.3 s" in result.detail
    await wait_for(lambda: cp.late_answers == 1)  # the stale answer is now on its way
    cp.answers["ClearCache"] = "Rejected"
    follow = await quick.clear_cache(cid)
    assert follow.status is S.REJECTED  # the late "Accepted" of Reset was not taken for it
    stale = [r for r in caplog.records if "unknown unique id" in r.getMessage()]
    assert stale and all(r.levelno == logging.WARNING for r in stale)


async def test_commands_to_one_charger_queue_behind_each_other(mcore, gw, cp16):
    cp16.answers["Reset"] = Late(0.2)
    results = await asyncio.gather(gw.reset(ID16), gw.clear_cache(ID16), gw.clear_cache(ID16))
    assert [r.status for r in results] == [S.ACCEPTED] * 3
    assert [a for a, _ in cp16.received] == ["Reset", "ClearCache", "ClearCache"]


async def test_queue_wait_is_bounded_by_the_timeout(mcore, cp16):
    quick = OcppGateway(mcore.ocpp_server, timeout_s=1.0)
    cp16.answers["Reset"] = Late(0.6)
    cp16.answers["ClearCache"] = Late(0.6)
    first, second, third = await asyncio.gather(
        quick.reset(ID16), quick.clear_cache(ID16), quick.clear_cache(ID16))
    assert first.status is S.ACCEPTED
    assert second.status is S.ACCEPTED
    assert third.status is S.TIMEOUT and "not sent" in third.detail
    await wait_for(lambda: cp16.late_answers == 2)
    assert len(cp16.received) == 2


@pytest.mark.parametrize(("subprotocol", "cls"), [("ocpp1.6", Charger16),
                                                  ("ocpp2.0.1", Charger201)])
async def test_connection_lost_mid_call_is_offline(gw, mcore, murl, subprotocol, cls):
    ctx, cp = await _connected(mcore, murl, "CMD-DROP", subprotocol, cls)
    try:
        cp.answers["ClearCache"] = CLOSE
        result = await gw.clear_cache("CMD-DROP")
    finally:
        await ctx.__aexit__(None, None, None)
    assert result.status is S.OFFLINE
    assert "closed" in result.detail
    await wait_for(lambda: mcore.ocpp_server.session("CMD-DROP") is None)
    assert (await gw.clear_cache("CMD-DROP")).status is S.OFFLINE


# -- quirk 10: accepted and ignored -----------------------------------------------------------

async def test_16_accepted_but_ignored_change_is_caught(gw, cp16):
    cp16.ignore_changes = True
    result = await gw.change_configuration(ID16, "HeartbeatInterval", "120")
    assert result.status is S.IGNORED
    assert result.charger_status == "Accepted"
    assert "'120'" in result.detail and "'300'" in result.detail
    assert result.payload["read_back"] == {"HeartbeatInterval": "300"}


async def test_201_accepted_but_ignored_change_is_caught(gw, cp201):
    cp201.ignore_changes = True
    result = await gw.set_variables(ID201, [("OCPPCommCtrlr", "HeartbeatInterval", "120")])
    assert result.status is S.IGNORED
    assert result.payload["read_back"] == {"OCPPCommCtrlr.HeartbeatInterval": "300"}
    by_key = await gw.change_configuration(ID201, "HeartbeatInterval", "120")
    assert by_key.status is S.IGNORED


@pytest.mark.parametrize("cid", [ID16, ID201])
async def test_reboot_required_is_pending_and_not_read_back(gw, chargers, cid):
    cp = chargers[cid]
    cp.reset_script()
    cp.answers["ChangeConfiguration" if cid == ID16 else "SetVariables"] = \
        (lambda kw: r16.ChangeConfiguration(status="RebootRequired")) if cid == ID16 \
        else (lambda kw: r201.SetVariables(set_variable_result=[
            {"attribute_status": "RebootRequired", **_var("OCPPCommCtrlr", "HeartbeatInterval")}]))
    result = await gw.change_configuration(cid, "HeartbeatInterval", "120")
    assert result.status is S.PENDING
    assert result.charger_status == "RebootRequired"
    assert len(cp.received) == 1  # no read-back


async def test_16_unknown_key_change_is_not_supported(gw, cp16):
    cp16.answers["ChangeConfiguration"] = "NotSupported"
    result = await gw.change_configuration(ID16, "NoSuchKey", "1")
    assert result.status is S.NOT_SUPPORTED
    assert len(cp16.received) == 1


async def test_201_mixed_set_variables_worst_wins_and_accepted_ones_are_checked(gw, cp201):
    result = await gw.set_variables(ID201, [("OCPPCommCtrlr", "HeartbeatInterval", "120"),
                                            ("NoCtrlr", "Nothing", "1")])
    assert result.status is S.NOT_SUPPORTED
    assert result.payload["results"] == {"OCPPCommCtrlr.HeartbeatInterval": "Accepted",
                                         "NoCtrlr.Nothing": "UnknownVariable"}
    assert result.payload["read_back"] == {"OCPPCommCtrlr.HeartbeatInterval": "120"}


async def test_201_unmapped_bare_key_is_not_sent(gw, cp201):
    result = await gw.change_configuration(ID201, "SomeVendorKey", "1")
    assert result.status is S.NOT_SUPPORTED and "Component.Variable" in result.detail
    assert cp201.received == []


# -- requests we refuse to send ----------------------------------------------------------------

async def test_16_token_too_long_for_the_schema_is_not_sent(gw, cp16):
    result = await gw.remote_start(ID16, 1, "X" * 21)  # idTag is CiString20
    assert result.status is S.CALL_ERROR
    assert result.error_code == "TypeConstraintViolation"
    assert result.detail.startswith("not sent")
    assert cp16.received == []


async def test_16_transaction_id_must_be_an_integer(gw, cp16):
    result = await gw.remote_stop(ID16, "tx-abc")
    assert result.status is S.CALL_ERROR and "not sent" in result.detail
    assert cp16.received == []


# -- the command service through the real core: the audit trail ------------------------------

@pytest.mark.asyncio(loop_scope="function")
async def test_manual_commands_are_audited_in_the_database(core, url, settings):
    async with charge_point(url, "CMD-AUDIT", "ocpp1.6", cls=Charger16) as cp:
        await wait_for(lambda: core.ocpp_server.session("CMD-AUDIT") is not None)
        cp.answers["Reset"] = "Rejected"
        cp.values["AuthorizationKey"] = ""
        ok = await core.commands.unlock_connector("alice", "CMD-AUDIT", 1)
        refused = await core.commands.reset("bob", "CMD-AUDIT", hard=True)
        secret = await core.commands.change_configuration("alice", "CMD-AUDIT",
                                                          "AuthorizationKey", "s3cr3t")
        assert [a for a, _ in cp.received][-1] == "ChangeConfiguration"  # no read-back
    offline = await core.commands.clear_cache("carol", "CMD-AUDIT")
    assert (ok.status, refused.status, secret.status, offline.status) == (
        S.ACCEPTED, S.REJECTED, S.ACCEPTED, S.OFFLINE)
    await core.stop()  # flushes the writer
    engine = create_engine(settings.resolved_db_url)
    with engine.connect() as conn:
        rows = list(reversed(load_audit(conn, target="CMD-AUDIT", action_prefix="charger_")))
    engine.dispose()
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("alice", "charger_unlock_connector"), ("bob", "charger_reset"),
        ("alice", "charger_change_configuration"), ("carol", "charger_clear_cache")]
    unlock, reset, change, clear = (r["details"] for r in rows)
    assert unlock["args"] == {"connector_id": 1}
    assert unlock["status"] == "Accepted" and unlock["charger_status"] == "Unlocked"
    assert reset["args"] == {"hard": True} and reset["status"] == "Rejected"
    assert change["args"] == {"key": "AuthorizationKey", "value": "***"}
    assert "s3cr3t" not in str(change)
    assert clear["status"] == "Offline"
    assert rows[0]["at"].tzinfo is not None
