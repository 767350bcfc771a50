"""OCPP 1.6 requests for the gateway, and how their answers read.

Each method takes the `Exchange` of one command (app.adapters.ocpp.gateway) and returns a
CommandResult; exchange errors (timeout, CALLERROR, closed link) are left to the gateway.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.v16 import call

from app.domain.commands import CommandResult, CommandStatus
from app.domain.timeutil import to_iso

if TYPE_CHECKING:
    from app.adapters.ocpp.gateway import Exchange

# 2.0.1 trigger names a caller may use for a 1.6 charger.
_TRIGGERS = {"LogStatusNotification": "DiagnosticsStatusNotification",
             "SignChargingStationCertificate": "SignChargePointCertificate"}


class Commands16:
    async def remote_start(self, x: Exchange, connector_id: int | None, id_token: str,
                           token_type: str) -> CommandResult:
        r = await x.call(call.RemoteStartTransaction(id_tag=id_token, connector_id=connector_id))
        return x.result(r.status)

    async def remote_stop(self, x: Exchange, transaction_id: str) -> CommandResult:
        try:
            tx_id = int(str(transaction_id).strip())
        except ValueError:
            raise x.refuse(CommandStatus.CALL_ERROR, "TypeConstraintViolation",
                           f"not sent: OCPP 1.6 transaction ids are integers, "
                           f"not {transaction_id!r}") from None
        r = await x.call(call.RemoteStopTransaction(transaction_id=tx_id))
        return x.result(r.status)

    async def unlock_connector(self, x: Exchange, connector_id: int) -> CommandResult:
        r = await x.call(call.UnlockConnector(connector_id=connector_id))
        return x.result(r.status)

    async def reset(self, x: Exchange, hard: bool) -> CommandResult:
        r = await x.call(call.Reset(type="Hard" if hard else "Soft"))
        return x.result(r.status)

    async def change_availability(self, x: Exchange, connector_id: int,
                                  available: bool) -> CommandResult:
        r = await x.call(call.ChangeAvailability(
            connector_id=connector_id, type="Operative" if available else "Inoperative"))
        return x.result(r.status)

    async def get_configuration(self, x: Exchange, keys: list[str] | None) -> CommandResult:
        r = await x.call(call.GetConfiguration(key=list(keys) if keys else None))
        config, readonly = _configuration(r.configuration_key)
        unknown = [str(k) for k in (r.unknown_key or [])]
        payload = {"configuration": config, "readonly": readonly, "unknown": unknown}
        if keys and unknown and not config:
            return x.result(status=CommandStatus.NOT_SUPPORTED, payload=payload,
                            detail=f"unknown key(s): {', '.join(unknown)}")
        return x.result(status=CommandStatus.ACCEPTED, payload=payload)

    async def read_values(self, x: Exchange, keys: list[str]) -> dict[str, str | None]:
        """Current values of keys (None: unknown or without a value)."""
        r = await x.call(call.GetConfiguration(key=list(keys)))
        config, _ = _configuration(r.configuration_key)
        folded = {k.casefold(): v for k, v in config.items()}  # keys are CiString
        return {k: folded.get(k.casefold()) for k in keys}

    async def change_configuration(self, x: Exchange, key: str,
                                   value: str) -> tuple[CommandResult, dict[str, str]]:
        r = await x.call(call.ChangeConfiguration(key=key, value=str(value)))
        result = x.result(r.status, payload={"key": key, "value": str(value)})
        check = {key: str(value)} if result.status is CommandStatus.ACCEPTED else {}
        return result, check

    async def get_variables(self, x: Exchange, variables: Any) -> CommandResult:
        raise _v201_only(x, "get_configuration")

    async def set_variables(self, x: Exchange, values: Any) -> tuple[CommandResult, dict]:
        raise _v201_only(x, "change_configuration")

    async def get_base_report(self, x: Exchange, report: str) -> CommandResult:
        raise _v201_only(x, "get_configuration")

    async def trigger_message(self, x: Exchange, message: str,
                              connector_id: int | None) -> CommandResult:
        r = await x.call(call.TriggerMessage(requested_message=_TRIGGERS.get(message, message),
                                             connector_id=connector_id))
        return x.result(r.status)

    async def clear_cache(self, x: Exchange) -> CommandResult:
        r = await x.call(call.ClearCache())
        return x.result(r.status)

    async def send_local_list(self, x: Exchange, version: int, entries: list[tuple[str, str]],
                              full: bool, token_type: Any) -> CommandResult:
        items = [{"id_tag": tag, "id_tag_info": {"status": status}} if status
                 else {"id_tag": tag} for tag, status in entries]
        r = await x.call(call.SendLocalList(
            list_version=version, update_type="Full" if full else "Differential",
            local_authorization_list=items))
        return x.result(r.status, payload={"list_version": version, "entries": len(items)})

    async def get_local_list_version(self, x: Exchange) -> CommandResult:
        r = await x.call(call.GetLocalListVersion())
        version = r.list_version
        if isinstance(version, int) and version < 0:  # -1: no local list on this charger
            return x.result(status=CommandStatus.NOT_SUPPORTED, payload={"list_version": version},
                            detail="the charger has no local authorization list")
        return x.result(status=CommandStatus.ACCEPTED, payload={"list_version": version})

    async def set_charging_profile(self, x: Exchange, connector_id: int, limit_w: float,
                                   profile_id: int) -> CommandResult:
        profile = {
            "charging_profile_id": profile_id,
            "stack_level": 0,
            "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Relative",
            "charging_schedule": {
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0,
                                              "limit": round(float(limit_w), 1)}],
            },
        }
        r = await x.call(call.SetChargingProfile(connector_id=connector_id,
                                                 cs_charging_profiles=profile))
        return x.result(r.status, payload={"profile_id": profile_id, "limit_w": limit_w})

    async def clear_charging_profile(self, x: Exchange, profile_id: int | None) -> CommandResult:
        if profile_id is None:
            req = call.ClearChargingProfile(charging_profile_purpose="TxDefaultProfile")
        else:
            req = call.ClearChargingProfile(id=profile_id)
        r = await x.call(req)
        return x.result(r.status)

    async def data_transfer(self, x: Exchange, vendor_id: str, message_id: str,
                            data: str) -> CommandResult:
        r = await x.call(call.DataTransfer(vendor_id=vendor_id, message_id=message_id or None,
                                           data=data or None))
        return x.result(r.status, payload={"data": r.data} if r.data is not None else {})

    async def get_diagnostics(self, x: Exchange, location: str) -> CommandResult:
        r = await x.call(call.GetDiagnostics(location=location))
        if not r.file_name:
            return x.result(status=CommandStatus.REJECTED,
                            detail="the charger has no diagnostics to upload")
        return x.result(status=CommandStatus.ACCEPTED, payload={"file_name": r.file_name})

    async def update_firmware(self, x: Exchange, location: str) -> CommandResult:
        # UpdateFirmware.conf has no status: an answer means the charger took the job;
        # progress comes as FirmwareStatusNotification.
        await x.call(call.UpdateFirmware(location=location, retrieve_date=to_iso(x.now())))
        return x.result(status=CommandStatus.ACCEPTED)


def _configuration(keys: Any) -> tuple[dict[str, str | None], list[str]]:
    config: dict[str, str | None] = {}
    readonly: list[str] = []
    for item in keys or []:
        if not isinstance(item, dict) or "key" not in item:
            continue
        config[str(item["key"])] = None if item.get("value") is None else str(item["value"])
        if item.get("readonly"):
            readonly.append(str(item["key"]))
    return config, readonly


def _v201_only(x: Exchange, instead: str) -> Exception:
    return x.refuse(CommandStatus.NOT_SUPPORTED, "",
                    f"not sent: {x.command} is OCPP 2.0.1; use {instead} on a 1.6 charger")
