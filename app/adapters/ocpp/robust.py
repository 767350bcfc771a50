"""What both handler classes share: frame capture, malformed frames, schema leniency.

The ocpp library logs a bad frame at ERROR and a refused CALL with a traceback; a charger
sending garbage is a charger problem, not ours, so here it is a WARNING with the reason,
the proper CALLERROR goes back, and the connection carries on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ocpp.exceptions import FormatViolationError, InternalError, OCPPError, ProtocolError
from ocpp.messages import Call, CallError, MessageType, unpack
from websockets.exceptions import ConnectionClosed

from app.adapters.ocpp.lenient import relax, request_schema
from app.domain.frames import Direction
from app.domain.site import OcppVersion

log = logging.getLogger("app.adapters.ocpp")

FrameSink = Callable[[str, Direction, str], None]


class FrameTap:
    """Wraps a websocket connection so every frame is seen by the frame log."""

    def __init__(self, connection: Any, charger_id: str, sink: FrameSink | None) -> None:
        self._conn = connection
        self._id = charger_id
        self._sink = sink

    async def recv(self) -> str:
        raw = await self._conn.recv()
        if isinstance(raw, bytes):  # a binary frame is not OCPP-J; let unpack refuse it
            raw = raw.decode("utf-8", "replace")
        if self._sink is not None:
            self._sink(self._id, Direction.IN, raw)
        return raw

    async def send(self, message: str) -> None:
        if self._sink is not None:
            self._sink(self._id, Direction.OUT, message)
        await self._conn.send(message)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _unique_id(raw: str) -> str | None:
    """The message id of a frame we cannot use, so the CALLERROR can name it."""
    try:
        doc = json.loads(raw)
    except (ValueError, TypeError):
        return None
    if isinstance(doc, list) and len(doc) >= 2 and doc[0] == 2 and isinstance(doc[1], str):
        return doc[1]
    return None


class RobustMixin:
    """Mixed into CentralSystem16 / CentralSystem201 (ocpp ChargePoint subclasses)."""

    version: OcppVersion
    lenient: bool = False

    async def route_message(self, raw_msg: str) -> None:
        try:
            msg = unpack(raw_msg)
        except OCPPError as exc:
            await self._bad_frame(raw_msg, exc)
            return
        if msg.message_type_id != MessageType.Call:
            if msg.message_type_id in (MessageType.CallResult, MessageType.CallError):
                self._response_queue.put_nowait(msg)
            return
        if not (isinstance(msg.unique_id, str) and isinstance(msg.action, str)
                and isinstance(msg.payload, dict)):
            # e.g. [2, 0, {}, 0]: the library would fail on it and drop the link.
            await self._bad_frame(raw_msg, ProtocolError(
                description="a CALL needs a string id, a string action and an object payload"))
            return
        if self.lenient:
            self._relax(msg)
        try:
            await self._handle_call(msg)
        except OCPPError as error:
            log.warning("%s: refused %s: %s %s", self.id, msg.action, error.code,
                        error.description, extra={"event": "ocpp_call_refused",
                                                  "charger_id": self.id, "code": error.code})
            await self._send(msg.create_call_error(error).to_json())
        except ConnectionClosed:
            raise  # the link went while we answered: the supervisor handles that
        except Exception as exc:
            # Our bug, not the charger's: log it loudly, answer, keep the connection.
            log.exception("%s: internal error handling %s", self.id, msg.action)
            error = InternalError(description=type(exc).__name__)
            await self._send(msg.create_call_error(error).to_json())

    async def _bad_frame(self, raw: str, exc: OCPPError) -> None:
        unique_id = _unique_id(raw)
        log.warning("%s: malformed frame (%s): %.200s", self.id, exc.description or exc.code,
                    raw, extra={"event": "ocpp_bad_frame", "charger_id": self.id})
        if unique_id is None:
            return  # no id to answer to: the spec says ignore
        code_error = exc
        if isinstance(exc, ProtocolError | FormatViolationError) and \
                self.version is OcppVersion.V16:
            code_error = _formation_violation(exc)
        error = CallError(unique_id, code_error.code, code_error.description or "",
                          code_error.details or {})
        await self._send(error.to_json())

    def _relax(self, msg: Call) -> None:
        schema = request_schema(self.version, msg.action)
        if schema is None:
            return
        fixed, notes = relax(msg.payload, schema)
        if notes:
            msg.payload = fixed
            log.warning("%s: accepted %s with deviations: %s", self.id, msg.action,
                        "; ".join(notes[:5]),
                        extra={"event": "ocpp_lenient", "charger_id": self.id})


def _formation_violation(exc: OCPPError) -> OCPPError:
    from ocpp.exceptions import FormationViolationError

    return FormationViolationError(description=exc.description, details=exc.details)
