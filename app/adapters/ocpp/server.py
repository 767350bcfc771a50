"""The embedded OCPP-J server: one websockets server, one supervisor per connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from app.adapters.ocpp.handshake import charger_id_from_path, pick_subprotocol, version_of
from app.adapters.ocpp.v16 import CentralSystem16
from app.adapters.ocpp.v201 import CentralSystem201
from app.domain.site import OcppVersion
from app.services.charging import ChargingService

log = logging.getLogger(__name__)
# The ocpp library logs every frame at INFO on its own logger; frames go to the
# raw-frame log instead, so keep the library quiet unless asked.
logging.getLogger("ocpp").setLevel(logging.WARNING)


class OcppServer:
    def __init__(
        self,
        charging: ChargingService,
        host: str,
        port: int,
        *,
        configured_version: Callable[[str], OcppVersion | None] = lambda _id: None,
        default_version: OcppVersion = OcppVersion.V16,
        response_timeout: float = 30,
        # Some chargers drop a link that is idle for ~110 s; ping well inside that.
        ping_interval: float = 30,
        ping_timeout: float = 30,
    ) -> None:
        self._charging = charging
        self._host = host
        self._port = port
        self._configured_version = configured_version
        self._default_version = default_version
        self._response_timeout = response_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._server: Server | None = None
        self._sessions: dict[str, tuple[ServerConnection, object]] = {}

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        self._server = await serve(
            self._supervise,
            self._host,
            self._port,
            subprotocols=[v.subprotocol for v in OcppVersion],
            select_subprotocol=self._select_subprotocol,
            process_request=self._check_path,
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            # OCPP frames are small; a GetReport answer may not be. Bound it anyway.
            max_size=4 * 1024 * 1024,
            logger=logging.getLogger("gatehouse.ocpp.ws"),
        )
        log.info(
            "OCPP server listening on %s", self.url,
            extra={"event": "ocpp_listening", "url": self.url},
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._server = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        sock = next(iter(self._server.sockets))
        return sock.getsockname()[1]

    @property
    def url(self) -> str:
        host = self._host
        if host in {"0.0.0.0", "::", ""}:
            host = "<this-pc>"
        return f"ws://{host}:{self.port}/ocpp/"

    def connected_ids(self) -> list[str]:
        return sorted(self._sessions)

    def session(self, charger_id: str):
        """The live handler (CentralSystem16 / CentralSystem201) of a charger, or None."""
        entry = self._sessions.get(charger_id)
        return entry[1] if entry is not None else None

    # -- handshake -------------------------------------------------------------

    @staticmethod
    def _select_subprotocol(connection: ServerConnection, offered) -> str | None:
        return pick_subprotocol(list(offered))

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if charger_id_from_path(request.path) is None:
            log.warning("refused OCPP connection with no charger id in path %r", request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, "No charge point id in the URL\n")
        return None

    # -- one supervisor per connection -------------------------------------------

    async def _supervise(self, connection: ServerConnection) -> None:
        charger_id = charger_id_from_path(connection.request.path)
        assert charger_id is not None  # _check_path refused the others
        version = (
            version_of(connection.subprotocol)
            or self._configured_version(charger_id)
            or self._default_version
        )
        remote = _remote(connection)
        handler_cls = CentralSystem16 if version is OcppVersion.V16 else CentralSystem201
        cp = handler_cls(
            charger_id, connection, self._charging, response_timeout=self._response_timeout,
            logger=logging.getLogger("gatehouse.ocpp.frames"),
        )
        old = self._sessions.get(charger_id)
        self._sessions[charger_id] = (connection, cp)
        if old is not None:
            # A charger that reconnects while we still hold its old link: the new one wins.
            log.info("%s reconnected; closing its previous connection", charger_id)
            await old[0].close(code=1000, reason="replaced by a new connection")
        log.info(
            "charger %s connected (OCPP %s) from %s", charger_id, version, remote,
            extra={"event": "charger_connected", "charger_id": charger_id,
                   "ocpp_version": str(version), "remote": remote},
        )
        self._charging.connected(charger_id, version, remote)
        reason = "closed"
        try:
            await cp.start()
        except ConnectionClosed as exc:
            reason = f"connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
        except asyncio.CancelledError:
            reason = "server stopping"
            raise
        except Exception:
            reason = "handler error"
            log.exception("connection of %s failed", charger_id)
        finally:
            # Only the newest connection of an id may mark the charger offline.
            current = self._sessions.get(charger_id)
            if current is not None and current[0] is connection:
                del self._sessions[charger_id]
                self._charging.disconnected(charger_id, reason)
                log.info(
                    "charger %s disconnected: %s", charger_id, reason,
                    extra={"event": "charger_disconnected", "charger_id": charger_id,
                           "reason": reason},
                )
            with contextlib.suppress(Exception):
                await connection.close()


def _remote(connection: ServerConnection) -> str:
    addr = connection.remote_address
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
