"""OCPP 1.6 side of the simulated charger: the CALLs it sends and the ones it answers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from app.domain.charging import ChargerIdentity
from app.domain.timeutil import parse_iso
from app.sim.connector import Happening, SimConnector, Transaction
from app.sim.profiles import profile_from_ocpp
from app.sim.protocol import (
    SIM_OCPP_LOG,
    ChargerHooks,
    FollowUps,
    Outgoing,
    after_handler,
    now_iso,
    readings,
)

_V16_REASONS = {"EmergencyStop", "EVDisconnected", "HardReset", "Local", "Other", "PowerLoss",
                "Reboot", "Remote", "SoftReset", "UnlockCommand", "DeAuthorized"}
_FIRMWARE_WORDS = {"Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed",
                   "Installing", "Installed"}
_ENERGY = "Energy.Active.Import.Register"


class Messages16:
    subprotocol = "ocpp1.6"

    def __init__(self, *, transactions: bool = True) -> None:
        # StartTransaction / MeterValues / StopTransaction for every session.
        self.transactions = transactions
        self.measurands = [_ENERGY, "Power.Active.Import"]  # MeterValuesSampledData
        self.ended_measurands = [_ENERGY]  # StopTxnSampledData

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

    def resync(self, connectors: Iterable[SimConnector],
               station_operative: bool = True) -> list[Outgoing]:
        return self.station_status(station_operative) + [self.status(c) for c in connectors]

    def station_status(self, operative: bool) -> list[Outgoing]:
        word = "Available" if operative else "Unavailable"
        return [Outgoing(lambda: _status(0, word, "NoError"))]

    def on_happening(self, conn: SimConnector, what: Happening, online: bool) -> list[Outgoing]:
        tx = conn.tx
        if what is Happening.AUTHORIZING:
            return self._authorize(conn, tx, online) if tx is not None else []
        if what is Happening.AUTHORIZED:
            return self._start(conn, tx) if self.transactions and tx is not None else []
        if what is Happening.METER:
            if self.transactions and tx is not None:
                return [self._meter(conn, tx, "Sample.Periodic")]
            return []
        if what in (Happening.UNPLUGGED, Happening.FAULTED) and self.transactions and tx:
            status, stop = self.status(conn), self._stop(conn, tx)
            # A fault is reported before the transaction ends; an unplug ends it first.
            return [status, stop] if what is Happening.FAULTED else [stop, status]
        return [self.status(conn)]

    def status(self, conn: SimConnector) -> Outgoing:
        payload = _status(conn.id, str(conn.state), conn.error_code)
        return Outgoing(lambda: payload)

    def meter_now(self, conn: SimConnector) -> list[Outgoing]:
        return [self._meter(conn, conn.tx, "Trigger")]

    def transaction_now(self, conn: SimConnector, online: bool) -> list[Outgoing]:
        return []

    def log_status(self, word: str, request_id: int | None) -> list[Outgoing]:
        return [Outgoing(lambda: call.DiagnosticsStatusNotification(status=word))]

    def firmware_status(self, word: str, request_id: int | None) -> list[Outgoing]:
        if word not in _FIRMWARE_WORDS:  # 2.0.1-only steps (InstallRebooting, ...)
            return []
        return [Outgoing(lambda: call.FirmwareStatusNotification(status=word),
                         must_deliver=True)]

    def notify_report(self, request_id: int, items: list[dict[str, Any]]) -> list[Outgoing]:
        return []

    def _start(self, conn: SimConnector, tx: Transaction) -> list[Outgoing]:
        stamp, wh = now_iso(), conn.meter_wh
        tx.begin = (stamp, wh)
        payload = call.StartTransaction(
            connector_id=conn.id, id_tag=tx.id_tag[:20], meter_start=int(wh), timestamp=stamp,
        )

        def accepted(result: Any) -> None:
            tx.remote_id = result.transaction_id
            if (result.id_tag_info or {}).get("status") != "Accepted":
                tx.rejected = True

        return [Outgoing(lambda: payload, must_deliver=True, on_result=accepted)]

    def _authorize(self, conn: SimConnector, tx: Transaction, online: bool) -> list[Outgoing]:
        """AuthorizeRemoteTxRequests: is the remote start's idTag good?"""
        if not online:  # LocalAuthorizeOffline: the charger decides itself
            tx.verdict = True
            return []

        def answered(result: Any) -> None:
            tx.verdict = (result.id_tag_info or {}).get("status") == "Accepted"
            conn.poke()

        request = call.Authorize(id_tag=tx.id_tag[:20])
        return [Outgoing(lambda: request, on_result=answered)]

    def _meter(self, conn: SimConnector, tx: Transaction | None, context: str) -> Outgoing:
        sample = {"timestamp": now_iso(),
                  "sampled_value": _sampled(conn, self.measurands, context)}
        return Outgoing(lambda: call.MeterValues(
            connector_id=conn.id,
            transaction_id=tx.remote_id if tx is not None else None,
            meter_value=[sample],
        ))

    def _stop(self, conn: SimConnector, tx: Transaction) -> Outgoing:
        stamp, wh = now_iso(), int(conn.meter_wh)
        reason = tx.stop_reason if tx.stop_reason in _V16_REASONS else "Other"
        data = []
        if tx.begin is not None:
            data.append({"timestamp": tx.begin[0], "sampled_value": [
                {"value": f"{tx.begin[1]:.0f}", "context": "Transaction.Begin",
                 "measurand": _ENERGY, "unit": "Wh"}]})
        data.append({"timestamp": stamp,
                     "sampled_value": _sampled(conn, self.ended_measurands, "Transaction.End")})

        def build() -> Any:
            if tx.remote_id is None:  # StartTransaction never got through
                return None
            return call.StopTransaction(meter_stop=wh, timestamp=stamp,
                                        transaction_id=tx.remote_id, reason=reason,
                                        id_tag=tx.id_tag[:20], transaction_data=data)

        return Outgoing(build, must_deliver=True)


def _sampled(conn: SimConnector, measurands: list[str], context: str) -> list[dict[str, Any]]:
    values = readings(conn)
    return [{"value": _text(values[m][0], values[m][1]), "context": context, "measurand": m,
             "unit": values[m][1]} for m in measurands if m in values]


def _text(value: float, unit: str) -> str:
    return f"{value:.1f}" if unit in ("A", "V") else f"{value:.0f}"


def _status(connector_id: int, status: str, error_code: str) -> Any:
    return call.StatusNotification(
        connector_id=connector_id, status=status, error_code=error_code, timestamp=now_iso()
    )



class ChargePoint16(FollowUps, ChargePoint):
    """Answers the central system's CALLs like a Core + FirmwareManagement +
    LocalAuthListManagement + SmartCharging + RemoteTrigger charge point.

    Each @on handler only decides; what follows (a session starting, notifications) runs
    in the @after handler, after the answer went out: awaiting a CALL inside a handler
    would deadlock, and a real charger answers before it acts.
    """

    def __init__(self, charger_id: str, connection: Any, hooks: ChargerHooks,
                 response_timeout: float) -> None:
        super().__init__(charger_id, connection, response_timeout, logger=SIM_OCPP_LOG)
        self._hooks = hooks
        self._then: dict[str, Callable[[], None]] = {}

    # -- Core ---------------------------------------------------------------------------

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(self, id_tag: str, connector_id: int | None = None,
                                    charging_profile: dict | None = None,
                                    call_unique_id: str = "", **_: Any) -> Any:
        profile = None
        if charging_profile:
            profile = profile_from_ocpp(connector_id or 0, charging_profile,
                                        id_key="charging_profile_id")
            if profile.purpose != "TxProfile":
                return call_result.RemoteStartTransaction(status="Rejected")
        answer = self._hooks.remote_start(connector_id, id_tag, token_type="ISO14443",
                                          remote_start_id=None, profile=profile)
        return call_result.RemoteStartTransaction(status=self.answer(call_unique_id, answer))

    after_remote_start_transaction = after_handler(Action.remote_start_transaction)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, call_unique_id: str = "",
                                   **_: Any) -> Any:
        answer = self._hooks.remote_stop(str(transaction_id))
        return call_result.RemoteStopTransaction(status=self.answer(call_unique_id, answer))

    after_remote_stop_transaction = after_handler(Action.remote_stop_transaction)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, call_unique_id: str = "",
                            **_: Any) -> Any:
        answer = self._hooks.unlock(connector_id)
        return call_result.UnlockConnector(status=self.answer(call_unique_id, answer))

    after_unlock_connector = after_handler(Action.unlock_connector)

    @on(Action.reset)
    def on_reset(self, call_unique_id: str = "", **kw: Any) -> Any:
        answer = self._hooks.reset(str(kw.get("type", "Soft")))
        return call_result.Reset(status=self.answer(call_unique_id, answer))

    after_reset = after_handler(Action.reset)

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, call_unique_id: str = "",
                               **kw: Any) -> Any:
        answer = self._hooks.change_availability(connector_id, kw.get("type") == "Operative")
        return call_result.ChangeAvailability(status=self.answer(call_unique_id, answer))

    after_change_availability = after_handler(Action.change_availability)

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        items, unknown = self._hooks.settings.get16(key)
        return call_result.GetConfiguration(configuration_key=items or None,
                                            unknown_key=unknown or None)

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        return call_result.ChangeConfiguration(status=self._hooks.settings.change16(key, value))

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> Any:
        return call_result.ClearCache(status=self._hooks.clear_cache().status)

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, message_id: str | None = None,
                         data: str | None = None, **_: Any) -> Any:
        answer = self._hooks.data_transfer(vendor_id, message_id, data)
        return call_result.DataTransfer(status=answer.status)

    # -- RemoteTrigger ------------------------------------------------------------------

    @on(Action.trigger_message)
    def on_trigger_message(self, requested_message: str, connector_id: int | None = None,
                           call_unique_id: str = "", **_: Any) -> Any:
        answer = self._hooks.trigger(requested_message, connector_id)
        return call_result.TriggerMessage(status=self.answer(call_unique_id, answer))

    after_trigger_message = after_handler(Action.trigger_message)

    # -- LocalAuthListManagement --------------------------------------------------------

    @on(Action.send_local_list)
    def on_send_local_list(self, list_version: int, update_type: str,
                           local_authorization_list: list[dict] | None = None,
                           **_: Any) -> Any:
        items = [(str(e["id_tag"]), (e.get("id_tag_info") or {}).get("status"))
                 for e in local_authorization_list or []]
        status = self._hooks.local_list.update(int(list_version), update_type == "Full", items)
        return call_result.SendLocalList(status=status)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> Any:
        return call_result.GetLocalListVersion(
            list_version=self._hooks.local_list.reported_version)

    # -- SmartCharging ------------------------------------------------------------------

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict,
                                call_unique_id: str = "", **_: Any) -> Any:
        profile = profile_from_ocpp(connector_id, cs_charging_profiles,
                                    id_key="charging_profile_id")
        answer = self._hooks.set_profile(profile)
        return call_result.SetChargingProfile(status=self.answer(call_unique_id, answer))

    after_set_charging_profile = after_handler(Action.set_charging_profile)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, call_unique_id: str = "", **kw: Any) -> Any:
        answer = self._hooks.clear_profiles(
            profile_id=kw.get("id"), connector_id=kw.get("connector_id"),
            purpose=kw.get("charging_profile_purpose"), stack_level=kw.get("stack_level"))
        return call_result.ClearChargingProfile(status=self.answer(call_unique_id, answer))

    after_clear_charging_profile = after_handler(Action.clear_charging_profile)

    # -- FirmwareManagement ---------------------------------------------------------------

    @on(Action.get_diagnostics)
    def on_get_diagnostics(self, location: str, call_unique_id: str = "", **_: Any) -> Any:
        answer = self._hooks.get_log(location, None)
        self.answer(call_unique_id, answer)
        return call_result.GetDiagnostics(file_name=answer.file_name)

    after_get_diagnostics = after_handler(Action.get_diagnostics)

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, call_unique_id: str = "",
                           **_: Any) -> Any:
        answer = self._hooks.update_firmware(location, parse_iso(retrieve_date), None)
        self.answer(call_unique_id, answer)
        return call_result.UpdateFirmware()

    after_update_firmware = after_handler(Action.update_firmware)
