"""Composition root: the one place that wires ports to adapters and returns a Core."""

from __future__ import annotations

import json
import logging

from app.adapters.db import charger_repo, site_repo
from app.adapters.db.engine import make_engine
from app.adapters.db.migrate import upgrade
from app.adapters.db.writer import DbWriter
from app.adapters.ocpp.server import OcppServer
from app.config import Settings
from app.core import Core
from app.domain.site import Site
from app.domain.site_io import site_from_dict
from app.domain.timeutil import utc_now
from app.services.bus import EventBus
from app.services.charging import ChargingService, UnknownChargerPolicy
from app.services.event_log import EventLogger

log = logging.getLogger(__name__)


def demo_site() -> Site:
    import resources

    return site_from_dict(json.loads(resources.path("demo", "site.json").read_text("utf-8")))


async def build_core(settings: Settings) -> Core:
    """Open (and migrate) the database, load the site, wire services and adapters.

    Nothing listens yet: `await core.start()` opens the OCPP port and starts simulators.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_db_url)
    writer = DbWriter(engine)
    writer.start()
    try:
        await writer.run(lambda _conn: upgrade(engine))
        site = await writer.run(site_repo.load_site)
        if site is None and settings.demo:
            site = demo_site()
            await writer.run(lambda conn: site_repo.save_site(conn, site))
            log.info("demo site seeded: %s", site.name, extra={"event": "demo_seeded"})
        if site is None:
            site = Site(name="New site")
        await writer.run(charger_repo.mark_all_offline)
        known = await writer.run(charger_repo.load_chargers)
    except BaseException:
        writer.stop()
        engine.dispose()
        raise

    bus = EventBus()
    charging = ChargingService(
        site, charger_repo.SqlChargerStore(writer), bus, utc_now,
        unknown_policy=UnknownChargerPolicy(settings.unknown_charger_policy),
        heartbeat_interval_s=settings.heartbeat_interval_s,
        known=known,
    )
    core = Core(settings=settings, bus=bus, site=site, charging=charging)
    event_logger = EventLogger(bus)

    async def stop_db() -> None:
        event_logger.close()
        writer.enqueue(charger_repo.mark_all_offline)
        writer.stop()
        engine.dispose()
        log.info("database closed", extra={"event": "db_closed"})

    async def start_db() -> None:
        return None

    core.add_part("database", start_db, stop_db)

    server = OcppServer(
        charging, settings.resolved_ocpp_host, settings.ocpp_port,
        configured_version=lambda cid: (c.ocpp_version if (c := site.charger(cid)) else None),
    )

    async def start_server() -> None:
        await server.start()
        core.ocpp_url = server.url

    core.add_part("ocpp-server", start_server, server.stop)
    core.ocpp_server = server

    _add_simulators(core, settings, site, server)
    return core


def _add_simulators(core: Core, settings: Settings, site: Site, server: OcppServer) -> None:
    """Demo mode: the whole simulated site. Otherwise only devices configured as 'sim'."""
    import asyncio

    from app.sim.barrier import SimBarrier
    from app.sim.camera import SimCamera
    from app.sim.site import SimSite

    if settings.run_simulated_chargers:
        holder: dict[str, SimSite] = {}

        async def start_site() -> None:
            sim = SimSite(site, f"ws://127.0.0.1:{server.port}/ocpp", core.bus.publish,
                          speed=settings.sim_speed, seed=settings.sim_seed,
                          fps=settings.camera_fps)
            holder["sim"] = sim
            core.barriers.update(sim.barriers)
            core.cameras.update(sim.cameras)
            await sim.start()

        async def stop_site() -> None:
            if "sim" in holder:
                await holder.pop("sim").stop()

        core.add_part("simulated-site", start_site, stop_site)
        return

    for barrier in site.barriers:
        if barrier.driver == "sim":
            core.barriers[barrier.id] = SimBarrier(barrier, core.bus.publish, utc_now)
    for camera in site.cameras:
        if camera.source.startswith("sim:"):
            core.cameras[camera.id] = SimCamera(camera, fps=settings.camera_fps)

    async def start_devices() -> None:
        for cam in core.cameras.values():
            cam.start()

    async def stop_devices() -> None:
        for barrier in core.barriers.values():
            await barrier.stop()
        # Joining a capture thread can take a frame period: not on the loop thread.
        await asyncio.gather(*(asyncio.to_thread(c.stop) for c in core.cameras.values()))

    core.add_part("devices", start_devices, stop_devices)
