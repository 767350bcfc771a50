"""OCPP 1.6J handlers: thin, they translate and hand over to the services."""

from __future__ import annotations

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action

from app.adapters.ocpp.robust import RobustMixin
from app.domain.charging import ChargerIdentity, status_from_v16
from app.domain.site import OcppVersion
from app.domain.timeutil import parse_iso, to_iso
from app.services.charging import ChargingService
from app.services.transactions import TransactionService


class CentralSystem16(RobustMixin, ChargePoint):
    version = OcppVersion.V16

    def __init__(self, charger_id, connection, service: ChargingService,
                 transactions: TransactionService, *, lenient: bool = False, **kwargs):
        super().__init__(charger_id, connection, **kwargs)
        self.service = service
        self.tx = transactions
        self.lenient = lenient

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
        detail = " ".join(str(kwargs[k]) for k in ("info", "vendor_error_code") if kwargs.get(k))
        self.service.status(
            self.id,
            int(connector_id),
            status_from_v16(status),
            error_code=str(error_code) + (f" ({detail})" if detail else ""),
            charger_time=parse_iso(kwargs.get("timestamp")),
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag, **kwargs):
        self.service.touch(self.id)
        decision = self.tx.authorize(id_tag, charger_id=self.id)
        return call_result.Authorize(id_tag_info={"status": decision.status.value})

    @on(Action.start_transaction)
    async def on_start_transaction(self, connector_id, id_tag, meter_start, timestamp,
                                   **kwargs):
        self.service.touch(self.id)
        tx_id, decision = await self.tx.start_16(self.id, int(connector_id), id_tag,
                                                 meter_start, timestamp)
        return call_result.StartTransaction(transaction_id=tx_id,
                                            id_tag_info={"status": decision.status.value})

    @on(Action.stop_transaction)
    async def on_stop_transaction(self, meter_stop, timestamp, transaction_id, **kwargs):
        self.service.touch(self.id)
        decision = await self.tx.stop_16(
            self.id, transaction_id, meter_stop, timestamp, kwargs.get("reason"),
            kwargs.get("id_tag"), kwargs.get("transaction_data"))
        if decision is None:
            return call_result.StopTransaction()
        return call_result.StopTransaction(id_tag_info={"status": decision.status.value})

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id, meter_value, **kwargs):
        self.service.touch(self.id)
        await self.tx.meter_values(self.id, int(connector_id), kwargs.get("transaction_id"),
                                   meter_value)
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id, **kwargs):
        self.service.touch(self.id)
        self.tx.record_event(self.id, "DataTransfer", {"vendor_id": vendor_id, **kwargs})
        # Nothing vendor-specific is understood yet: say so rather than pretend.
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status(self, status, **kwargs):
        self.service.touch(self.id)
        self.tx.record_event(self.id, "DiagnosticsStatus", {"status": status})
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def on_firmware_status(self, status, **kwargs):
        self.service.touch(self.id)
        self.tx.record_event(self.id, "FirmwareStatus", {"status": status})
        return call_result.FirmwareStatusNotification()
