"""LaneService: lanes with their barrier, and the audited manual raise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain.site import Barrier, Lane, LaneDirection, Site
from app.services.lanes import MANUAL_RAISE, LaneService

AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


class FakeBarrier:
    def __init__(self, state: str = "closed", error: Exception | None = None,
                 fault_detail: str = "") -> None:
        self.state = state
        self.detail = ""
        self.reasons: list[str] = []
        self.error = error
        self.fault_detail = fault_detail
        self.audited_first: bool | None = None
        self.audit: list | None = None

    async def open(self, reason: str) -> None:
        if self.audit is not None:
            self.audited_first = bool(self.audit)
        self.reasons.append(reason)
        if self.error is not None:
            raise self.error
        if self.fault_detail:
            self.state, self.detail = "fault", self.fault_detail
            return
        self.state = "opening"


class AuditList(list):
    def __call__(self, actor, action, target, details) -> None:
        self.append((actor, action, target, details))


SITE = Site(
    name="Test",
    barriers=(Barrier("BAR-IN", "Entry barrier"), Barrier("BAR-OUT", "Exit barrier"),
              Barrier("BAR-X", "Undriven")),
    lanes=(Lane("IN", "Entry A", "P1", LaneDirection.ENTRY, "CAM-IN", "BAR-IN"),
           Lane("OUT", "Exit A", "P1", LaneDirection.EXIT, "CAM-OUT", "BAR-OUT"),
           Lane("X", "Exit B", "P1", LaneDirection.EXIT, None, "BAR-X"),
           Lane("FREE", "Free flow", "P1", LaneDirection.EXIT)),
)


@pytest.fixture
def audit() -> AuditList:
    return AuditList()


@pytest.fixture
def barriers(audit) -> dict[str, FakeBarrier]:
    entry, exit_ = FakeBarrier(), FakeBarrier()
    entry.audit = audit
    return {"BAR-IN": entry, "BAR-OUT": exit_}


@pytest.fixture
def service(barriers, audit) -> LaneService:
    return LaneService(SITE, barriers, audit, lambda: AT)


def test_lanes_states_and_barrier_names(service, barriers):
    assert [ln.id for ln in service.lanes()] == ["IN", "OUT", "X", "FREE"]
    assert service.barrier_name("IN") == "Entry barrier"
    assert service.barrier_name("FREE") == ""
    assert service.barrier_state("IN") == "closed"
    assert service.barrier_state("X") == "offline"
    assert service.barrier_state("FREE") == "none"
    barriers["BAR-OUT"].state, barriers["BAR-OUT"].detail = "fault", "no route to 127.0.0.9"
    assert service.barrier_state("OUT") == "fault"
    assert service.barrier_detail("OUT") == "no route to 127.0.0.9"
    assert service.barrier_detail("IN") == ""


def test_the_barriers_dict_is_read_live(audit):
    barriers: dict = {}
    service = LaneService(SITE, barriers, audit, lambda: AT)
    assert service.barrier_state("IN") == "offline"
    barriers["BAR-IN"] = FakeBarrier("open")  # the simulated site started
    assert service.barrier_state("IN") == "open"


async def test_manual_raise_is_audited_before_the_pulse(service, barriers, audit):
    message = await service.raise_barrier("IN", actor="alice", reason=" Emergency vehicle ")
    assert audit == [("alice", MANUAL_RAISE, "IN",
                      {"barrier_id": "BAR-IN", "reason": "Emergency vehicle",
                       "state_before": "closed"})]
    assert barriers["BAR-IN"].audited_first is True
    assert barriers["BAR-IN"].reasons == ["Emergency vehicle"]
    assert message == "Entry barrier raised (Emergency vehicle)"
    assert message.ok


@pytest.mark.parametrize("reason", ["", "   ", None])
async def test_an_empty_reason_is_refused(service, barriers, audit, reason):
    with pytest.raises(ValueError, match="needs a reason"):
        await service.raise_barrier("IN", actor="alice", reason=reason)
    assert audit == [] and barriers["BAR-IN"].reasons == []


async def test_a_barrier_error_is_a_message_not_an_exception(service, barriers, audit,
                                                             caplog):
    barriers["BAR-OUT"].error = ConnectionRefusedError("connection refused")
    message = await service.raise_barrier("OUT", actor="bob", reason="Barrier test")
    assert message == "Exit barrier did not open: connection refused"
    assert not message.ok
    assert audit[0][1:3] == (MANUAL_RAISE, "OUT")  # the attempt is on record
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_driver_that_faults_reports_its_detail(service, barriers):
    barriers["BAR-OUT"].fault_detail = "modbus: timeout"
    message = await service.raise_barrier("OUT", actor="bob", reason="Barrier test")
    assert message == "Exit barrier did not open: modbus: timeout" and not message.ok


async def test_no_barrier_or_undriven_barrier_is_a_message_and_no_audit(service, audit):
    free = await service.raise_barrier("FREE", actor="a", reason="Barrier test")
    undriven = await service.raise_barrier("X", actor="a", reason="Barrier test")
    assert free == "Free flow: no barrier in this lane"
    assert undriven == "Undriven not raised: the console does not drive this barrier"
    assert audit == []


@pytest.mark.allow_error_log
async def test_no_raise_without_its_audit_entry(barriers):
    def broken(*_args):
        raise OSError("disk full")

    service = LaneService(SITE, barriers, broken, lambda: AT)
    message = await service.raise_barrier("IN", actor="a", reason="Barrier test")
    assert "audit trail could not be written" in message
    assert barriers["BAR-IN"].reasons == []


async def test_unknown_lane(service):
    with pytest.raises(KeyError):
        await service.raise_barrier("NOPE", actor="a", reason="Barrier test")
