"""OCPP 2.0.1 handlers. EVSE ids map onto the domain's connector numbers."""

from __future__ import annotations

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from app.domain.charging import (
    ChargerIdentity,
    status_from_v201,
    status_from_v201_charging_state,
)
from app.domain.timeutil import parse_iso, to_iso
from app.services.charging import ChargingService


class CentralSystem201(ChargePoint):
    def __init__(self, charger_id, connection, service: ChargingService, **kwargs):
        super().__init__(charger_id, connection, **kwargs)
        self.service = service

    @on(Action.boot_notification)
    def on_boot_notification(self, charging_station, reason, **kwargs):
        identity = ChargerIdentity(
            vendor=charging_station.get("vendor_name", ""),
            model=charging_station.get("model", ""),
            serial=charging_station.get("serial_number", ""),
            firmware=charging_station.get("firmware_version", ""),
        )
        decision = self.service.boot(self.id, identity)
        return call_result.BootNotification(
            current_time=to_iso(decision.current_time),
            interval=decision.interval_s,
            status=decision.status.value,
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **kwargs):
        return call_result.Heartbeat(current_time=to_iso(self.service.heartbeat(self.id)))

    @on(Action.status_notification)
    def on_status_notification(self, timestamp, connector_status, evse_id, connector_id, **kwargs):
        self.service.status(
            self.id,
            int(evse_id),
            status_from_v201(connector_status),
            charger_time=parse_iso(timestamp),
        )
        return call_result.StatusNotification()

    @on(Action.transaction_event)
    def on_transaction_event(self, event_type, timestamp, trigger_reason, seq_no,
                             transaction_info, **kwargs):
        # Only the charging state is used here; transactions are recorded by the
        # OCPP issue's transaction service.
        evse = kwargs.get("evse") or {}
        state = transaction_info.get("charging_state")
        if evse.get("id") and state:
            self.service.status(
                self.id,
                int(evse["id"]),
                status_from_v201_charging_state(state),
                charger_time=parse_iso(timestamp),
            )
        if kwargs.get("id_token"):
            return call_result.TransactionEvent(id_token_info={"status": "Accepted"})
        return call_result.TransactionEvent()
