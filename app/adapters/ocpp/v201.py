"""OCPP 2.0.1 handlers. EVSE ids map onto the domain's connector numbers."""

from __future__ import annotations

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from app.adapters.ocpp.robust import RobustMixin
from app.domain.charging import (
    ChargerIdentity,
    status_from_v201,
    status_from_v201_charging_state,
)
from app.domain.site import OcppVersion
from app.domain.timeutil import parse_iso, to_iso
from app.services.charging import ChargingService
from app.services.transactions import TransactionService


class CentralSystem201(RobustMixin, ChargePoint):
    version = OcppVersion.V201

    def __init__(self, charger_id, connection, service: ChargingService,
                 transactions: TransactionService, *, lenient: bool = False, **kwargs):
        super().__init__(charger_id, connection, **kwargs)
        self.service = service
        self.tx = transactions
        self.lenient = lenient

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

    @on(Action.authorize)
    def on_authorize(self, id_token, **kwargs):
        self.service.touch(self.id)
        decision = self.tx.authorize(id_token.get("id_token", ""), charger_id=self.id)
        return call_result.Authorize(id_token_info={"status": decision.status.value})

    @on(Action.transaction_event)
    async def on_transaction_event(self, event_type, timestamp, trigger_reason, seq_no,
                                   transaction_info, **kwargs):
        self.service.touch(self.id)
        evse = kwargs.get("evse") or {}
        state = transaction_info.get("charging_state")
        if evse.get("id") and state:
            self.service.status(self.id, int(evse["id"]),
                                status_from_v201_charging_state(state),
                                charger_time=parse_iso(timestamp))
        decision = await self.tx.transaction_event(
            self.id, event_type, timestamp, int(seq_no), transaction_info,
            offline=bool(kwargs.get("offline", False)), id_token=kwargs.get("id_token"),
            evse=evse, meter_value=kwargs.get("meter_value"))
        if decision is None:
            return call_result.TransactionEvent()
        return call_result.TransactionEvent(id_token_info={"status": decision.status.value})

    @on(Action.meter_values)
    async def on_meter_values(self, evse_id, meter_value, **kwargs):
        self.service.touch(self.id)
        await self.tx.meter_values(self.id, int(evse_id), None, meter_value)
        return call_result.MeterValues()

    @on(Action.notify_event)
    def on_notify_event(self, generated_at, seq_no, event_data, **kwargs):
        self.service.touch(self.id)
        self.tx.record_event(self.id, "NotifyEvent",
                             {"seq_no": seq_no, "event_data": event_data,
                              "tbc": kwargs.get("tbc", False)}, generated_at)
        return call_result.NotifyEvent()

    @on(Action.security_event_notification)
    def on_security_event(self, type, timestamp, **kwargs):
        self.service.touch(self.id)
        self.tx.record_event(self.id, "SecurityEvent",
                             {"type": type, "tech_info": kwargs.get("tech_info", "")}, timestamp)
        self.service.notice(self.id, "security_event", f"{type} {kwargs.get('tech_info', '')}")
        return call_result.SecurityEventNotification()

    @on(Action.notify_report)
    def on_notify_report(self, request_id, generated_at, seq_no, **kwargs):
        self.service.touch(self.id)
        self.tx.record_event(self.id, "NotifyReport",
                             {"request_id": request_id, "seq_no": seq_no,
                              "report_data": kwargs.get("report_data", []),
                              "tbc": kwargs.get("tbc", False)}, generated_at)
        return call_result.NotifyReport()

    @on(Action.firmware_status_notification)
    def on_firmware_status(self, status, **kwargs):
        self.service.touch(self.id)
        self.tx.record_event(self.id, "FirmwareStatus",
                             {"status": status, "request_id": kwargs.get("request_id")})
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    def on_log_status(self, status, **kwargs):
        self.service.touch(self.id)
        self.tx.record_event(self.id, "LogStatus",
                             {"status": status, "request_id": kwargs.get("request_id")})
        return call_result.LogStatusNotification()
