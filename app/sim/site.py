"""The whole simulated site for demo mode: chargers, cameras that see their cars, barriers."""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app.domain.events import BayOccupancyChanged, PlateRead
from app.domain.site import Bay, Site
from app.sim.barrier import Clock, SimBarrier, utc_now
from app.sim.camera import SimCamera
from app.sim.charger import SimFleet
from app.sim.traffic import SimTraffic
from app.sim.vehicles import Vehicle

log = logging.getLogger(__name__)


class SimSite:
    """Builds a SimFleet, a SimCamera per "sim:" camera and a SimBarrier per "sim" barrier.

    A car plugging in at a bay appears, plate and all, on that bay's camera, which reports
    the bay occupied and (mostly) reads its plate: `submit` (ReadService.submit's
    signature) when given, else a PlateRead published directly. `speed`
    scales the charging sessions only: barriers and cameras run in real time, because an
    attendant trains on them at the pace of a real lane. The chargers behave like real
    ones: 1.6 sessions are full transactions (SimFleet's default) and every console
    command gets a charger's answer.
    """

    def __init__(
        self,
        site: Site,
        url: str,
        publish: Callable[[Any], None],
        *,
        speed: float = 1.0,
        seed: int | None = None,
        clock: Clock = utc_now,
        fps: float = 15,
        camera_size: tuple[int, int] = (1280, 720),
        traffic: bool = True,
        submit: Callable[..., Any] | None = None,
        **fleet_options: Any,
    ) -> None:
        self._publish = publish
        self._submit = submit
        self._clock = clock
        self._camera_size = camera_size
        self._bay_rng = random.Random(None if seed is None else f"bays:{seed}")
        self._bays: dict[tuple[str, int], Bay] = {}
        self._late: dict[tuple[str, int], asyncio.TimerHandle] = {}
        self._read_tasks: set[asyncio.Task] = set()
        bays_of: dict[str, list[str]] = {}
        # (charger, connector) -> (camera, slot): slots follow the bays' order in the site.
        self._slots: dict[tuple[str, int], tuple[str, int]] = {}
        for bay in site.bays:
            if bay.camera_id and bay.charger_id and bay.connector_id:
                labels = bays_of.setdefault(bay.camera_id, [])
                self._slots[(bay.charger_id, bay.connector_id)] = (bay.camera_id, len(labels))
                self._bays[(bay.charger_id, bay.connector_id)] = bay
                labels.append(bay.label)
        self.cameras = {
            c.id: SimCamera(c, fps, camera_size, bay_labels=bays_of.get(c.id, ()))
            for c in site.cameras if c.source.startswith("sim")
        }
        self.barriers = {
            b.id: SimBarrier(b, publish, clock) for b in site.barriers if b.driver == "sim"
        }
        # A pool of regular drivers (demo) is told when their car leaves a bay.
        self._release = getattr(fleet_options.get("vehicles"), "release", None)
        self._parked: dict[tuple[str, int], Vehicle] = {}
        self.fleet = SimFleet(site, url, speed=speed, seed=seed, on_vehicle=self._vehicle,
                              **fleet_options)
        # Cars at the entry/exit lanes (app.sim.traffic): only their stay follows `speed`.
        self.traffic = SimTraffic(site, self.cameras, self.barriers, publish, speed=speed,
                                  seed=seed, clock=clock, submit=submit) if traffic else None

    async def start(self) -> None:
        for camera in self.cameras.values():
            camera.start()
        await self.fleet.start()
        if self.traffic is not None:
            await self.traffic.start()

    async def stop(self) -> None:
        if self.traffic is not None:
            await self.traffic.stop()
        await self.fleet.stop()
        for handle in self._late.values():
            handle.cancel()
        self._late.clear()
        for task in list(self._read_tasks):
            task.cancel()
        await asyncio.gather(*self._read_tasks, return_exceptions=True)
        for barrier in self.barriers.values():
            await barrier.stop()
        # Joining a capture thread can take a frame period: not on the loop thread.
        await asyncio.gather(*(asyncio.to_thread(c.stop) for c in self.cameras.values()))

    def _vehicle(self, charger_id: str, connector_id: int, vehicle: Vehicle | None) -> None:
        if vehicle is not None:
            self._parked[(charger_id, connector_id)] = vehicle
        else:
            left = self._parked.pop((charger_id, connector_id), None)
            if left is not None and self._release is not None:
                self._release(left.plate)
        where = self._slots.get((charger_id, connector_id))
        camera = self.cameras.get(where[0]) if where else None
        if where and camera and where[1] < camera.slots:
            camera.set_vehicle(vehicle.plate if vehicle else None, slot=where[1])
            self._bay_camera(charger_id, connector_id, vehicle, camera.id, where[1],
                             camera.slots)

    # -- what a bay camera reports (occupancy, plate reads) ---------------------------------

    def _bay_camera(self, charger_id: str, connector_id: int, vehicle: Vehicle | None,
                    camera_id: str, slot: int, slots: int) -> None:
        key = (charger_id, connector_id)
        bay = self._bays.get(key)
        if bay is None:
            return
        late = self._late.pop(key, None)
        if late is not None:
            late.cancel()
        now = self._clock()
        self._publish(BayOccupancyChanged(at=now, bay_id=bay.id, occupied=vehicle is not None,
                                          camera_id=camera_id))
        if vehicle is None:
            return
        box = plate_box(slot, slots, self._camera_size)
        rng = self._bay_rng
        r = rng.random()
        if r < 0.07:  # a dirty plate, or a car parked too far in: no read at all
            return
        if r < 0.12:  # an unsure read
            self._read(camera_id, vehicle.plate, rng.uniform(0.35, 0.6), box, now)
        elif r < 0.22:  # read only once the driver walked away (the camera saw the plate)
            delay = rng.uniform(5.0, 40.0)
            self._late[key] = asyncio.get_running_loop().call_later(
                delay, self._late_read, key, camera_id, vehicle.plate, box)
        else:  # read as the car parked, a few seconds before the plug went in
            self._read(camera_id, vehicle.plate, rng.uniform(0.8, 0.99), box,
                       now - timedelta(seconds=rng.uniform(3.0, 20.0)))

    def _late_read(self, key: tuple[str, int], camera_id: str, plate: str,
                   box: tuple[int, int, int, int]) -> None:
        self._late.pop(key, None)
        self._read(camera_id, plate, self._bay_rng.uniform(0.75, 0.97), box, self._clock())

    def _read(self, camera_id: str, plate: str, confidence: float,
              box: tuple[int, int, int, int], at: Any) -> None:
        confidence = round(confidence, 2)
        if self._submit is None:
            self._publish(PlateRead(at=at, camera_id=camera_id, plate=plate,
                                    confidence=confidence, source="sim", box=box,
                                    frame_size=self._camera_size))
            return
        result = self._submit(camera_id, plate, confidence, source="sim", at=at, box=box,
                              frame_size=self._camera_size)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._read_tasks.add(task)
            task.add_done_callback(self._read_done)

    def _read_done(self, task: asyncio.Task) -> None:
        self._read_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.warning("sim site: bay read not submitted: %s: %s", type(exc).__name__, exc,
                        extra={"event": "sim_read_failed"})


def plate_box(slot: int, slots: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where SimCamera draws the plate of the car in `slot` (x, y, w, h pixels)."""
    w, h = size
    slot_w = w / slots
    car_w = int(slot_w * (0.46 if slots == 1 else 0.78))
    car_h = int(car_w * 0.62)
    bottom = int(h * (0.92 if slots == 1 else 0.86))
    cx = int(slot_w * (slot + 0.5))
    cy = bottom - car_h // 5
    plate_w = int(car_w * (0.42 if slots == 1 else 0.5))
    plate_h = max(12, int(plate_w * 0.22))
    return (cx - plate_w // 2, cy - plate_h // 2, plate_w, plate_h)
