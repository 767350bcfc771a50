"""The whole simulated site for demo mode: chargers, cameras that see their cars, barriers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.domain.site import Site
from app.sim.barrier import Clock, SimBarrier, utc_now
from app.sim.camera import SimCamera
from app.sim.charger import SimFleet
from app.sim.traffic import SimTraffic
from app.sim.vehicles import Vehicle


class SimSite:
    """Builds a SimFleet, a SimCamera per "sim:" camera and a SimBarrier per "sim" barrier.

    A car plugging in at a bay appears, plate and all, on that bay's camera. `speed`
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
        **fleet_options: Any,
    ) -> None:
        bays_of: dict[str, list[str]] = {}
        # (charger, connector) -> (camera, slot): slots follow the bays' order in the site.
        self._slots: dict[tuple[str, int], tuple[str, int]] = {}
        for bay in site.bays:
            if bay.camera_id and bay.charger_id and bay.connector_id:
                labels = bays_of.setdefault(bay.camera_id, [])
                self._slots[(bay.charger_id, bay.connector_id)] = (bay.camera_id, len(labels))
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
                                  seed=seed, clock=clock) if traffic else None

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
