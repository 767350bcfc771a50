"""OCPP 2.0.1 side of the simulated charger.

2.0.1 StatusNotification only knows Available/Occupied/Faulted, so what the car does is
told with TransactionEvent: Started at plug-in, Updated on authorisation, charging-state
changes and meter samples, Ended when the car unplugs (TxStopPoint EVConnected). Each
connector of the site config is one EVSE with connector 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action, ResetStatusEnumType, TriggerMessageStatusEnumType

from app.domain.charging import ChargerIdentity
from app.sim.connector import Happening, SimConnector, State, Transaction
from app.sim.protocol import SIM_OCPP_LOG, ChargerHooks, Outgoing, now_iso

_STOPPED_REASON = {"GroundFailure": "GroundFault", "OverCurrentFailure": "OvercurrentFault"}


def connector_status(conn: SimConnector) -> str:
    if conn.state is State.AVAILABLE:
        return "Available"
    return "Faulted" if conn.state is State.FAULTED else "Occupied"


class Messages201:
    subprotocol = "ocpp2.0.1"

    def boot(self, identity: ChargerIdentity, reason: str) -> Any:
        station = {"model": identity.model[:20], "vendor_name": identity.vendor[:50]}
        if identity.serial:
            station["serial_number"] = identity.serial[:25]
        if identity.firmware:
            station["firmware_version"] = identity.firmware[:50]
        return call.BootNotification(charging_station=station, reason=reason)

    def heartbeat(self) -> Any:
        return call.Heartbeat()

    def resync(self, connectors: Iterable[SimConnector]) -> list[Outgoing]:
        return [self.status(c) for c in connectors]

    def on_happening(self, conn: SimConnector, what: Happening, online: bool) -> list[Outgoing]:
        tx = conn.tx
        if what is Happening.PLUGGED and tx is not None:
            return [self.status(conn),
                    self._event(conn, tx, online, "Started", "CablePluggedIn", "EVConnected",
                                context="Transaction.Begin")]
        if what is Happening.AUTHORIZED and tx is not None:
            return [self._event(conn, tx, online, "Updated", "Authorized", "EVConnected",
                                id_token=True)]
        if what is Happening.CHARGING_STATE and tx is not None:
            return [self._event(conn, tx, online, "Updated", "ChargingStateChanged",
                                str(conn.state))]
        if what is Happening.METER and tx is not None:
            return [self._event(conn, tx, online, "Updated", "MeterValuePeriodic",
                                str(conn.state), context="Sample.Periodic", must=False)]
        if what is Happening.UNPLUGGED and tx is not None:
            return [self._event(conn, tx, online, "Ended", "EVCommunicationLost", "Idle",
                                context="Transaction.End", stopped=tx.stop_reason)]
        if what is Happening.FAULTED and tx is not None:
            reason = _STOPPED_REASON.get(conn.error_code, "Other")
            return [self._event(conn, tx, online, "Ended", "AbnormalCondition", "EVConnected",
                                context="Transaction.End", stopped=reason),
                    self.status(conn)]
        return [self.status(conn)]

    def status(self, conn: SimConnector) -> Outgoing:
        payload = call.StatusNotification(timestamp=now_iso(),
                                          connector_status=connector_status(conn),
                                          evse_id=conn.id, connector_id=1)
        return Outgoing(lambda: payload)

    def _event(self, conn: SimConnector, tx: Transaction, online: bool, event_type: str,
               trigger: str, charging_state: str, *, context: str = "",
               id_token: bool = False, stopped: str = "", must: bool = True) -> Outgoing:
        # Everything is captured now (the event's moment); only seq_no is given at send
        # time so a periodic sample dropped while offline leaves no gap.
        stamp = now_iso()
        info: dict[str, Any] = {"transaction_id": tx.id, "charging_state": charging_state,
                                "time_spent_charging": int(tx.charging_s)}
        if stopped:
            info["stopped_reason"] = stopped
        meter = None
        if context:
            sampled = [{"value": round(conn.meter_wh, 1), "context": context,
                        "measurand": "Energy.Active.Import.Register",
                        "unit_of_measure": {"unit": "Wh"}}]
            if context == "Sample.Periodic":
                sampled.append({"value": round(conn.power_w, 1), "context": context,
                                "measurand": "Power.Active.Import",
                                "unit_of_measure": {"unit": "W"}})
            meter = [{"timestamp": stamp, "sampled_value": sampled}]
        token = {"id_token": tx.id_tag, "type": "ISO14443"} if id_token else None

        def build() -> Any:
            seq, tx.seq_no = tx.seq_no, tx.seq_no + 1
            return call.TransactionEvent(
                event_type=event_type, timestamp=stamp, trigger_reason=trigger, seq_no=seq,
                transaction_info=info, meter_value=meter, offline=None if online else True,
                evse={"id": conn.id, "connector_id": 1}, id_token=token,
            )

        def answered(result: Any) -> None:
            status = (getattr(result, "id_token_info", None) or {}).get("status")
            if id_token and status not in (None, "Accepted"):
                tx.rejected = True

        return Outgoing(build, must_deliver=must, on_result=answered)


class ChargePoint201(ChargePoint):
    def __init__(self, charger_id: str, connection: Any, hooks: ChargerHooks,
                 response_timeout: float) -> None:
        super().__init__(charger_id, connection, response_timeout, logger=SIM_OCPP_LOG)
        self._hooks = hooks

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, **_: Any) -> Any:
        ok = requested_message in ("BootNotification", "Heartbeat", "StatusNotification")
        status = (TriggerMessageStatusEnumType.accepted if ok
                  else TriggerMessageStatusEnumType.not_implemented)
        return call_result.TriggerMessage(status=status)

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, evse: dict | None = None,
                              **_: Any) -> None:
        self._hooks.trigger(requested_message, (evse or {}).get("id"))

    @on(Action.reset)
    def on_reset(self, **_: Any) -> Any:
        ok = self._hooks.reset_allowed()
        status = ResetStatusEnumType.accepted if ok else ResetStatusEnumType.rejected
        return call_result.Reset(status=status)

    @after(Action.reset)
    def after_reset(self, **_: Any) -> None:
        if self._hooks.reset_allowed():
            self._hooks.request_reset()
