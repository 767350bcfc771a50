"""Console -> charger commands: the ChargerGateway port over OCPP-J 1.6 and 2.0.1.

`OcppGateway` finds the live handler of a charger through `OcppServer.session()` and sends
one CALL at a time. The version-specific requests and the reading of their answers live
in `gateway16.Commands16` and `gateway201.Commands201`; this module owns what both share:
the per-charger queue, the timeout, the watch on the connection, the read-back of
configuration changes and the mapping of every outcome onto a `CommandResult`.

Call the gateway from the UI, the CLI or a service task, NEVER from inside an `@on`
handler: the ocpp library reads the charger's answer on the same task that runs the
handlers, so a handler awaiting a command waits for an answer it is itself blocking, until
the timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from ocpp.charge_point import remove_nones, serialize_as_dict, snake_to_camel_case
from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError
from ocpp.messages import Call, validate_payload
from websockets.exceptions import ConnectionClosed

from app.adapters.ocpp.gateway16 import Commands16
from app.adapters.ocpp.gateway201 import Commands201
from app.domain.commands import CommandResult, CommandStatus
from app.domain.timeutil import utc_now

log = logging.getLogger(__name__)

# -- the charger's words -> CommandStatus -------------------------------------------------

_WORDS: dict[str, CommandStatus] = {
    **dict.fromkeys(("accepted", "unlocked", "acceptedcanceled"), CommandStatus.ACCEPTED),
    **dict.fromkeys(
        ("rejected", "unlockfailed", "ongoingauthorizedtransaction", "unknownconnector",
         "failed", "versionmismatch", "unknown", "emptyresultset", "invalidcertificate",
         "revokedcertificate"),
        CommandStatus.REJECTED),
    **dict.fromkeys(("rebootrequired", "scheduled"), CommandStatus.PENDING),
    **dict.fromkeys(
        ("notsupported", "notimplemented", "unknownvendorid", "unknownmessageid",
         "unknowncomponent", "unknownvariable", "notsupportedattributetype"),
        CommandStatus.NOT_SUPPORTED),
}
_NOT_THERE_CODES = {"notimplemented", "notsupported"}
# When several answers are folded into one (SetVariables), the worst one wins.
_SEVERITY = [CommandStatus.ACCEPTED, CommandStatus.PENDING, CommandStatus.NOT_SUPPORTED,
             CommandStatus.REJECTED]
# Values a charger may refuse to show again: never "verify" these by reading them back.
_WRITE_ONLY = re.compile(r"authorizationkey|password|secret", re.IGNORECASE)


def status_from_word(word: str) -> CommandStatus:
    """A status word of a CALLRESULT ("Accepted", "RebootRequired", ...) as a CommandStatus.

    Case-insensitive (firmware is sloppy); a word we do not know is a refusal.
    """
    return _WORDS.get(str(word).strip().lower(), CommandStatus.REJECTED)


def status_from_error_code(code: str) -> CommandStatus:
    """A CALLERROR code: NotImplemented / NotSupported mean the feature is not there."""
    return (CommandStatus.NOT_SUPPORTED if str(code).strip().lower() in _NOT_THERE_CODES
            else CommandStatus.CALL_ERROR)


def worst(statuses: list[CommandStatus]) -> CommandStatus:
    known = [s for s in statuses if s in _SEVERITY]
    return max(known, key=_SEVERITY.index) if known else CommandStatus.ACCEPTED


def same_value(expected: str, actual: str | None) -> bool:
    """Does a read-back value equal what we set? Tolerant of case, spaces and number form
    ("60" == "60.0", "True" == "true", "A, B" == "A,B")."""
    if actual is None:
        return False
    a = [p.strip().casefold() for p in str(expected).split(",")]
    b = [p.strip().casefold() for p in str(actual).split(",")]
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        try:
            if float(x) != float(y):
                return False
        except ValueError:
            return False
    return True


def result_from_exception(command: str, charger_id: str, exc: BaseException) -> CommandResult:
    """Any failure of one exchange as a result (the gateway never raises for these)."""
    def res(status: CommandStatus, **kw: Any) -> CommandResult:
        return CommandResult(command, charger_id, status, **kw)

    if isinstance(exc, Refused):
        return res(exc.status, error_code=exc.code, detail=exc.detail)
    if isinstance(exc, OCPPError):  # the charger answered with a CALLERROR
        code = getattr(exc, "code", "") or type(exc).__name__
        detail = exc.description or ""
        if exc.details:
            detail = f"{detail} {exc.details}".strip()
        return res(status_from_error_code(code), error_code=code, detail=detail)
    if isinstance(exc, UnknownCallErrorCodeError):
        m = re.search(r"'([^']*)'", str(exc))
        return res(CommandStatus.CALL_ERROR, error_code=m.group(1) if m else "Unknown",
                   detail=str(exc))
    if isinstance(exc, TimeoutError):
        return res(CommandStatus.TIMEOUT, detail=str(exc) or "no answer in time")
    if isinstance(exc, LinkClosed | ConnectionClosed):
        return res(CommandStatus.OFFLINE, detail=_closed_detail(exc))
    if isinstance(exc, BadAnswer):
        return res(CommandStatus.CALL_ERROR, error_code="FormatViolation",
                   detail=f"unreadable answer: {exc}")
    return res(CommandStatus.CALL_ERROR, error_code="GatewayError",
               detail=f"{type(exc).__name__}: {exc}")


def _closed_detail(exc: BaseException) -> str:
    if isinstance(exc, ConnectionClosed):
        frame = exc.rcvd or exc.sent
        code = f" (code {frame.code})" if frame is not None else ""
        return f"connection closed{code}"
    return str(exc) or "connection closed"


# -- one exchange -------------------------------------------------------------------------

class Refused(Exception):
    """The gateway itself declines: the command is not sent."""

    def __init__(self, status: CommandStatus, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class LinkClosed(Exception):
    """The connection closed while we waited for the answer."""


class BadAnswer(Exception):
    """The charger's CALLRESULT does not fit the message (missing or unknown fields)."""


class Exchange:
    """One command to one connected charger; what the per-version command classes use."""

    def __init__(self, cp: Any, charger_id: str, command: str, timeout_s: float,
                 next_id: Callable[[], int], clock: Callable[[], datetime]) -> None:
        self.cp = cp
        self.charger_id = charger_id
        self.command = command
        self.timeout_s = timeout_s
        self.next_id = next_id
        self.now = clock

    async def call(self, payload: Any) -> Any:
        """Send one CALL and return the charger's CALLRESULT payload object.

        Raises Refused (invalid request, not sent), OCPPError (CALLERROR), TimeoutError,
        LinkClosed / ConnectionClosed, BadAnswer.
        """
        await _check_request(self.cp, payload)
        connection = self.cp._connection
        # Our own validation ran above. The answer is not schema-checked by the library:
        # its validation errors would be indistinguishable from the charger's CALLERRORs,
        # and an answer with an extra vendor field is still an answer.
        call = asyncio.ensure_future(
            self.cp.call(payload, suppress=False, skip_schema_validation=True))
        closed = asyncio.ensure_future(connection.wait_closed())
        started = time.monotonic()
        try:
            done, _ = await asyncio.wait({call, closed}, timeout=self.timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (call, closed):
                task.cancel()
            await asyncio.gather(call, closed, return_exceptions=True)
        if call in done:
            try:
                return call.result()
            except TypeError as exc:  # the library builds the result dataclass from the answer
                raise BadAnswer(str(exc)) from exc
            except TimeoutError:  # the library's own (per connection) timeout was shorter
                raise TimeoutError(
                    f"no answer within {time.monotonic() - started:.1f} s") from None
        if closed in done:
            raise LinkClosed("connection closed while waiting for the answer")
        raise TimeoutError(f"no answer within {self.timeout_s:g} s")

    def result(self, word: str | None = None, *, status: CommandStatus | None = None,
               payload: dict[str, Any] | None = None, detail: str = "",
               info: Any = None) -> CommandResult:
        """A result from the charger's status word (or an explicit status)."""
        word = "" if word is None else str(word)
        if status is None:
            status = status_from_word(word)
        extra = _status_info(info)
        return CommandResult(
            self.command, self.charger_id, status, charger_status=word,
            detail="; ".join(x for x in (detail, extra) if x), payload=payload or {})

    def folded(self, words: list[str], payload: dict[str, Any]) -> CommandResult:
        """Several per-item answers (SetVariables) as one result: the worst one wins."""
        return self.result(", ".join(dict.fromkeys(words)),
                           status=worst([status_from_word(w) for w in words]), payload=payload)

    @staticmethod
    def refuse(status: CommandStatus, code: str, detail: str) -> Refused:
        return Refused(status, code, detail)


def _status_info(info: Any) -> str:
    """2.0.1 statusInfo {reasonCode, additionalInfo} as words."""
    if not isinstance(info, dict):
        return ""
    return " ".join(str(info[k]) for k in ("reason_code", "additional_info") if info.get(k))


async def _check_request(cp: Any, payload: Any) -> None:
    """Validate our request against the official schema, as the charger will."""
    body = remove_nones(snake_to_camel_case(serialize_as_dict(payload)))
    message = Call(unique_id="check", action=type(payload).__name__, payload=body)
    try:
        await validate_payload(message, cp._ocpp_version)
    except OCPPError as exc:
        cause = (exc.details or {}).get("cause") or exc.description
        raise Refused(CommandStatus.CALL_ERROR, exc.code,
                      f"not sent, invalid request: {cause}") from exc


class _LateAnswerFilter(logging.Filter):
    """The ocpp library logs an answer whose CALL already timed out at ERROR and then
    keeps waiting for the right one, which is correct. A slow charger is the charger's
    problem: say it at WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and \
                str(record.msg).startswith("Ignoring response with unknown unique id"):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _quiet_late_answers(logger: Any) -> None:
    if isinstance(logger, logging.Logger) and \
            not any(isinstance(f, _LateAnswerFilter) for f in logger.filters):
        logger.addFilter(_LateAnswerFilter())


# What one exchange may raise; each is a result, never the caller's exception.
_EXCHANGE_ERRORS = (Refused, OCPPError, UnknownCallErrorCodeError, TimeoutError, LinkClosed,
                    ConnectionClosed, BadAnswer)


# -- the gateway ----------------------------------------------------------------------------

Run = Callable[[Any, Exchange], Awaitable[CommandResult]]


class Sessions(Protocol):
    """What the gateway needs of OcppServer: the live handler of a charger, or None."""

    def session(self, charger_id: str) -> Any: ...


class OcppGateway:
    """ChargerGateway over the embedded OCPP server (see the module docstring: never
    await it from inside an @on handler).

    Commands to one charger go out one at a time, in order (a change and its read-back
    together). `timeout_s` bounds each CALL's wait for its answer, and separately the
    wait for an earlier command to the same charger to finish.
    """

    def __init__(self, server: Sessions, *, timeout_s: float = 30,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self._server = server
        self._timeout_s = timeout_s
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._v16 = Commands16()
        self._v201 = Commands201()
        # 2.0.1 local lists type each idToken; the access service knows each token's kind
        # (card ISO14443, app Central, eMAID...). Unset: every token is a card.
        self.token_type_of: Callable[[str], str] | None = None
        # Remote start ids and request ids: unique across restarts (seeded by the clock).
        self._ids = itertools.count(int(time.time()) % 1_000_000_000)

    # -- the ChargerGateway port ---------------------------------------------------------

    async def remote_start(self, charger_id: str, connector_id: int | None, id_token: str,
                           *, token_type: str = "Central") -> CommandResult:
        return await self._run("remote_start", charger_id, lambda d, x: d.remote_start(
            x, connector_id, id_token, token_type))

    async def remote_stop(self, charger_id: str, transaction_id: str) -> CommandResult:
        return await self._run("remote_stop", charger_id,
                               lambda d, x: d.remote_stop(x, transaction_id))

    async def unlock_connector(self, charger_id: str, connector_id: int) -> CommandResult:
        return await self._run("unlock_connector", charger_id,
                               lambda d, x: d.unlock_connector(x, connector_id))

    async def reset(self, charger_id: str, hard: bool = False) -> CommandResult:
        return await self._run("reset", charger_id, lambda d, x: d.reset(x, hard))

    async def change_availability(self, charger_id: str, connector_id: int,
                                  available: bool) -> CommandResult:
        return await self._run("change_availability", charger_id,
                               lambda d, x: d.change_availability(x, connector_id, available))

    async def get_configuration(self, charger_id: str,
                                keys: list[str] | None = None) -> CommandResult:
        return await self._run("get_configuration", charger_id,
                               lambda d, x: d.get_configuration(x, keys))

    async def change_configuration(self, charger_id: str, key: str,
                                   value: str) -> CommandResult:
        async def run(d: Any, x: Exchange) -> CommandResult:
            result, check = await d.change_configuration(x, key, value)
            return await self._read_back(d, x, result, check)
        return await self._run("change_configuration", charger_id, run)

    async def get_variables(self, charger_id: str,
                            variables: list[tuple[str, str]]) -> CommandResult:
        return await self._run("get_variables", charger_id,
                               lambda d, x: d.get_variables(x, variables))

    async def set_variables(self, charger_id: str,
                            values: list[tuple[str, str, str]]) -> CommandResult:
        async def run(d: Any, x: Exchange) -> CommandResult:
            result, check = await d.set_variables(x, values)
            return await self._read_back(d, x, result, check)
        return await self._run("set_variables", charger_id, run)

    async def get_base_report(self, charger_id: str,
                              report: str = "FullInventory") -> CommandResult:
        return await self._run("get_base_report", charger_id,
                               lambda d, x: d.get_base_report(x, report))

    async def trigger_message(self, charger_id: str, message: str,
                              connector_id: int | None = None) -> CommandResult:
        return await self._run("trigger_message", charger_id,
                               lambda d, x: d.trigger_message(x, message, connector_id))

    async def clear_cache(self, charger_id: str) -> CommandResult:
        return await self._run("clear_cache", charger_id, lambda d, x: d.clear_cache(x))

    async def send_local_list(self, charger_id: str, version: int,
                              entries: list[tuple[str, str]], full: bool,
                              *, token_type: str | None = None) -> CommandResult:
        """entries: (id token, status such as "Accepted"/"Blocked"); in a differential
        update an empty status removes the token from the charger's list. 2.0.1: every
        token gets `token_type` if given, else its own type (token_type_of)."""
        typed: str | Callable[[str], str] = (
            token_type or self.token_type_of or (lambda _token: "ISO14443"))
        return await self._run("send_local_list", charger_id, lambda d, x: d.send_local_list(
            x, version, entries, full, typed))

    async def get_local_list_version(self, charger_id: str) -> CommandResult:
        return await self._run("get_local_list_version", charger_id,
                               lambda d, x: d.get_local_list_version(x))

    async def set_charging_profile(self, charger_id: str, connector_id: int,
                                   limit_w: float, profile_id: int = 1) -> CommandResult:
        return await self._run("set_charging_profile", charger_id,
                               lambda d, x: d.set_charging_profile(
                                   x, connector_id, limit_w, profile_id))

    async def clear_charging_profile(self, charger_id: str,
                                     profile_id: int | None = None) -> CommandResult:
        """profile_id None clears every TxDefaultProfile (what set_charging_profile sets),
        not the charger's other profiles."""
        return await self._run("clear_charging_profile", charger_id,
                               lambda d, x: d.clear_charging_profile(x, profile_id))

    async def data_transfer(self, charger_id: str, vendor_id: str, message_id: str = "",
                            data: str = "") -> CommandResult:
        return await self._run("data_transfer", charger_id,
                               lambda d, x: d.data_transfer(x, vendor_id, message_id, data))

    async def get_diagnostics(self, charger_id: str, location: str) -> CommandResult:
        return await self._run("get_diagnostics", charger_id,
                               lambda d, x: d.get_diagnostics(x, location))

    async def update_firmware(self, charger_id: str, location: str) -> CommandResult:
        return await self._run("update_firmware", charger_id,
                               lambda d, x: d.update_firmware(x, location))

    # -- machinery ---------------------------------------------------------------------

    async def _run(self, command: str, charger_id: str, run: Run) -> CommandResult:
        result = await self._attempt(command, charger_id, run)
        level = logging.WARNING if result.status in (
            CommandStatus.TIMEOUT, CommandStatus.CALL_ERROR, CommandStatus.IGNORED
        ) else logging.INFO
        log.log(level, "%s", result.describe(), extra={
            "event": "charger_command", "charger_id": charger_id, "command": command,
            "status": str(result.status), "charger_status": result.charger_status,
            "error_code": result.error_code})
        return result

    async def _attempt(self, command: str, charger_id: str, run: Run) -> CommandResult:
        if self._server.session(charger_id) is None:
            return CommandResult(command, charger_id, CommandStatus.OFFLINE,
                                 detail="charger not connected; not sent")
        lock = self._locks.setdefault(charger_id, asyncio.Lock())
        try:
            async with asyncio.timeout(self._timeout_s):
                await lock.acquire()
        except TimeoutError:
            return CommandResult(
                command, charger_id, CommandStatus.TIMEOUT,
                detail=f"not sent: an earlier command to this charger was still running "
                       f"after {self._timeout_s:g} s")
        try:
            # Looked up again: the charger may have gone or reconnected while we queued.
            cp = self._server.session(charger_id)
            if cp is None:
                return CommandResult(command, charger_id, CommandStatus.OFFLINE,
                                     detail="charger not connected; not sent")
            _quiet_late_answers(getattr(cp, "logger", None))
            dialect = self._v201 if str(cp._ocpp_version).startswith("2") else self._v16
            x = Exchange(cp, charger_id, command, self._timeout_s,
                         lambda: next(self._ids), self._clock)
            try:
                return await run(dialect, x)
            except _EXCHANGE_ERRORS as exc:
                return result_from_exception(command, charger_id, exc)
            except Exception as exc:  # a bug of ours: report it, never crash the caller
                log.exception("%s on %s failed in the gateway", command, charger_id)
                return result_from_exception(command, charger_id, exc)
        finally:
            lock.release()

    async def _read_back(self, dialect: Any, x: Exchange, result: CommandResult,
                         check: dict[str, str]) -> CommandResult:
        """Quirk 10: some chargers accept a change and ignore it. Read the values back.

        `check` holds only what the charger said Accepted to (not RebootRequired).
        """
        check = {k: v for k, v in check.items() if not _WRITE_ONLY.search(k)}
        if not check:
            return result
        try:
            got = await dialect.read_values(x, list(check))
        except _EXCHANGE_ERRORS as exc:
            why = result_from_exception(x.command, x.charger_id, exc)
            return _with(result, detail=f"not verified: read-back {why.status}"
                                        f"{' ' + why.error_code if why.error_code else ''}")
        unreadable = [k for k in check if got.get(k) is None]
        ignored = {k: got[k] for k, v in check.items()
                   if got.get(k) is not None and not same_value(v, got[k])}
        payload = {**result.payload, "read_back": {k: got.get(k) for k in check}}
        if ignored:
            what = ", ".join(f"{k}={check[k]!r} still reads {got_v!r}"
                             for k, got_v in ignored.items())
            return _with(result, status=CommandStatus.IGNORED, payload=payload,
                         detail=f"accepted but not applied: {what}")
        detail = f"not verified: {', '.join(unreadable)} not readable" if unreadable else ""
        return _with(result, payload=payload, detail=detail)


def _with(result: CommandResult, *, status: CommandStatus | None = None,
          payload: dict | None = None, detail: str = "") -> CommandResult:
    return replace(
        result, status=status or result.status,
        detail="; ".join(x for x in (result.detail, detail) if x),
        payload=result.payload if payload is None else payload)

