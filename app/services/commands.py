"""Manual commands to chargers (the UI's and the CLI's): sent through the ChargerGateway,
each one written to the audit trail with who asked, what, to which charger, and the
charger's answer.

Every method returns the gateway's CommandResult (never None, never raises for charger
problems). Not for use inside OCPP handlers (see app.adapters.ocpp.gateway).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from app.domain.commands import CommandResult
from app.services.audit import Audit, AuditLog, mask_secrets
from app.services.ports import ChargerGateway, Clock

# A local list can hold thousands of tokens; the audit keeps this many of them.
MAX_AUDITED_ENTRIES = 100


class CommandService:
    def __init__(self, gateway: ChargerGateway, audit: Audit | AuditLog, clock: Clock) -> None:
        self._gateway = gateway
        # Either the callable (ports.Audit) or an AuditLog object.
        self._audit: Audit = getattr(audit, "audit", audit)
        self._clock = clock

    # -- one method per command; `actor` is who asked (user name, "cli", "system:...") --

    async def remote_start(self, actor: str, charger_id: str, connector_id: int | None,
                           id_token: str) -> CommandResult:
        return await self._do(actor, "remote_start", charger_id,
                              {"connector_id": connector_id, "id_token": id_token},
                              self._gateway.remote_start(charger_id, connector_id, id_token))

    async def remote_stop(self, actor: str, charger_id: str,
                          transaction_id: str) -> CommandResult:
        return await self._do(actor, "remote_stop", charger_id,
                              {"transaction_id": transaction_id},
                              self._gateway.remote_stop(charger_id, transaction_id))

    async def unlock_connector(self, actor: str, charger_id: str,
                               connector_id: int) -> CommandResult:
        return await self._do(actor, "unlock_connector", charger_id,
                              {"connector_id": connector_id},
                              self._gateway.unlock_connector(charger_id, connector_id))

    async def reset(self, actor: str, charger_id: str, hard: bool = False) -> CommandResult:
        return await self._do(actor, "reset", charger_id, {"hard": hard},
                              self._gateway.reset(charger_id, hard))

    async def change_availability(self, actor: str, charger_id: str, connector_id: int,
                                  available: bool) -> CommandResult:
        return await self._do(
            actor, "change_availability", charger_id,
            {"connector_id": connector_id, "available": available},
            self._gateway.change_availability(charger_id, connector_id, available))

    async def get_configuration(self, actor: str, charger_id: str,
                                keys: list[str] | None = None) -> CommandResult:
        return await self._do(actor, "get_configuration", charger_id, {"keys": keys},
                              self._gateway.get_configuration(charger_id, keys))

    async def change_configuration(self, actor: str, charger_id: str, key: str,
                                   value: str) -> CommandResult:
        return await self._do(actor, "change_configuration", charger_id,
                              {"key": key, "value": value},
                              self._gateway.change_configuration(charger_id, key, value))

    async def get_variables(self, actor: str, charger_id: str,
                            variables: list[tuple[str, str]]) -> CommandResult:
        return await self._do(actor, "get_variables", charger_id,
                              {"variables": [list(v) for v in variables]},
                              self._gateway.get_variables(charger_id, variables))

    async def set_variables(self, actor: str, charger_id: str,
                            values: list[tuple[str, str, str]]) -> CommandResult:
        audited = [{"key": f"{c}.{v}", "value": value} for c, v, value in values]
        return await self._do(actor, "set_variables", charger_id, {"values": audited},
                              self._gateway.set_variables(charger_id, values))

    async def get_base_report(self, actor: str, charger_id: str,
                              report: str = "FullInventory") -> CommandResult:
        return await self._do(actor, "get_base_report", charger_id, {"report": report},
                              self._gateway.get_base_report(charger_id, report))

    async def trigger_message(self, actor: str, charger_id: str, message: str,
                              connector_id: int | None = None) -> CommandResult:
        return await self._do(actor, "trigger_message", charger_id,
                              {"message": message, "connector_id": connector_id},
                              self._gateway.trigger_message(charger_id, message, connector_id))

    async def clear_cache(self, actor: str, charger_id: str) -> CommandResult:
        return await self._do(actor, "clear_cache", charger_id, {},
                              self._gateway.clear_cache(charger_id))

    async def send_local_list(self, actor: str, charger_id: str, version: int,
                              entries: list[tuple[str, str]], full: bool) -> CommandResult:
        args = {"version": version, "full": full, "count": len(entries),
                "entries": [list(e) for e in entries[:MAX_AUDITED_ENTRIES]]}
        return await self._do(actor, "send_local_list", charger_id, args,
                              self._gateway.send_local_list(charger_id, version, entries, full))

    async def get_local_list_version(self, actor: str, charger_id: str) -> CommandResult:
        return await self._do(actor, "get_local_list_version", charger_id, {},
                              self._gateway.get_local_list_version(charger_id))

    async def set_charging_profile(self, actor: str, charger_id: str, connector_id: int,
                                   limit_w: float, profile_id: int = 1) -> CommandResult:
        return await self._do(
            actor, "set_charging_profile", charger_id,
            {"connector_id": connector_id, "limit_w": limit_w, "profile_id": profile_id},
            self._gateway.set_charging_profile(charger_id, connector_id, limit_w, profile_id))

    async def clear_charging_profile(self, actor: str, charger_id: str,
                                     profile_id: int | None = None) -> CommandResult:
        return await self._do(actor, "clear_charging_profile", charger_id,
                              {"profile_id": profile_id},
                              self._gateway.clear_charging_profile(charger_id, profile_id))

    async def data_transfer(self, actor: str, charger_id: str, vendor_id: str,
                            message_id: str = "", data: str = "") -> CommandResult:
        return await self._do(
            actor, "data_transfer", charger_id,
            {"vendor_id": vendor_id, "message_id": message_id, "data": data},
            self._gateway.data_transfer(charger_id, vendor_id, message_id, data))

    async def get_diagnostics(self, actor: str, charger_id: str,
                              location: str) -> CommandResult:
        return await self._do(actor, "get_diagnostics", charger_id, {"location": location},
                              self._gateway.get_diagnostics(charger_id, location))

    async def update_firmware(self, actor: str, charger_id: str,
                              location: str) -> CommandResult:
        return await self._do(actor, "update_firmware", charger_id, {"location": location},
                              self._gateway.update_firmware(charger_id, location))

    # -- the audit --------------------------------------------------------------------

    async def _do(self, actor: str, command: str, charger_id: str, args: dict[str, Any],
                  pending: Awaitable[CommandResult]) -> CommandResult:
        if not actor or not str(actor).strip():
            if asyncio.iscoroutine(pending):
                pending.close()  # never started: no "was never awaited" warning
            raise ValueError("a command needs an actor (who asked for it)")
        requested_at = self._clock()
        started = time.monotonic()
        details: dict[str, Any] = {"args": args, "requested_at": requested_at.isoformat()}
        try:
            result = await pending
        except asyncio.CancelledError:
            self._record(actor, command, charger_id,
                         {**details, "status": "Cancelled", "duration_ms": _ms(started)})
            raise
        except Exception as exc:  # the gateway promises not to; record it if it does
            self._record(actor, command, charger_id,
                         {**details, "status": "Error", "detail": f"{type(exc).__name__}: {exc}",
                          "duration_ms": _ms(started)})
            raise
        self._record(actor, command, charger_id, {
            **details,
            "status": str(result.status),
            "charger_status": result.charger_status,
            "error_code": result.error_code,
            "detail": result.detail,
            "payload": result.payload,
            "duration_ms": _ms(started),
        })
        return result

    def _record(self, actor: str, command: str, charger_id: str,
                details: dict[str, Any]) -> None:
        self._audit(str(actor), f"charger_{command}", charger_id, mask_secrets(details))


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
