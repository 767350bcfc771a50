"""One connector under the central system's orders (remote start/stop, unlock,
availability, a power cap), without any network."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from app.sim.connector import Happening, RemoteStart, SimConnector, State, Timing

# No car comes by itself; a session lasts 20 min of site time or more: 2 s at this speed.
QUIET = Timing(idle_mean_s=1e9, first_arrival_max_s=1e9, fault_chance=0.0,
               idle_fault_chance=0.0, min_wall_meter_s=0.0)
SPEED = 600.0


@dataclass
class Watch:
    conn: SimConnector | None = None
    seen: list[tuple[Happening, State, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    limit: float | None = None

    def __call__(self, conn: SimConnector, what: Happening) -> None:
        reason = conn.tx.stop_reason if conn.tx is not None else ""
        self.seen.append((what, conn.state, reason))
        self.changed.set()

    def happenings(self) -> list[Happening]:
        return [w for w, _, _ in self.seen if w is not Happening.METER]

    async def until(self, predicate, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def _connector(timing: Timing = QUIET, seed: int = 5) -> AsyncIterator[Watch]:
    watch = Watch()
    watch.conn = SimConnector(1, 22_000, random.Random(seed), SPEED, watch, timing,
                              limit=lambda _c: watch.limit)
    task = asyncio.create_task(watch.conn.run())
    try:
        yield watch
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_remote_start_brings_the_car_and_remote_stop_ends_the_session() -> None:
    async with _connector() as w:
        conn = w.conn
        assert conn.can_remote_start()
        assert conn.remote_start(RemoteStart("TAG-1", "Central", remote_start_id=7))
        await w.until(lambda: conn.state is State.CHARGING)
        assert w.happenings() == [Happening.PLUGGED, Happening.AUTHORIZED,
                                  Happening.CHARGING_STATE]
        tx = conn.tx
        assert (tx.id_tag, tx.token_type, tx.remote, tx.remote_start_id, tx.authorized) == (
            "TAG-1", "Central", True, 7, True)
        assert not conn.can_remote_start()  # busy
        assert conn.stop("Remote")
        await w.until(lambda: conn.state is State.FINISHING)
        assert w.seen[-1] == (Happening.UNPLUGGED, State.FINISHING, "Remote")
        assert conn.tx is None and conn.vehicle is not None  # the driver is not back yet
        await w.until(lambda: conn.state is State.AVAILABLE)
        assert conn.vehicle is None


async def test_a_remote_start_authorises_a_waiting_car() -> None:
    waiting = Timing(idle_mean_s=1e9, first_arrival_max_s=1.0, authorize_s=(1e7, 1e7),
                     fault_chance=0.0, idle_fault_chance=0.0)
    async with _connector(waiting) as w:
        conn = w.conn
        await w.until(lambda: conn.state is State.PREPARING)
        own_card = conn.tx.id_tag
        assert conn.waiting_car() and conn.remote_start(RemoteStart("APP-9"))
        await w.until(lambda: conn.state is State.CHARGING)
        assert conn.tx.id_tag == "APP-9" != own_card and conn.tx.remote


async def test_out_of_service_now_or_when_the_car_has_gone() -> None:
    async with _connector() as w:
        conn = w.conn
        conn.set_operative(False)
        assert conn.state is State.UNAVAILABLE
        assert not conn.can_remote_start()
        conn.set_operative(True)
        assert conn.state is State.AVAILABLE
        conn.remote_start(RemoteStart("TAG"))
        await w.until(lambda: conn.state is State.CHARGING)
        conn.set_operative(False)  # scheduled: the session goes on
        assert conn.state is State.CHARGING
        conn.stop("Remote")
        await w.until(lambda: conn.vehicle is None)
        assert conn.state is State.UNAVAILABLE
        assert w.seen[-1][0] is Happening.AVAILABLE  # the car left, as the camera sees it


async def test_unlock_ends_the_session_and_the_car_leaves_soon() -> None:
    slow_driver = Timing(idle_mean_s=1e9, first_arrival_max_s=1e9, fault_chance=0.0,
                         idle_fault_chance=0.0, finishing_s=(1e6, 1e6))
    async with _connector(slow_driver) as w:
        conn = w.conn
        conn.remote_start(RemoteStart("TAG"))
        await w.until(lambda: conn.state is State.CHARGING)
        assert conn.stop("UnlockCommand")
        conn.release()
        await w.until(lambda: conn.state is State.AVAILABLE, within=5)
        assert (Happening.UNPLUGGED, State.FINISHING, "UnlockCommand") in w.seen


async def test_a_power_cap_limits_and_below_six_amps_suspends() -> None:
    async with _connector() as w:
        conn = w.conn
        conn.remote_start(RemoteStart("TAG"))
        await w.until(lambda: conn.state is State.CHARGING and conn.power_w > 3000)
        w.limit = 2000.0
        conn.refresh()
        await w.until(lambda: conn.power_w == 2000.0)
        assert conn.offered_w() == 2000.0
        w.limit = 1000.0
        conn.refresh()
        await w.until(lambda: conn.state is State.SUSPENDED_EVSE)
        assert conn.power_w == 0
        w.limit = None
        conn.refresh()
        await w.until(lambda: conn.state is State.CHARGING and conn.power_w > 2000)
        states = [s for h, s, _ in w.seen if h is Happening.CHARGING_STATE]
        assert states[-3:] == [State.CHARGING, State.SUSPENDED_EVSE, State.CHARGING]
