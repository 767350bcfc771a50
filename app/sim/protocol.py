"""What the 1.6 and 2.0.1 message builders share with the simulated charger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from ocpp.routing import after

from app.domain.charging import ChargerIdentity
from app.sim.config import SettingStore
from app.sim.connector import Happening, SimConnector
from app.sim.local_list import LocalList
from app.sim.profiles import VOLTS, Profile


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def readings(conn: SimConnector) -> dict[str, tuple[float, str]]:
    """What the charger's meter shows now: measurand -> (value, unit). Three phases."""
    offered = conn.offered_w()
    return {
        "Energy.Active.Import.Register": (conn.meter_wh, "Wh"),
        "Power.Active.Import": (conn.power_w, "W"),
        "Current.Import": (conn.power_w / (3 * VOLTS), "A"),
        "Voltage": (VOLTS, "V"),
        "Current.Offered": (offered / (3 * VOLTS), "A"),
        "Power.Offered": (offered, "W"),
    }


@dataclass(slots=True)
class Outgoing:
    """One CALL waiting to be sent.

    `build` runs at send time so it can use what earlier answers taught us (the 1.6
    transactionId). It may return None: nothing to send after all.
    """

    build: Callable[[], Any]
    # Transaction messages survive a lost link (OCPP asks chargers to queue them);
    # statuses are not queued because every new connection resends them.
    must_deliver: bool = False
    on_result: Callable[[Any], None] | None = None
    _built: bool = field(default=False, init=False)
    _payload: Any = field(default=None, init=False)

    def payload(self) -> Any:
        """Built once, so a resend after a lost link repeats the same message."""
        if not self._built:
            self._payload, self._built = self.build(), True
        return self._payload


@dataclass(slots=True)
class Answer:
    """A charger's answer to a central-system CALL, and what it then does.

    `then` runs after the answer has been sent (the ocpp library's @after), so every
    message it causes follows the CALLRESULT, as on a real charger.
    """

    status: str
    then: Callable[[], None] | None = None
    reason: str | None = None  # 2.0.1 statusInfo.reasonCode
    transaction_id: str | None = None  # 2.0.1 RequestStartTransaction: already started
    file_name: str | None = None  # GetDiagnostics / GetLog


class Messages(Protocol):
    """Turns what happens at the connectors into CALLs for one OCPP version."""

    subprotocol: str
    measurands: list[str]  # MeterValuesSampledData / TxUpdatedMeasurands
    ended_measurands: list[str]  # StopTxnSampledData / TxEndedMeasurands

    def boot(self, identity: ChargerIdentity, reason: str) -> Any: ...

    def heartbeat(self) -> Any: ...

    def resync(self, connectors: Iterable[SimConnector],
               station_operative: bool = True) -> list[Outgoing]: ...

    def status(self, conn: SimConnector) -> Outgoing: ...

    def station_status(self, operative: bool) -> list[Outgoing]: ...

    def on_happening(self, conn: SimConnector, what: Happening, online: bool) -> list[Outgoing]: ...

    def meter_now(self, conn: SimConnector) -> list[Outgoing]: ...

    def transaction_now(self, conn: SimConnector, online: bool) -> list[Outgoing]: ...

    def log_status(self, word: str, request_id: int | None) -> list[Outgoing]: ...

    def firmware_status(self, word: str, request_id: int | None) -> list[Outgoing]: ...

    def notify_report(self, request_id: int, items: list[dict[str, Any]]) -> list[Outgoing]: ...


class ChargerHooks(Protocol):
    """What the charge point's handlers for central-system CALLs may ask of the charger.

    Each method decides the answer at once and returns what to do after it was sent;
    the settings and the local list are plain state the handlers read and change.
    """

    settings: SettingStore
    local_list: LocalList

    def trigger(self, what: str, connector_id: int | None) -> Answer: ...

    def reset(self, kind: str) -> Answer: ...

    def remote_start(self, connector_id: int | None, id_tag: str, *, token_type: str,
                     remote_start_id: int | None, profile: Profile | None) -> Answer: ...

    def remote_stop(self, transaction_id: str) -> Answer: ...

    def unlock(self, connector_id: int) -> Answer: ...

    def change_availability(self, connector_id: int | None, operative: bool) -> Answer: ...

    def clear_cache(self) -> Answer: ...

    def set_profile(self, profile: Profile) -> Answer: ...

    def clear_profiles(self, *, profile_id: int | None, connector_id: int | None,
                       purpose: str | None, stack_level: int | None) -> Answer: ...

    def data_transfer(self, vendor_id: str, message_id: str | None,
                      data: str | None) -> Answer: ...

    def get_log(self, location: str, request_id: int | None) -> Answer: ...

    def update_firmware(self, location: str, retrieve_at: datetime | None,
                        request_id: int | None) -> Answer: ...

    def base_report(self, request_id: int, base: str) -> Answer: ...


class FollowUps:
    """For the charge points: an @on handler decides and leaves what follows its answer
    here; the @after handler (`after_handler`) runs it once the answer was sent. Awaiting
    a CALL inside a handler would deadlock, and a real charger answers before it acts."""

    _then: dict[str, Callable[[], None]]

    def answer(self, call_unique_id: str, answer: Answer) -> str:
        if answer.then is not None:
            self._then[call_unique_id] = answer.then
        return answer.status

    def follow_up(self, call_unique_id: str) -> None:
        action = self._then.pop(call_unique_id, None)
        if action is None:
            return
        try:
            action()
        except Exception:  # a bug of the sim: say so, keep the link
            logging.getLogger("app.sim.charger").exception(
                "follow-up of %s failed", call_unique_id)


def after_handler(action: Any) -> Callable[..., None]:
    """The @after handler of `action` for a FollowUps charge point."""

    def handler(self: FollowUps, call_unique_id: str = "", **_: Any) -> None:
        self.follow_up(call_unique_id)

    handler.__name__ = f"after_{action.name}"  # the ocpp library routes by function name
    return after(action)(handler)


class QuietOcppLog(logging.LoggerAdapter):
    """The ocpp library logs every frame at INFO and a refused CALL at ERROR.

    For a simulated device that is noise in the console's log: frames go to DEBUG and
    the library's complaints to DEBUG/WARNING (the charger logs its own warning).
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level <= logging.WARNING else logging.WARNING,
                    msg, *args, **kwargs)


SIM_OCPP_LOG = QuietOcppLog(logging.getLogger("app.sim.ocpp"), {})
