"""OCPP 1.6 side of the simulated charger: the CALLs it sends and the ones it answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, ResetStatus, TriggerMessageStatus

from app.domain.charging import ChargerIdentity
from app.sim.connector import Happening, SimConnector, Transaction
from app.sim.protocol import SIM_OCPP_LOG, ChargerHooks, Outgoing, now_iso


class Messages16:
    subprotocol = "ocpp1.6"

    def __init__(self, *, transactions: bool = False) -> None:
        # Off until the central system implements Start/StopTransaction and MeterValues.
        self.transactions = transactions

    def boot(self, identity: ChargerIdentity, reason: str) -> Any:
        # 1.6 has no boot reason; field lengths are the schema's maxLength.
        return call.BootNotification(
            charge_point_vendor=identity.vendor[:20],
            charge_point_model=identity.model[:20],
            charge_point_serial_number=identity.serial[:25] or None,
            charge_box_serial_number=identity.serial[:25] or None,
            firmware_version=identity.firmware[:50] or None,
        )

    def heartbeat(self) -> Any:
        return call.Heartbeat()

    def resync(self, connectors: Iterable[SimConnector]) -> list[Outgoing]:
        out = [Outgoing(lambda: _status(0, "Available", "NoError"))]
        out += [self.status(c) for c in connectors]
        return out

    def on_happening(self, conn: SimConnector, what: Happening, online: bool) -> list[Outgoing]:
        tx = conn.tx
        out: list[Outgoing] = []
        if what is Happening.AUTHORIZED:
            if self.transactions and tx is not None:
                out.append(self._start(conn, tx))
            return out
        if what is Happening.METER:
            if self.transactions and tx is not None:
                out.append(self._meter(conn, tx))
            return out
        if what in (Happening.UNPLUGGED, Happening.FAULTED) and self.transactions and tx:
            status, stop = self.status(conn), self._stop(conn, tx)
            # A fault is reported before the transaction ends; an unplug ends it first.
            return [status, stop] if what is Happening.FAULTED else [stop, status]
        return [self.status(conn)]

    def status(self, conn: SimConnector) -> Outgoing:
        payload = _status(conn.id, str(conn.state), conn.error_code)
        return Outgoing(lambda: payload)

    def _start(self, conn: SimConnector, tx: Transaction) -> Outgoing:
        payload = call.StartTransaction(
            connector_id=conn.id, id_tag=tx.id_tag[:20], meter_start=int(conn.meter_wh),
            timestamp=now_iso(),
        )

        def accepted(result: Any) -> None:
            tx.remote_id = result.transaction_id
            if (result.id_tag_info or {}).get("status") != "Accepted":
                tx.rejected = True

        return Outgoing(lambda: payload, must_deliver=True, on_result=accepted)

    def _meter(self, conn: SimConnector, tx: Transaction) -> Outgoing:
        stamp, wh, w = now_iso(), conn.meter_wh, conn.power_w
        return Outgoing(lambda: call.MeterValues(
            connector_id=conn.id,
            transaction_id=tx.remote_id,
            meter_value=[{"timestamp": stamp, "sampled_value": [
                {"value": f"{wh:.0f}", "measurand": "Energy.Active.Import.Register",
                 "unit": "Wh", "context": "Sample.Periodic"},
                {"value": f"{w:.0f}", "measurand": "Power.Active.Import", "unit": "W",
                 "context": "Sample.Periodic"},
            ]}],
        ))

    def _stop(self, conn: SimConnector, tx: Transaction) -> Outgoing:
        stamp, wh = now_iso(), int(conn.meter_wh)
        reason = tx.stop_reason if tx.stop_reason in _V16_REASONS else "Other"

        def build() -> Any:
            if tx.remote_id is None:  # StartTransaction never got through
                return None
            return call.StopTransaction(meter_stop=wh, timestamp=stamp,
                                        transaction_id=tx.remote_id, reason=reason,
                                        id_tag=tx.id_tag[:20])

        return Outgoing(build, must_deliver=True)


_V16_REASONS = {"EVDisconnected", "DeAuthorized", "Local", "Other", "PowerLoss", "Reboot"}


def _status(connector_id: int, status: str, error_code: str) -> Any:
    return call.StatusNotification(
        connector_id=connector_id, status=status, error_code=error_code, timestamp=now_iso()
    )


class ChargePoint16(ChargePoint):
    """Answers the central system's CALLs that a demo needs; others get NotImplemented."""

    def __init__(self, charger_id: str, connection: Any, hooks: ChargerHooks,
                 response_timeout: float) -> None:
        super().__init__(charger_id, connection, response_timeout, logger=SIM_OCPP_LOG)
        self._hooks = hooks

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None,
                           **_: Any) -> Any:
        ok = requested_message in ("BootNotification", "Heartbeat", "StatusNotification")
        status = TriggerMessageStatus.accepted if ok else TriggerMessageStatus.not_implemented
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, connector_id: int | None = None,
                              **_: Any) -> None:
        # Sent after the answer: calling from inside the handler would deadlock.
        self._hooks.trigger(requested_message, connector_id)

    @on(Action.reset)
    def on_reset(self, **_: Any) -> Any:
        ok = self._hooks.reset_allowed()
        return call_result.Reset(status=ResetStatus.accepted if ok else ResetStatus.rejected)

    @after(Action.reset)
    def after_reset(self, **_: Any) -> None:
        if self._hooks.reset_allowed():
            self._hooks.request_reset()
