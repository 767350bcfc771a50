"""How every outcome of a charger command becomes a CommandResult (no sockets here)."""

import asyncio

import pytest
from ocpp.exceptions import (
    FormatViolationError,
    InternalError,
    NotImplementedError,
    NotSupportedError,
    UnknownCallErrorCodeError,
)
from ocpp.v16 import call as call16
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close

from app.adapters.ocpp.gateway import (
    BadAnswer,
    LinkClosed,
    OcppGateway,
    Refused,
    result_from_exception,
    same_value,
    status_from_error_code,
    status_from_word,
    worst,
)
from app.adapters.ocpp.gateway201 import variable_of
from app.domain.commands import CommandStatus as S


@pytest.mark.parametrize(("word", "status"), [
    ("Accepted", S.ACCEPTED), ("Unlocked", S.ACCEPTED), ("AcceptedCanceled", S.ACCEPTED),
    ("accepted", S.ACCEPTED), (" ACCEPTED ", S.ACCEPTED),
    ("Rejected", S.REJECTED), ("UnlockFailed", S.REJECTED), ("Failed", S.REJECTED),
    ("VersionMismatch", S.REJECTED), ("Unknown", S.REJECTED), ("UnknownConnector", S.REJECTED),
    ("OngoingAuthorizedTransaction", S.REJECTED), ("EmptyResultSet", S.REJECTED),
    ("RebootRequired", S.PENDING), ("Scheduled", S.PENDING),
    ("NotSupported", S.NOT_SUPPORTED), ("NotImplemented", S.NOT_SUPPORTED),
    ("UnknownVendorId", S.NOT_SUPPORTED), ("UnknownMessageId", S.NOT_SUPPORTED),
    ("UnknownComponent", S.NOT_SUPPORTED), ("UnknownVariable", S.NOT_SUPPORTED),
    ("NotSupportedAttributeType", S.NOT_SUPPORTED),
    ("SomethingNew", S.REJECTED), ("", S.REJECTED),
])
def test_status_words(word, status):
    assert status_from_word(word) is status


@pytest.mark.parametrize(("code", "status"), [
    ("NotImplemented", S.NOT_SUPPORTED), ("NotSupported", S.NOT_SUPPORTED),
    ("InternalError", S.CALL_ERROR), ("FormationViolation", S.CALL_ERROR),
    ("SecurityError", S.CALL_ERROR), ("GenericError", S.CALL_ERROR),
])
def test_callerror_codes(code, status):
    assert status_from_error_code(code) is status


def test_worst_of_several_answers():
    assert worst([S.ACCEPTED, S.PENDING]) is S.PENDING
    assert worst([S.ACCEPTED, S.NOT_SUPPORTED, S.PENDING]) is S.NOT_SUPPORTED
    assert worst([S.NOT_SUPPORTED, S.REJECTED]) is S.REJECTED
    assert worst([]) is S.ACCEPTED


@pytest.mark.parametrize(("expected", "actual", "same"), [
    ("60", "60", True), ("60", "60.0", True), ("true", "True", True),
    ("Energy.Active.Import.Register,Power.Active.Import",
     "Energy.Active.Import.Register, Power.Active.Import", True),
    ("60", "300", False), ("60", None, False), ("a,b", "a", False), ("x", "y", False),
])
def test_read_back_comparison(expected, actual, same):
    assert same_value(expected, actual) is same


def _res(exc):
    return result_from_exception("reset", "CP-1", exc)


def test_exceptions_become_results():
    r = _res(InternalError(description="flash full", details={"sector": 3}))
    assert (r.status, r.error_code) == (S.CALL_ERROR, "InternalError")
    assert "flash full" in r.detail and "sector" in r.detail

    r = _res(NotImplementedError(description="no"))
    assert (r.status, r.error_code) == (S.NOT_SUPPORTED, "NotImplemented")
    r = _res(NotSupportedError())
    assert (r.status, r.error_code) == (S.NOT_SUPPORTED, "NotSupported")
    r = _res(FormatViolationError(description="bad"))
    assert (r.status, r.error_code) == (S.CALL_ERROR, "FormatViolation")

    r = _res(UnknownCallErrorCodeError("Error code 'VendorBoom' is not defined by the spec"))
    assert (r.status, r.error_code) == (S.CALL_ERROR, "VendorBoom")

    r = _res(TimeoutError("no answer within 5 s"))
    assert (r.status, r.detail) == (S.TIMEOUT, "no answer within 5 s")
    assert _res(TimeoutError()).detail  # never an empty explanation

    r = _res(ConnectionClosedError(Close(1006, ""), None))
    assert r.status is S.OFFLINE and "1006" in r.detail
    r = _res(LinkClosed("connection closed while waiting for the answer"))
    assert r.status is S.OFFLINE and "waiting" in r.detail

    r = _res(Refused(S.CALL_ERROR, "TypeConstraintViolation", "not sent: too long"))
    assert (r.status, r.error_code, r.detail) == (
        S.CALL_ERROR, "TypeConstraintViolation", "not sent: too long")

    r = _res(BadAnswer("unexpected keyword 'foo'"))
    assert (r.status, r.error_code) == (S.CALL_ERROR, "FormatViolation")

    r = _res(RuntimeError("bug"))
    assert (r.status, r.error_code) == (S.CALL_ERROR, "GatewayError")
    assert (r.command, r.charger_id) == ("reset", "CP-1")


@pytest.mark.parametrize(("key", "pair"), [
    ("HeartbeatInterval", ("OCPPCommCtrlr", "HeartbeatInterval")),
    ("heartbeatinterval", ("OCPPCommCtrlr", "HeartbeatInterval")),
    ("MeterValueSampleInterval", ("SampledDataCtrlr", "TxUpdatedInterval")),
    ("ConnectionTimeOut", ("TxCtrlr", "EVConnectionTimeOut")),
    ("LocalAuthorizeOffline", ("AuthCtrlr", "LocalAuthorizeOffline")),
    ("AuthorizeRemoteTxRequests", ("AuthCtrlr", "AuthorizeRemoteStart")),
    ("OCPPCommCtrlr.HeartbeatInterval", ("OCPPCommCtrlr", "HeartbeatInterval")),
    ("VendorCtrlr.Some.Thing", ("VendorCtrlr", "Some.Thing")),
    ("VendorOnly", None), (".x", None), ("x.", None),
])
def test_16_keys_on_201(key, pair):
    assert variable_of(key) == pair


# -- the gateway against fake sessions ---------------------------------------------------------

class _Link:
    def __init__(self):
        self.closed = asyncio.Event()

    async def wait_closed(self):
        await self.closed.wait()


class _FakeCp:
    """Enough of an ocpp ChargePoint for the gateway: `call` does what it is told."""

    def __init__(self, version="1.6", behave=None):
        self._ocpp_version = version
        self._connection = _Link()
        self.behave = behave
        self.sent = []

    async def call(self, payload, suppress=True, skip_schema_validation=False):
        assert suppress is False  # never let the library swallow a CALLERROR
        self.sent.append(payload)
        return await self.behave(self, payload)


class _FakeServer:
    def __init__(self, sessions):
        self.sessions = sessions

    def session(self, charger_id):
        return self.sessions.get(charger_id)


async def test_answer_that_does_not_fit_the_message_is_a_format_violation():
    async def behave(cp, payload):
        raise TypeError("__init__() got an unexpected keyword argument 'foo'")

    gw = OcppGateway(_FakeServer({"CP": _FakeCp(behave=behave)}), timeout_s=1)
    r = await gw.clear_cache("CP")
    assert (r.status, r.error_code) == (S.CALL_ERROR, "FormatViolation")


async def test_library_timeout_shorter_than_ours_is_still_a_timeout():
    async def behave(cp, payload):
        raise TimeoutError("Waited 30s for response on [...]")

    gw = OcppGateway(_FakeServer({"CP": _FakeCp(behave=behave)}), timeout_s=60)
    r = await gw.reset("CP")
    assert r.status is S.TIMEOUT and r.detail.startswith("no answer within")


async def test_link_closing_while_waiting_is_offline_without_waiting_for_the_timeout():
    async def behave(cp, payload):
        cp._connection.closed.set()
        await asyncio.sleep(30)

    cp = _FakeCp(behave=behave)
    gw = OcppGateway(_FakeServer({"CP": cp}), timeout_s=20)
    r = await asyncio.wait_for(gw.reset("CP"), 2)
    assert r.status is S.OFFLINE and "waiting" in r.detail


async def test_charger_gone_while_queued_is_offline_and_not_sent():
    gate = asyncio.Event()

    async def behave(cp, payload):
        await gate.wait()
        return type("R", (), {"status": "Accepted"})()

    cp = _FakeCp(behave=behave)
    server = _FakeServer({"CP": cp})
    gw = OcppGateway(server, timeout_s=5)
    first = asyncio.create_task(gw.reset("CP"))
    await asyncio.sleep(0)
    second = asyncio.create_task(gw.clear_cache("CP"))
    await asyncio.sleep(0.01)
    del server.sessions["CP"]
    gate.set()
    assert (await first).status is S.ACCEPTED
    r = await second
    assert r.status is S.OFFLINE and "not sent" in r.detail
    assert [type(p) for p in cp.sent] == [call16.Reset]


@pytest.mark.allow_error_log  # a bug of ours is logged at ERROR, on purpose
async def test_a_bug_in_the_gateway_is_reported_not_raised(caplog):
    async def behave(cp, payload):
        raise KeyError("oops")

    gw = OcppGateway(_FakeServer({"CP": _FakeCp(behave=behave)}), timeout_s=1)
    r = await gw.reset("CP")
    assert (r.status, r.error_code) == (S.CALL_ERROR, "GatewayError")
    assert any(rec.levelname == "ERROR" for rec in caplog.records)


async def test_201_status_info_is_in_the_detail():
    async def behave(cp, payload):
        return type("R", (), {"status": "Rejected", "status_info": {
            "reason_code": "TxInProgress", "additional_info": "EVSE 1 busy"}})()

    gw = OcppGateway(_FakeServer({"CP": _FakeCp("2.0.1", behave)}), timeout_s=1)
    r = await gw.reset("CP")
    assert r.status is S.REJECTED and r.detail == "TxInProgress EVSE 1 busy"
