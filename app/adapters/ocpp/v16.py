"""OCPP 1.6J handlers: thin, they translate and hand over to the charging service."""

from __future__ import annotations

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from app.domain.charging import ChargerIdentity, status_from_v16
from app.domain.timeutil import parse_iso, to_iso
from app.services.charging import ChargingService


class CentralSystem16(ChargePoint):
    def __init__(self, charger_id, connection, service: ChargingService, **kwargs):
        super().__init__(charger_id, connection, **kwargs)
        self.service = service

    @on(Action.boot_notification)
    def on_boot_notification(self, charge_point_vendor, charge_point_model, **kwargs):
        identity = ChargerIdentity(
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial=kwargs.get("charge_point_serial_number")
            or kwargs.get("charge_box_serial_number")
            or "",
            firmware=kwargs.get("firmware_version") or "",
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
    def on_status_notification(self, connector_id, error_code, status, **kwargs):
        self.service.status(
            self.id,
            int(connector_id),
            status_from_v16(status),
            error_code=str(error_code),
            charger_time=parse_iso(kwargs.get("timestamp")),
        )
        return call_result.StatusNotification()
