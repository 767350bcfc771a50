"""SimSite: the demo's whole simulated site against a loopback central system."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.domain.events import BarrierStateChanged
from app.domain.site_io import site_from_dict
from app.services.bus import EventBus
from app.sim.site import SimSite
from tests.integration.test_sim_charger import DEMO_SITE, FAST, NO_FAULTS, Csms, until


@pytest.fixture
async def csms():
    server = Csms(interval=30, with_transactions=True)
    await server.start()
    yield server
    await server.stop()


async def test_cars_at_the_chargers_show_on_their_bay_cameras(csms) -> None:
    site = site_from_dict(json.loads(DEMO_SITE.read_text()))
    bus = EventBus()
    seen: list[BarrierStateChanged] = []
    bus.subscribe(seen.append, BarrierStateChanged)
    sim = SimSite(site, csms.url, bus.publish, speed=FAST, seed=4, timing=NO_FAULTS,
                  fps=10, camera_size=(320, 180))
    before = asyncio.all_tasks()
    await sim.start()
    try:
        assert set(sim.cameras) == {c.id for c in site.cameras}
        assert sim.cameras["CAM-BAY-B"].bay_labels == ("EV 05", "EV 06", "EV 07", "EV 08")
        # EV 07 is CP-04 connector 1: the third bay (slot 2) of CAM-BAY-B.
        cp04 = sim.fleet.chargers["CP-04"]
        await until(lambda: cp04.vehicle(1) is not None)
        plate = cp04.vehicle(1).plate
        assert sim.cameras["CAM-BAY-B"].plates.get(2) == plate
        await until(lambda: sim.cameras["CAM-BAY-B"].plates.get(2) != plate)
        # The demo's 1.6 chargers run real transactions (the console implements them).
        await until(lambda: any(p["transaction_id"] == 4711
                                for p in csms.of("StopTransaction")))
        assert {c for c, a, _ in csms.messages if a == "StartTransaction"} <= {
            "CP-01", "CP-02", "CP-03"}

        await sim.barriers["BAR-ENTRY"].open("demo")
        assert sim.barriers["BAR-ENTRY"].hold_s == 6.0
        assert [(e.barrier_id, e.state) for e in seen] == [("BAR-ENTRY", "opening")]
    finally:
        await sim.stop()
    await until(lambda: asyncio.all_tasks() <= before, within=1.0)
    assert all(c._thread is None for c in sim.cameras.values())
