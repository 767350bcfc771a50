"""OCPP 2.0.1 requests for the gateway, and how their answers read.

Connector ids of the domain are 2.0.1 EVSE ids; the physical connector is 1. 1.6
configuration keys map onto device-model variables: a key is either a known 1.6 name
(`V16_KEYS`) or "Component.Variable".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ocpp.v201 import call

from app.domain.commands import CommandResult, CommandStatus
from app.domain.timeutil import to_iso

if TYPE_CHECKING:
    from app.adapters.ocpp.gateway import Exchange

# The common 1.6 configuration keys and their 2.0.1 component / variable.
V16_KEYS: dict[str, tuple[str, str]] = {
    "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval"),
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval"),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
    "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval"),
    "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut"),
    "StopTransactionOnEVSideDisconnect": ("TxCtrlr", "StopTxOnEVSideDisconnect"),
    "StopTransactionOnInvalidId": ("TxCtrlr", "StopTxOnInvalidId"),
    "LocalAuthorizeOffline": ("AuthCtrlr", "LocalAuthorizeOffline"),
    "LocalPreAuthorize": ("AuthCtrlr", "LocalPreAuthorize"),
    "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart"),
    "AuthorizationCacheEnabled": ("AuthCacheCtrlr", "Enabled"),
    "LocalAuthListEnabled": ("LocalAuthListCtrlr", "Enabled"),
    "WebSocketPingInterval": ("OCPPCommCtrlr", "WebSocketPingInterval"),
    "ResetRetries": ("OCPPCommCtrlr", "ResetRetries"),
}
_FOLDED = {k.casefold(): v for k, v in V16_KEYS.items()}
# 1.6 trigger names a caller may use for a 2.0.1 charger.
_TRIGGERS = {"DiagnosticsStatusNotification": "LogStatusNotification",
             "SignChargePointCertificate": "SignChargingStationCertificate"}


def variable_of(key: str) -> tuple[str, str] | None:
    """A 1.6 key or "Component.Variable" as (component, variable); None if neither."""
    key = key.strip()
    if key.casefold() in _FOLDED:
        return _FOLDED[key.casefold()]
    component, dot, variable = key.partition(".")
    if dot and component and variable:
        return component, variable
    return None


def _name(component: str, variable: str) -> str:
    return f"{component}.{variable}"


class Commands201:
    async def remote_start(self, x: Exchange, connector_id: int | None, id_token: str,
                           token_type: str) -> CommandResult:
        remote_start_id = x.next_id()
        r = await x.call(call.RequestStartTransaction(
            id_token={"id_token": id_token, "type": token_type},
            remote_start_id=remote_start_id, evse_id=connector_id))
        payload: dict[str, Any] = {"remote_start_id": remote_start_id}
        if r.transaction_id:
            payload["transaction_id"] = r.transaction_id
        return x.result(r.status, payload=payload, info=r.status_info)

    async def remote_stop(self, x: Exchange, transaction_id: str) -> CommandResult:
        r = await x.call(call.RequestStopTransaction(transaction_id=str(transaction_id)))
        return x.result(r.status, info=r.status_info)

    async def unlock_connector(self, x: Exchange, connector_id: int) -> CommandResult:
        r = await x.call(call.UnlockConnector(evse_id=connector_id, connector_id=1))
        return x.result(r.status, info=r.status_info)

    async def reset(self, x: Exchange, hard: bool) -> CommandResult:
        r = await x.call(call.Reset(type="Immediate" if hard else "OnIdle"))
        return x.result(r.status, info=r.status_info)

    async def change_availability(self, x: Exchange, connector_id: int,
                                  available: bool) -> CommandResult:
        r = await x.call(call.ChangeAvailability(
            operational_status="Operative" if available else "Inoperative",
            evse={"id": connector_id} if connector_id else None))  # 0: the whole station
        return x.result(r.status, info=r.status_info)

    # -- configuration: GetVariables / SetVariables -------------------------------------

    async def get_configuration(self, x: Exchange, keys: list[str] | None) -> CommandResult:
        keys = list(keys) if keys else list(V16_KEYS)
        mapped = {k: v for k in keys if (v := variable_of(k)) is not None}
        unknown = [k for k in keys if k not in mapped]
        values: dict[str, str | None] = {}
        statuses: dict[str, str] = {}
        if mapped:
            values, statuses = await self._get(x, list(dict.fromkeys(mapped.values())))
        config: dict[str, str | None] = {}
        for key, (component, variable) in mapped.items():
            name = _name(component, variable)
            if statuses.get(name) == "Accepted":
                config[key] = values.get(name)
            else:
                unknown.append(key)
        payload = {"configuration": config, "readonly": [], "unknown": unknown,
                   "variables": {k: _name(*v) for k, v in mapped.items()}}
        if unknown and not config:
            return x.result(status=CommandStatus.NOT_SUPPORTED, payload=payload,
                            detail=f"unknown key(s): {', '.join(unknown)}")
        return x.result(status=CommandStatus.ACCEPTED, payload=payload)

    async def get_variables(self, x: Exchange,
                            variables: list[tuple[str, str]]) -> CommandResult:
        values, statuses = await self._get(x, list(variables))
        payload = {"values": values, "statuses": statuses}
        words = list(statuses.values())
        if "Accepted" in words or not words:
            return x.result(status=CommandStatus.ACCEPTED, payload=payload)
        return x.folded(words, payload)

    async def read_values(self, x: Exchange, names: list[str]) -> dict[str, str | None]:
        pairs = [v for n in names if (v := variable_of(n)) is not None]
        values, statuses = await self._get(x, pairs)
        return {n: values.get(n) if statuses.get(n) == "Accepted" else None for n in names}

    async def change_configuration(self, x: Exchange, key: str,
                                   value: str) -> tuple[CommandResult, dict[str, str]]:
        pair = variable_of(key)
        if pair is None:
            raise x.refuse(CommandStatus.NOT_SUPPORTED, "",
                           f"not sent: no OCPP 2.0.1 variable known for {key!r}; "
                           f"give it as Component.Variable")
        result, check = await self.set_variables(x, [(pair[0], pair[1], value)])
        payload = {"key": key, "value": str(value), "variable": _name(*pair),
                   **result.payload}
        return replace(result, payload=payload), check

    async def set_variables(self, x: Exchange, values: list[tuple[str, str, str]]
                            ) -> tuple[CommandResult, dict[str, str]]:
        r = await x.call(call.SetVariables(set_variable_data=[
            {"attribute_value": str(value), "component": {"name": component},
             "variable": {"name": variable}}
            for component, variable, value in values]))
        results: dict[str, str] = {}
        notes: list[str] = []
        for item in r.set_variable_result or []:
            name = _result_name(item)
            results[name] = str(item.get("attribute_status", ""))
            if (why := _info(item.get("attribute_status_info"))):
                notes.append(f"{name}: {why}")
        wanted = {_name(c, v): str(value) for c, v, value in values}
        check = {n: v for n, v in wanted.items() if results.get(n) == "Accepted"}
        result = x.folded(list(results.values()) or ["Rejected"], {"results": results})
        if notes:
            result = x.result(result.charger_status, status=result.status,
                              payload=result.payload, detail="; ".join(notes))
        return result, check

    async def get_base_report(self, x: Exchange, report: str) -> CommandResult:
        request_id = x.next_id()
        r = await x.call(call.GetBaseReport(request_id=request_id, report_base=report))
        return x.result(r.status, payload={"request_id": request_id}, info=r.status_info)

    async def _get(self, x: Exchange, pairs: list[tuple[str, str]]
                   ) -> tuple[dict[str, str | None], dict[str, str]]:
        r = await x.call(call.GetVariables(get_variable_data=[
            {"component": {"name": c}, "variable": {"name": v}} for c, v in pairs]))
        values: dict[str, str | None] = {}
        statuses: dict[str, str] = {}
        for item in r.get_variable_result or []:
            name = _result_name(item)
            statuses[name] = str(item.get("attribute_status", ""))
            value = item.get("attribute_value")
            values[name] = None if value is None else str(value)
        return values, statuses

    # -- the rest ------------------------------------------------------------------------

    async def trigger_message(self, x: Exchange, message: str,
                              connector_id: int | None) -> CommandResult:
        message = _TRIGGERS.get(message, message)
        evse = None
        if connector_id:
            evse = {"id": connector_id}
            if message == "StatusNotification":  # a status is per connector in 2.0.1
                evse["connector_id"] = 1
        r = await x.call(call.TriggerMessage(requested_message=message, evse=evse))
        return x.result(r.status, info=r.status_info)

    async def clear_cache(self, x: Exchange) -> CommandResult:
        r = await x.call(call.ClearCache())
        return x.result(r.status, info=r.status_info)

    async def send_local_list(self, x: Exchange, version: int, entries: list[tuple[str, str]],
                              full: bool, token_type: str | Callable[[str], str]
                              ) -> CommandResult:
        items = []
        for token, status in entries:
            kind = token_type(token) if callable(token_type) else token_type
            item: dict[str, Any] = {"id_token": {"id_token": token, "type": kind}}
            if status:
                item["id_token_info"] = {"status": status}
            items.append(item)
        r = await x.call(call.SendLocalList(
            version_number=version, update_type="Full" if full else "Differential",
            local_authorization_list=items or None))  # the schema wants 1+ items or none
        return x.result(r.status, payload={"list_version": version, "entries": len(items)},
                        info=r.status_info)

    async def get_local_list_version(self, x: Exchange) -> CommandResult:
        r = await x.call(call.GetLocalListVersion())
        return x.result(status=CommandStatus.ACCEPTED,
                        payload={"list_version": r.version_number})

    async def set_charging_profile(self, x: Exchange, connector_id: int, limit_w: float,
                                   profile_id: int) -> CommandResult:
        profile = {
            "id": profile_id,
            "stack_level": 0,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Relative",
            "charging_schedule": [{
                "id": profile_id,
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0,
                                              "limit": round(float(limit_w), 1)}],
            }],
        }
        r = await x.call(call.SetChargingProfile(evse_id=connector_id, charging_profile=profile))
        return x.result(r.status, payload={"profile_id": profile_id, "limit_w": limit_w},
                        info=r.status_info)

    async def clear_charging_profile(self, x: Exchange, profile_id: int | None) -> CommandResult:
        if profile_id is None:
            req = call.ClearChargingProfile(
                charging_profile_criteria={"charging_profile_purpose": "TxDefaultProfile"})
        else:
            req = call.ClearChargingProfile(charging_profile_id=profile_id)
        r = await x.call(req)
        return x.result(r.status, info=r.status_info)

    async def data_transfer(self, x: Exchange, vendor_id: str, message_id: str,
                            data: str) -> CommandResult:
        r = await x.call(call.DataTransfer(vendor_id=vendor_id, message_id=message_id or None,
                                           data=data or None))
        return x.result(r.status, payload={"data": r.data} if r.data is not None else {},
                        info=r.status_info)

    async def get_diagnostics(self, x: Exchange, location: str) -> CommandResult:
        request_id = x.next_id()
        r = await x.call(call.GetLog(log={"remote_location": location},
                                     log_type="DiagnosticsLog", request_id=request_id))
        payload: dict[str, Any] = {"request_id": request_id}
        if r.filename:
            payload["file_name"] = r.filename
        return x.result(r.status, payload=payload, info=r.status_info)

    async def update_firmware(self, x: Exchange, location: str) -> CommandResult:
        request_id = x.next_id()
        r = await x.call(call.UpdateFirmware(request_id=request_id, firmware={
            "location": location, "retrieve_date_time": to_iso(x.now())}))
        return x.result(r.status, payload={"request_id": request_id}, info=r.status_info)


def _result_name(item: dict) -> str:
    component = (item.get("component") or {}).get("name", "")
    variable = (item.get("variable") or {}).get("name", "")
    return _name(str(component), str(variable))


def _info(info: Any) -> str:
    if not isinstance(info, dict):
        return ""
    return " ".join(str(info[k]) for k in ("reason_code", "additional_info") if info.get(k))
