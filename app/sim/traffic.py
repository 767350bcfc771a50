"""Demo traffic: cars arrive at the entry lanes, stay a while, and leave by an exit lane.

A car at a lane shows on the lane camera (SimCamera.set_vehicle) and is published as a
few PlateReads, the way a lane ANPR camera reports a standing car. Most reads are good;
some cars have a dirty plate (every read unsure: the attendant is asked) and some are
misread (a confident read of the wrong plate: the exit then finds no entry). The car
drives through when the lane's barrier gets an open pulse; with no pulse within the wait
it turns away (at an entry) or gives up waiting for the attendant (at an exit).

Arrivals and lanes run in real time (an attendant trains on them at a real lane's pace);
`speed` shortens only the stay inside. Seeded: one seed, one day of traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain.events import PlateRead
from app.domain.site import Lane, LaneDirection, Site
from app.sim.demo_drivers import DEMO_DRIVERS
from app.sim.vehicles import random_plate

log = logging.getLogger(__name__)

# Plates the demo seeds as accounts (residents, staff, fleet): NL side codes.
# The demo site's regulars (seeded as accounts in demo mode): most arrivals are theirs.
DEMO_PLATES: tuple[str, ...] = tuple(dict.fromkeys(d.plate for d in DEMO_DRIVERS))

# What an ANPR engine confuses.
_LOOKALIKE = {"8": "B", "B": "8", "0": "D", "D": "0", "5": "S", "S": "5", "2": "Z",
              "Z": "2", "1": "T", "T": "1", "6": "G", "G": "6", "K": "X", "X": "K"}


def utc_now() -> datetime:
    return datetime.now(UTC)


def misread(plate: str, rng: random.Random) -> str:
    """The plate with one character read as its look-alike (or a digit off by one)."""
    spots = [i for i, ch in enumerate(plate) if ch in _LOOKALIKE]
    if spots:
        i = rng.choice(spots)
        return plate[:i] + _LOOKALIKE[plate[i]] + plate[i + 1:]
    digits = [i for i, ch in enumerate(plate) if ch.isdigit()]
    if not digits:
        return plate + "1"
    i = rng.choice(digits)
    return plate[:i] + str((int(plate[i]) + 1) % 10) + plate[i + 1:]


@dataclass(frozen=True, slots=True)
class _Passage:
    """How the lane camera sees one car once."""

    shown: str  # what is read
    low: bool  # every read unsure


class SimTraffic:
    """`cameras` and `barriers`: SimSite's dicts (a lane whose camera is not simulated gets
    no traffic). A barrier is watched through its `pulses` counter."""

    def __init__(
        self,
        site: Site,
        cameras: Mapping[str, Any],
        barriers: Mapping[str, Any],
        publish: Callable[[Any], None],
        *,
        speed: float = 1.0,
        seed: int | None = None,
        clock: Callable[[], datetime] = utc_now,
        arrivals_per_min: float = 1.5,  # per entry lane
        demo_share: float = 0.5,  # arrivals that are one of DEMO_PLATES (when not inside)
        low_share: float = 0.05,
        misread_share: float = 0.03,
        dwell_min: float = 25.0,  # median stay, in site minutes (divided by speed)
        max_dwell_min: float = 480.0,
        read_gap_s: tuple[float, float] = (0.3, 0.9),
        reads: tuple[int, int] = (2, 4),
        pass_s: tuple[float, float] = (2.5, 4.0),  # the boom opens, the car drives on
        first_arrival_s: tuple[float, float] = (2.0, 8.0),
        entry_wait_s: float = 20.0,
        exit_wait_s: float = 60.0,
        submit: Callable[..., None] | None = None,
    ) -> None:
        self._cameras = cameras
        self._barriers = barriers
        self._publish = publish
        # The read pipeline (ReadService.submit): reads then get evidence and a row. Public:
        # the core sets it after SimSite built this. None: PlateReads go on `publish`.
        self.submit = submit
        # The pay station (demo: settles and pays the stay's bill by card); the others
        # reach the exit unpaid and wait for the attendant.
        self.pay_station: Callable[[str], Awaitable[Any]] | None = None
        self.pay_share = 0.85
        # Is this plate's car at a charger bay (DemoDriverPool.parked)? A driver who went
        # to charge walks back to the car only once it left the bay, then drives out.
        self.at_bay: Callable[[str], bool] | None = None
        self.bay_poll_s = 5.0
        self._clock = clock
        self._speed = max(float(speed), 1e-6)
        # Its own stream: the fleet draws from random.Random(seed) too.
        self._rng = random.Random(None if seed is None else f"traffic:{seed}")
        self.arrivals_per_min = arrivals_per_min
        self.demo_share, self.low_share, self.misread_share = demo_share, low_share, \
            misread_share
        self.dwell_min, self.max_dwell_min = dwell_min, max_dwell_min
        self.read_gap_s, self.reads, self.pass_s = read_gap_s, reads, pass_s
        self.entry_wait_s, self.exit_wait_s = entry_wait_s, exit_wait_s
        self.first_arrival_s = first_arrival_s
        self.entries = [ln for ln in site.lanes
                        if ln.direction is LaneDirection.ENTRY and ln.camera_id in cameras]
        self.exits = [ln for ln in site.lanes
                      if ln.direction is LaneDirection.EXIT and ln.camera_id in cameras]
        self.inside: set[str] = set()  # plates (as on the car) on site now
        self._busy: set[str] = set()  # plates on their way (at a lane, inside, leaving)
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self.arrived = self.entered = self.turned_away = self.left = 0

    async def start(self) -> None:
        if self._tasks:
            return
        for lane in self.entries:
            self._spawn(self._arrivals(lane), f"traffic-{lane.id}")

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lane in (*self.entries, *self.exits):
            camera = self._cameras.get(lane.camera_id)
            if camera is not None:
                with contextlib.suppress(Exception):
                    camera.set_vehicle(None)

    # -- the flow ---------------------------------------------------------------------------

    async def _arrivals(self, lane: Lane) -> None:
        rate_s = max(self.arrivals_per_min, 1e-6) / 60
        await asyncio.sleep(self._rng.uniform(*self.first_arrival_s))  # the first car soon
        while True:
            plate = self._next_plate()
            self._busy.add(plate)
            self._spawn(self._visit(lane, plate), f"traffic-car-{plate}")
            await asyncio.sleep(self._rng.expovariate(rate_s))

    def drive_in(self, plate: str) -> None:
        """A car that went straight to a charger bay comes through an entry lane now (a
        regular the chargers' simulation picked while not on site)."""
        if plate in self._busy or not self.entries:
            return
        self._busy.add(plate)
        self._spawn(self._visit(self._rng.choice(self.entries), plate), f"traffic-car-{plate}")

    def _next_plate(self) -> str:
        at_bay = self.at_bay or (lambda _plate: False)
        free = [p for p in DEMO_PLATES if p not in self._busy and not at_bay(p)]
        if free and self._rng.random() < self.demo_share:
            return self._rng.choice(free)
        while True:
            plate = random_plate(self._rng)
            if plate not in self._busy:
                return plate

    async def _visit(self, entry: Lane, plate: str) -> None:
        self.arrived += 1
        try:
            if not await self._at_lane(entry, plate, self.entry_wait_s):
                self.turned_away += 1
                log.debug("traffic: %s turned away at %s", plate, entry.id)
                return
            self.entered += 1
            self.inside.add(plate)
            await asyncio.sleep(self._dwell_s())
            while self.at_bay is not None and self.at_bay(plate):  # noqa: ASYNC110
                await asyncio.sleep(self.bay_poll_s)
            if self.pay_station is not None and self._rng.random() < self.pay_share:
                try:  # most drivers pay at the pay station on the way to the car
                    await self.pay_station(plate)
                except Exception as exc:
                    log.warning("traffic: %s could not pay: %s: %s", plate,
                                type(exc).__name__, exc)
            if self.exits:
                lane = self._rng.choice(self.exits)
                if not await self._at_lane(lane, plate, self.exit_wait_s):
                    log.debug("traffic: %s gave up waiting at %s", plate, lane.id)
            self.inside.discard(plate)
            self.left += 1
        finally:
            self.inside.discard(plate)
            self._busy.discard(plate)

    def _dwell_s(self) -> float:
        minutes = self._rng.lognormvariate(math.log(self.dwell_min), 0.9)
        minutes = min(max(minutes, 2.0), self.max_dwell_min)
        return minutes * 60 / self._speed

    def _passage(self, plate: str) -> _Passage:
        r = self._rng.random()
        if r < self.low_share:
            return _Passage(plate, low=True)
        if r < self.low_share + self.misread_share:
            return _Passage(misread(plate, self._rng), low=False)
        return _Passage(plate, low=False)

    async def _at_lane(self, lane: Lane, plate: str, wait_s: float) -> bool:
        """The car at the lane's barrier: True when it drove through."""
        lock = self._locks.setdefault(lane.id, asyncio.Lock())
        async with lock:  # one car at a barrier at a time; the next one queues
            camera = self._cameras[lane.camera_id]
            barrier = self._barriers.get(lane.barrier_id) if lane.barrier_id else None
            before = getattr(barrier, "pulses", 0)
            passage = self._passage(plate)
            camera.set_vehicle(plate)
            try:
                opened = await self._reads(lane, barrier, before, passage, wait_s)
                if opened:
                    await asyncio.sleep(self._rng.uniform(*self.pass_s))
                return opened
            finally:
                camera.set_vehicle(None)

    async def _reads(self, lane: Lane, barrier: Any, before: int, passage: _Passage,
                     wait_s: float) -> bool:
        def opened() -> bool:
            return barrier is not None and getattr(barrier, "pulses", 0) > before

        for _ in range(self._rng.randint(*self.reads)):
            confidence = (self._rng.uniform(0.3, 0.55) if passage.low
                          else self._rng.uniform(0.72, 0.99))
            if self.submit is not None:
                camera = self._cameras.get(lane.camera_id)
                latest = camera.latest() if hasattr(camera, "latest") else None
                self.submit(lane.camera_id, passage.shown, round(confidence, 2), source="sim",
                            at=self._clock(), image=latest[0] if latest else None)
            else:
                self._publish(PlateRead(at=self._clock(), camera_id=lane.camera_id,
                                        plate=passage.shown, confidence=round(confidence, 2),
                                        source="sim"))
            await asyncio.sleep(self._rng.uniform(*self.read_gap_s))
            if opened():
                return True
        if barrier is None:  # free flow, or a barrier the simulation does not drive
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while loop.time() < deadline:
            if opened():
                return True
            await asyncio.sleep(0.1)
        return opened()

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning("traffic: %s failed: %s: %s", task.get_name(), type(exc).__name__, exc,
                        extra={"event": "sim_traffic_failed"})
