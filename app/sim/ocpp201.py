"""OCPP 2.0.1 side of the simulated charger.

2.0.1 StatusNotification only knows Available/Occupied/Reserved/Unavailable/Faulted, so
what the car does is told with TransactionEvent: Started at plug-in (or at a remote
start), Updated on authorisation, charging-state changes and meter samples, Ended when
the car unplugs (TxStopPoint EVConnected) or the session is stopped (Authorized).
Each connector of the site config is one EVSE with connector 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action

from app.domain.charging import ChargerIdentity
from app.domain.timeutil import parse_iso
from app.sim.connector import Happening, SimConnector, State, Transaction
from app.sim.profiles import profile_from_ocpp
from app.sim.protocol import (
    SIM_OCPP_LOG,
    Answer,
    ChargerHooks,
    FollowUps,
    Outgoing,
    after_handler,
    now_iso,
    readings,
)

_STOPPED_REASON = {"GroundFailure": "GroundFault", "OverCurrentFailure": "OvercurrentFault"}
# Why a transaction ended -> (triggerReason, chargingState, stoppedReason).
_ENDINGS = {
    "EVDisconnected": ("EVCommunicationLost", "Idle", "EVDisconnected"),
    "DeAuthorized": ("Deauthorized", "EVConnected", "DeAuthorized"),
    "Remote": ("RemoteStop", "EVConnected", "Remote"),
    "UnlockCommand": ("UnlockCommand", "Idle", "Other"),
}
_CHARGING_STATE = {State.PREPARING: "EVConnected", State.CHARGING: "Charging",
                   State.SUSPENDED_EV: "SuspendedEV", State.SUSPENDED_EVSE: "SuspendedEVSE"}
_LOG_WORDS = {"UploadFailed": "UploadFailure"}
_ENERGY = "Energy.Active.Import.Register"
REPORT_ITEMS_PER_MESSAGE = 20


def connector_status(conn: SimConnector) -> str:
    if conn.state in (State.AVAILABLE, State.UNAVAILABLE, State.FAULTED):
        return str(conn.state)
    return "Occupied"


class Messages201:
    subprotocol = "ocpp2.0.1"

    def __init__(self) -> None:
        self.measurands = [_ENERGY, "Power.Active.Import"]  # TxUpdatedMeasurands
        self.ended_measurands = [_ENERGY]  # TxEndedMeasurands

    def boot(self, identity: ChargerIdentity, reason: str) -> Any:
        station = {"model": identity.model[:20], "vendor_name": identity.vendor[:50]}
        if identity.serial:
            station["serial_number"] = identity.serial[:25]
        if identity.firmware:
            station["firmware_version"] = identity.firmware[:50]
        return call.BootNotification(charging_station=station, reason=reason)

    def heartbeat(self) -> Any:
        return call.Heartbeat()

    def resync(self, connectors: Iterable[SimConnector],
               station_operative: bool = True) -> list[Outgoing]:
        return [self.status(c) for c in connectors]

    def station_status(self, operative: bool) -> list[Outgoing]:
        return []  # told per connector

    def on_happening(self, conn: SimConnector, what: Happening, online: bool) -> list[Outgoing]:
        tx = conn.tx
        if what is Happening.PLUGGED and tx is not None:
            if tx.remote and not tx.authorize_first:  # the car "was already there"
                tx.token_reported = True
                return [self.status(conn),
                        self._event(conn, tx, online, "Started", "RemoteStart", "EVConnected",
                                    context="Transaction.Begin", id_token=True, remote=True)]
            return [self.status(conn),
                    self._event(conn, tx, online, "Started", "CablePluggedIn", "EVConnected",
                                context="Transaction.Begin")]
        if what is Happening.AUTHORIZING and tx is not None:
            return self._authorize(conn, tx, online)
        if what is Happening.AUTHORIZED and tx is not None:
            if tx.token_reported:
                return []
            tx.token_reported = True
            trigger = "RemoteStart" if tx.remote else "Authorized"
            return [self._event(conn, tx, online, "Updated", trigger, "EVConnected",
                                id_token=True, remote=tx.remote)]
        if what is Happening.CHARGING_STATE and tx is not None:
            return [self._event(conn, tx, online, "Updated", "ChargingStateChanged",
                                str(conn.state))]
        if what is Happening.METER and tx is not None:
            return [self._event(conn, tx, online, "Updated", "MeterValuePeriodic",
                                str(conn.state), context="Sample.Periodic", must=False)]
        if what is Happening.UNPLUGGED and tx is not None:
            trigger, state, stopped = _ENDINGS.get(
                tx.stop_reason, ("AbnormalCondition", "EVConnected", "Other"))
            return [self._event(conn, tx, online, "Ended", trigger, state,
                                context="Transaction.End", stopped=stopped)]
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

    def meter_now(self, conn: SimConnector) -> list[Outgoing]:
        sample = {"timestamp": now_iso(), "sampled_value": self._sampled(conn, "Trigger")}
        return [Outgoing(lambda: call.MeterValues(evse_id=conn.id, meter_value=[sample]))]

    def transaction_now(self, conn: SimConnector, online: bool) -> list[Outgoing]:
        tx = conn.tx
        if tx is None:
            return []
        return [self._event(conn, tx, online, "Updated", "Trigger",
                            _CHARGING_STATE.get(conn.state, "EVConnected"), context="Trigger")]

    def log_status(self, word: str, request_id: int | None) -> list[Outgoing]:
        status = _LOG_WORDS.get(word, word)
        return [Outgoing(lambda: call.LogStatusNotification(status=status,
                                                            request_id=request_id))]

    def firmware_status(self, word: str, request_id: int | None) -> list[Outgoing]:
        return [Outgoing(lambda: call.FirmwareStatusNotification(status=word,
                                                                 request_id=request_id),
                         must_deliver=True)]

    def notify_report(self, request_id: int, items: list[dict[str, Any]]) -> list[Outgoing]:
        """The report in parts of ItemsPerMessage, `tbc` on all but the last."""
        stamp = now_iso()
        size = REPORT_ITEMS_PER_MESSAGE
        parts = [items[i:i + size] for i in range(0, len(items), size)] or [[]]
        return [Outgoing(lambda seq=seq, part=part: call.NotifyReport(
                    request_id=request_id, generated_at=stamp, seq_no=seq,
                    report_data=part or None, tbc=seq < len(parts) - 1))
                for seq, part in enumerate(parts)]

    def _sampled(self, conn: SimConnector, context: str,
                 measurands: list[str] | None = None) -> list[dict[str, Any]]:
        values = readings(conn)
        return [{"value": round(values[m][0], 1), "context": context, "measurand": m,
                 "unit_of_measure": {"unit": values[m][1]}}
                for m in (self.measurands if measurands is None else measurands)
                if m in values]

    def _authorize(self, conn: SimConnector, tx: Transaction, online: bool) -> list[Outgoing]:
        """AuthorizeRemoteStart: is the remote start's idToken good?"""
        if not online:  # LocalAuthorizeOffline: the charger decides itself
            tx.verdict = True
            return []
        token = {"id_token": tx.id_tag, "type": tx.token_type}

        def answered(result: Any) -> None:
            tx.verdict = (result.id_token_info or {}).get("status") == "Accepted"
            conn.poke()

        return [Outgoing(lambda: call.Authorize(id_token=token), on_result=answered)]

    def _event(self, conn: SimConnector, tx: Transaction, online: bool, event_type: str,
               trigger: str, charging_state: str, *, context: str = "",
               id_token: bool = False, stopped: str = "", must: bool = True,
               remote: bool = False) -> Outgoing:
        # Everything is captured now (the event's moment); only seq_no is given at send
        # time so a periodic sample dropped while offline leaves no gap.
        stamp = now_iso()
        info: dict[str, Any] = {"transaction_id": tx.id, "charging_state": charging_state,
                                "time_spent_charging": int(tx.charging_s)}
        if stopped:
            info["stopped_reason"] = stopped
        if remote and tx.remote_start_id is not None:
            info["remote_start_id"] = tx.remote_start_id
        meter = None
        if context:
            if context == "Transaction.Begin":
                sampled = self._sampled(conn, context, [_ENERGY])
            elif context == "Transaction.End":
                sampled = self._sampled(conn, context, self.ended_measurands)
            else:
                sampled = self._sampled(conn, context)
            meter = [{"timestamp": stamp, "sampled_value": sampled}] if sampled else None
        token = {"id_token": tx.id_tag, "type": tx.token_type} if id_token else None

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



def _info(answer: Answer) -> dict[str, str] | None:
    return {"reason_code": answer.reason} if answer.reason else None


class ChargePoint201(FollowUps, ChargePoint):
    """Answers the central system's CALLs; the @on handler decides, the @after handler
    acts (see ChargePoint16)."""

    def __init__(self, charger_id: str, connection: Any, hooks: ChargerHooks,
                 response_timeout: float) -> None:
        super().__init__(charger_id, connection, response_timeout, logger=SIM_OCPP_LOG)
        self._hooks = hooks
        self._then: dict[str, Callable[[], None]] = {}

    # -- transactions -------------------------------------------------------------------

    @on(Action.request_start_transaction)
    def on_request_start_transaction(self, id_token: dict, remote_start_id: int,
                                     evse_id: int | None = None,
                                     charging_profile: dict | None = None,
                                     call_unique_id: str = "", **_: Any) -> Any:
        profile = None
        if charging_profile:
            profile = profile_from_ocpp(evse_id or 0, charging_profile, id_key="id")
            if profile.purpose != "TxProfile":
                return call_result.RequestStartTransaction(
                    status="Rejected", status_info={"reason_code": "InvalidProfile"})
        answer = self._hooks.remote_start(
            evse_id, str(id_token.get("id_token", "")),
            token_type=str(id_token.get("type", "Central")),
            remote_start_id=remote_start_id, profile=profile)
        return call_result.RequestStartTransaction(
            status=self.answer(call_unique_id, answer), transaction_id=answer.transaction_id,
            status_info=_info(answer))

    after_request_start_transaction = after_handler(Action.request_start_transaction)

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, call_unique_id: str = "",
                                    **_: Any) -> Any:
        answer = self._hooks.remote_stop(str(transaction_id))
        return call_result.RequestStopTransaction(status=self.answer(call_unique_id, answer),
                                                  status_info=_info(answer))

    after_request_stop_transaction = after_handler(Action.request_stop_transaction)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, evse_id: int, connector_id: int, call_unique_id: str = "",
                            **_: Any) -> Any:
        answer = (self._hooks.unlock(evse_id) if connector_id == 1
                  else Answer("UnknownConnector"))
        return call_result.UnlockConnector(status=self.answer(call_unique_id, answer),
                                           status_info=_info(answer))

    after_unlock_connector = after_handler(Action.unlock_connector)

    # -- availability and reset ---------------------------------------------------------

    @on(Action.reset)
    def on_reset(self, call_unique_id: str = "", **kw: Any) -> Any:
        if kw.get("evse_id"):
            answer = Answer("Rejected", reason="EVSEResetNotSupported")
        else:
            answer = self._hooks.reset(str(kw.get("type", "OnIdle")))
        return call_result.Reset(status=self.answer(call_unique_id, answer),
                                 status_info=_info(answer))

    after_reset = after_handler(Action.reset)

    @on(Action.change_availability)
    def on_change_availability(self, operational_status: str, evse: dict | None = None,
                               call_unique_id: str = "", **_: Any) -> Any:
        evse_id = (evse or {}).get("id")
        if evse and evse.get("connector_id") not in (None, 1):
            answer = Answer("Rejected", reason="UnknownConnector")
        else:
            answer = self._hooks.change_availability(evse_id,
                                                     operational_status == "Operative")
        return call_result.ChangeAvailability(status=self.answer(call_unique_id, answer),
                                              status_info=_info(answer))

    after_change_availability = after_handler(Action.change_availability)

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, evse: dict | None = None,
                           call_unique_id: str = "", **_: Any) -> Any:
        answer = self._hooks.trigger(requested_message, (evse or {}).get("id"))
        return call_result.TriggerMessage(status=self.answer(call_unique_id, answer),
                                          status_info=_info(answer))

    after_trigger_message = after_handler(Action.trigger_message)

    # -- device model ---------------------------------------------------------------------

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict], **_: Any) -> Any:
        return call_result.GetVariables(
            get_variable_result=[self._hooks.settings.get201(d) for d in get_variable_data])

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict], **_: Any) -> Any:
        return call_result.SetVariables(
            set_variable_result=[self._hooks.settings.set201(d) for d in set_variable_data])

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, call_unique_id: str = "",
                           **_: Any) -> Any:
        answer = self._hooks.base_report(request_id, report_base)
        return call_result.GetBaseReport(status=self.answer(call_unique_id, answer),
                                         status_info=_info(answer))

    after_get_base_report = after_handler(Action.get_base_report)

    # -- authorization ------------------------------------------------------------------

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> Any:
        answer = self._hooks.clear_cache()
        return call_result.ClearCache(status=answer.status, status_info=_info(answer))

    @on(Action.send_local_list)
    def on_send_local_list(self, version_number: int, update_type: str,
                           local_authorization_list: list[dict] | None = None,
                           **_: Any) -> Any:
        items = [(str((e.get("id_token") or {}).get("id_token", "")),
                  (e.get("id_token_info") or {}).get("status"))
                 for e in local_authorization_list or []]
        status = self._hooks.local_list.update(int(version_number), update_type == "Full",
                                               items)
        return call_result.SendLocalList(status=status)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> Any:
        return call_result.GetLocalListVersion(
            version_number=self._hooks.local_list.reported_version)

    # -- smart charging -----------------------------------------------------------------

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict,
                                call_unique_id: str = "", **_: Any) -> Any:
        answer = self._hooks.set_profile(profile_from_ocpp(evse_id, charging_profile, id_key="id"))
        return call_result.SetChargingProfile(status=self.answer(call_unique_id, answer),
                                              status_info=_info(answer))

    after_set_charging_profile = after_handler(Action.set_charging_profile)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, charging_profile_id: int | None = None,
                                  charging_profile_criteria: dict | None = None,
                                  call_unique_id: str = "", **_: Any) -> Any:
        criteria = charging_profile_criteria or {}
        answer = self._hooks.clear_profiles(
            profile_id=charging_profile_id, connector_id=criteria.get("evse_id"),
            purpose=criteria.get("charging_profile_purpose"),
            stack_level=criteria.get("stack_level"))
        return call_result.ClearChargingProfile(status=self.answer(call_unique_id, answer),
                                                status_info=_info(answer))

    after_clear_charging_profile = after_handler(Action.clear_charging_profile)

    # -- the rest -------------------------------------------------------------------------

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, message_id: str | None = None,
                         data: Any = None, **_: Any) -> Any:
        answer = self._hooks.data_transfer(vendor_id, message_id,
                                           None if data is None else str(data))
        return call_result.DataTransfer(status=answer.status, status_info=_info(answer))

    @on(Action.get_log)
    def on_get_log(self, log: dict, log_type: str, request_id: int, call_unique_id: str = "",
                   **_: Any) -> Any:
        answer = self._hooks.get_log(str(log.get("remote_location", "")), request_id)
        return call_result.GetLog(status=self.answer(call_unique_id, answer),
                                  filename=answer.file_name, status_info=_info(answer))

    after_get_log = after_handler(Action.get_log)

    @on(Action.update_firmware)
    def on_update_firmware(self, request_id: int, firmware: dict, call_unique_id: str = "",
                           **_: Any) -> Any:
        answer = self._hooks.update_firmware(str(firmware.get("location", "")),
                                             parse_iso(firmware.get("retrieve_date_time")),
                                             request_id)
        return call_result.UpdateFirmware(status=self.answer(call_unique_id, answer),
                                          status_info=_info(answer))

    after_update_firmware = after_handler(Action.update_firmware)
