"""The embedded OCPP-J server: one websockets server, one supervisor per connection."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import Callable
from http import HTTPStatus

import ocpp.messages
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from app.adapters.ocpp.handshake import charger_id_from_path, pick_subprotocol, version_of
from app.adapters.ocpp.robust import FrameSink, FrameTap
from app.adapters.ocpp.v16 import CentralSystem16
from app.adapters.ocpp.v201 import CentralSystem201
from app.domain.site import OcppVersion
from app.services.charging import ChargingService
from app.services.transactions import TransactionService

log = logging.getLogger(__name__)
# The ocpp library logs every frame at INFO on its own logger; frames go to the
# raw-frame log instead, so keep the library quiet unless asked.
logging.getLogger("ocpp").setLevel(logging.WARNING)
# The library validates every frame on a thread pool; the hand-offs cost more than the
# sub-millisecond validation itself (tests/bench: p99 44 -> ~21 ms at 2,000 chargers).
ocpp.messages.ASYNC_VALIDATION = False


class OcppServer:
    def __init__(
        self,
        charging: ChargingService,
        transactions: TransactionService,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None = None,
        frame_sink: FrameSink | None = None,
        configured_version: Callable[[str], OcppVersion | None] = lambda _id: None,
        default_version: OcppVersion = OcppVersion.V16,
        response_timeout: float = 30,
        # Some chargers drop a link that is idle for ~110 s; ping well inside that.
        ping_interval: float = 30,
        ping_timeout: float = 30,
    ) -> None:
        self._charging = charging
        self._transactions = transactions
        self._ssl = ssl_context
        self._frame_sink = frame_sink
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
            process_request=self._check_request,
            ssl=self._ssl,
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
        scheme = "wss" if self._ssl is not None else "ws"
        return f"{scheme}://{host}:{self.port}/ocpp/"

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

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse before the upgrade: no id, unknown id under the reject policy, bad login.

        The answers say nothing about which part was wrong beyond what the charger needs.
        """
        charger_id = charger_id_from_path(request.path)
        remote = _remote(connection)
        if charger_id is None:
            log.warning("refused OCPP connection from %s with no charger id in path %r",
                        remote, request.path)
            return connection.respond(HTTPStatus.NOT_FOUND, "No charge point id in the URL\n")
        if not self._charging.admits(charger_id):
            log.warning("refused unknown charger %s from %s (policy: reject)", charger_id,
                        remote, extra={"event": "charger_refused", "charger_id": charger_id})
            return connection.respond(HTTPStatus.NOT_FOUND, "Unknown charge point\n")
        if self._charging.password_required(charger_id):
            password = _basic_password(request.headers.get("Authorization"), charger_id)
            if not self._charging.check_password(charger_id, password, remote):
                response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
                response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
                return response
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
            charger_id, FrameTap(connection, charger_id, self._frame_sink), self._charging,
            self._transactions, lenient=self._charging.is_lenient(charger_id),
            response_timeout=self._response_timeout,
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


def _basic_password(header: str | None, charger_id: str) -> str | None:
    """The password of an HTTP Basic header whose user is the charger id (OCPP 1.6 sec.)."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return password if user == charger_id else None


def _remote(connection: ServerConnection) -> str:
    addr = connection.remote_address
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
