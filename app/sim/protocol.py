"""What the 1.6 and 2.0.1 message builders share with the simulated charger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from app.domain.charging import ChargerIdentity
from app.sim.connector import Happening, SimConnector


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


class Messages(Protocol):
    """Turns what happens at the connectors into CALLs for one OCPP version."""

    subprotocol: str

    def boot(self, identity: ChargerIdentity, reason: str) -> Any: ...

    def heartbeat(self) -> Any: ...

    def resync(self, connectors: Iterable[SimConnector]) -> list[Outgoing]: ...

    def status(self, conn: SimConnector) -> Outgoing: ...

    def on_happening(self, conn: SimConnector, what: Happening, online: bool) -> list[Outgoing]: ...


class ChargerHooks(Protocol):
    """What the charge point's handlers for central-system CALLs may ask of the charger."""

    def trigger(self, what: str, connector_id: int | None) -> bool: ...

    def reset_allowed(self) -> bool: ...

    def request_reset(self) -> None: ...


class QuietOcppLog(logging.LoggerAdapter):
    """The ocpp library logs every frame at INFO and a refused CALL at ERROR.

    For a simulated device that is noise in the console's log: frames go to DEBUG and
    the library's complaints to DEBUG/WARNING (the charger logs its own warning).
    """

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG if level <= logging.WARNING else logging.WARNING,
                    msg, *args, **kwargs)


SIM_OCPP_LOG = QuietOcppLog(logging.getLogger("app.sim.ocpp"), {})
