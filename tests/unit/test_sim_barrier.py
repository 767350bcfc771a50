"""SimBarrier: a pulse opens, the boom closes by itself; timings scaled by `speed`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from app.domain.events import BarrierStateChanged
from app.domain.site import Barrier
from app.sim.barrier import SimBarrier

AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SETTINGS = {"open_s": 2.5, "hold_s": 6.0}
SPEED = 50  # 2.5 s -> 50 ms, 6 s -> 120 ms


class Recorder:
    def __init__(self) -> None:
        self.events: list[BarrierStateChanged] = []
        self.times: list[float] = []

    def __call__(self, event: BarrierStateChanged) -> None:
        self.events.append(event)
        self.times.append(asyncio.get_running_loop().time())

    @property
    def states(self) -> list[str]:
        return [e.state for e in self.events]

    def time_of(self, state: str, nth: int = 0) -> float:
        return [t for t, s in zip(self.times, self.states, strict=True) if s == state][nth]


@pytest.fixture
async def rig():
    rec = Recorder()
    barrier = SimBarrier(Barrier("BAR-ENTRY", "Entry", settings=SETTINGS), rec, lambda: AT,
                         speed=SPEED)
    yield barrier, rec
    await barrier.stop()


async def until(predicate, within: float = 2.0) -> None:
    # Polling: the states observed here (server records, sim counters) have no event.
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_timings_come_from_the_barrier_settings() -> None:
    b = SimBarrier(Barrier("B", "B", settings={"open_s": 3.0, "hold_s": 8.0}), print, lambda: AT)
    assert (b.open_s, b.hold_s, b.close_s) == (3.0, 8.0, 3.0)
    b = SimBarrier(Barrier("B", "B"), print, lambda: AT, open_s=1.5, hold_s=4.0)
    assert (b.open_s, b.hold_s, b.state) == (1.5, 4.0, "closed")


async def test_a_pulse_runs_the_whole_cycle_and_publishes_each_transition(rig) -> None:
    barrier, rec = rig
    t0 = asyncio.get_running_loop().time()
    await barrier.open("permit AB-123-C")
    assert barrier.state == "opening"
    await until(lambda: barrier.state == "closed")
    assert rec.states == ["opening", "open", "closing", "closed"]
    assert [e.previous for e in rec.events] == ["closed", "opening", "open", "closing"]
    assert all(e.barrier_id == "BAR-ENTRY" and e.at == AT for e in rec.events)
    assert rec.time_of("open") - t0 == pytest.approx(0.05, abs=0.03)
    assert rec.time_of("closing") - rec.time_of("open") == pytest.approx(0.12, abs=0.03)
    assert rec.time_of("closed") - rec.time_of("closing") == pytest.approx(0.05, abs=0.03)


async def test_a_pulse_while_open_extends_the_hold(rig) -> None:
    barrier, rec = rig
    await barrier.open("first car")
    await until(lambda: barrier.state == "open")
    await asyncio.sleep(0.08)
    second = asyncio.get_running_loop().time()
    await barrier.open("second car")
    await until(lambda: barrier.state == "closed")
    assert rec.states == ["opening", "open", "closing", "closed"]  # it stayed open
    assert rec.time_of("closing") - second == pytest.approx(0.12, abs=0.03)


async def test_a_pulse_while_opening_changes_nothing(rig) -> None:
    barrier, rec = rig
    await barrier.open("a")
    await barrier.open("b")
    await until(lambda: barrier.state == "closed")
    assert rec.states == ["opening", "open", "closing", "closed"]
    assert barrier.pulses == 2


async def test_a_pulse_while_closing_reopens_from_where_the_boom_is(rig) -> None:
    barrier, rec = rig
    await barrier.open("a")
    await until(lambda: barrier.state == "closing")
    await asyncio.sleep(0.02)
    await barrier.open("car behind")
    reopened = asyncio.get_running_loop().time()
    await until(lambda: barrier.state == "closed")
    assert rec.states == ["opening", "open", "closing", "opening", "open", "closing", "closed"]
    # It had closed about 40 %, so it needs about 40 % of the opening time back.
    assert rec.time_of("open", 1) - reopened < 0.045


async def test_stop_cancels_the_timers(rig) -> None:
    barrier, rec = rig
    await barrier.open("a")
    await until(lambda: barrier.state == "open")
    before = asyncio.all_tasks()
    await barrier.stop()
    await asyncio.sleep(0.25)
    assert rec.states == ["opening", "open"]
    assert not any(t.get_name().startswith("barrier-") for t in asyncio.all_tasks())
    assert len(asyncio.all_tasks()) < len(before)


async def test_a_stopped_barrier_can_be_pulsed_again(rig) -> None:
    barrier, rec = rig
    await barrier.open("a")
    await until(lambda: barrier.state == "open")
    await barrier.stop()
    await barrier.open("after a restart")  # holds again, then closes by itself
    await until(lambda: barrier.state == "closed")
    assert rec.states == ["opening", "open", "closing", "closed"]
