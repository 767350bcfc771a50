"""Composition root: the one place that wires ports to adapters and returns a Core."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import ssl
from collections.abc import Callable
from typing import Any

from app.adapters.db import access_repo, billing_repo, charger_repo, settings_repo, site_repo
from app.adapters.db.access_store import SqlAccessStore
from app.adapters.db.audit_repo import SqlAuditLog
from app.adapters.db.billing_repo import SqlBillingStore
from app.adapters.db.binding_repo import SqlBindingStore
from app.adapters.db.database import close_database, open_database
from app.adapters.db.local_list_repo import SqlLocalListStore
from app.adapters.db.parking_repo import SqlParkingStore
from app.adapters.db.read_repo import SqlReadStore
from app.adapters.db.staff_repo import SqlStaffStore
from app.adapters.db.transaction_repo import SqlTransactionStore
from app.adapters.db.violation_repo import SqlViolationStore
from app.adapters.evidence import EvidenceStore
from app.adapters.ocpp.frame_log import FrameLog
from app.adapters.ocpp.gateway import OcppGateway
from app.adapters.ocpp.server import OcppServer
from app.config import Settings
from app.core import Core
from app.domain.enforcement import Ladder
from app.domain.site import Camera, Site
from app.domain.site_io import site_from_dict
from app.domain.timeutil import utc_now
from app.services.access import AccessService
from app.services.billing import BillingService
from app.services.binding import BindingService
from app.services.bus import EventBus
from app.services.cameras import CameraService
from app.services.charging import ChargingService, UnknownChargerPolicy
from app.services.commands import CommandService
from app.services.enforcement import EnforcementService
from app.services.event_log import EventLogger
from app.services.gate import GateService
from app.services.idle import IdleWatcher
from app.services.lanes import LaneService
from app.services.local_lists import LocalListSync
from app.services.reads import ReadService
from app.services.staff import StaffService
from app.services.transactions import TransactionService

log = logging.getLogger(__name__)


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """Security profile 2: wss with the configured certificate and key."""
    if settings.security_profile < 2 and not settings.tls_cert:
        return None
    if not settings.tls_cert or not settings.tls_key:
        raise ValueError("security profile 2 needs a TLS certificate and key "
                         "(--tls-cert FILE --tls-key FILE)")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


def demo_site() -> Site:
    import resources

    return site_from_dict(json.loads(resources.path("demo", "site.json").read_text("utf-8")))


async def build_core(settings: Settings) -> Core:
    """Open (and migrate) the database, load the site, wire services and adapters.

    Nothing listens yet: `await core.start()` opens the OCPP port and starts simulators.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine, writer = await open_database(settings.resolved_db_url)
    try:
        # The site's stored settings (first-run setup), unless the command line said otherwise.
        stored = await writer.run(settings_repo.load_settings)
        applied = settings.apply_stored(stored)
        if applied:
            log.info("site settings from the database: %s", ", ".join(applied),
                     extra={"event": "stored_settings", "applied": applied})
        ssl_context = tls_context(settings)  # a bad TLS setup fails before anything listens
        site = await writer.run(site_repo.load_site)
        if site is None and settings.demo:
            site = demo_site()
            await writer.run(lambda conn: site_repo.save_site(conn, site))
            log.info("demo site seeded: %s", site.name, extra={"event": "demo_seeded"})
        if site is None:
            site = Site(name="New site")
        if settings.demo:
            from app.demo_seed import seed_demo_accounts, seed_demo_supervisor

            seeded = await writer.run(lambda conn: seed_demo_accounts(conn, utc_now()))
            await writer.run(lambda conn: seed_demo_supervisor(conn, utc_now()))
            await writer.run(lambda conn: billing_repo.seed_default_tariff(conn, utc_now()))
            if seeded:
                log.info("demo accounts seeded: %d", seeded, extra={"event": "demo_accounts"})
        await writer.run(charger_repo.mark_all_offline)
        known = await writer.run(charger_repo.load_chargers)
        registry = await writer.run(charger_repo.load_registry)
        adopted = await writer.run(lambda conn: access_repo.adopt_legacy_tags(conn, utc_now()))
        if adopted:
            log.info("%d tags from the old tag list became accounts", adopted,
                     extra={"event": "legacy_tags_adopted", "count": adopted})
    except BaseException:
        close_database(engine, writer)
        raise

    bus = EventBus()
    audit_log = SqlAuditLog(writer, utc_now)
    audit = audit_log.audit
    charging = ChargingService(
        site, charger_repo.SqlChargerStore(writer), bus, utc_now,
        unknown_policy=UnknownChargerPolicy(settings.unknown_charger_policy),
        heartbeat_interval_s=settings.heartbeat_interval_s,
        known=known,
        registry=registry,
        require_password=settings.security_profile >= 1,
        audit=audit,
    )
    access = AccessService(site, SqlAccessStore(writer), bus, utc_now, audit,
                           accept_unknown_tokens=settings.auth_mode == "accept_all")
    transactions = TransactionService(SqlTransactionStore(writer), bus, utc_now, access)
    await transactions.load()
    core = Core(settings=settings, bus=bus, site=site, charging=charging,
                transactions=transactions)
    core.audit = audit
    core.writer = writer
    core.access = access
    event_logger = EventLogger(bus)
    frames = FrameLog(settings.frames_dir, retention_days=settings.frame_retention_days)
    core.frames = frames

    async def stop_db() -> None:
        event_logger.close()
        writer.enqueue(charger_repo.mark_all_offline)
        close_database(engine, writer)
        log.info("database closed", extra={"event": "db_closed"})

    async def start_db() -> None:
        return None

    core.add_part("database", start_db, stop_db)
    core.add_part("frame-log", frames.start, frames.stop)

    server = OcppServer(
        charging, transactions, settings.resolved_ocpp_host, settings.ocpp_port,
        ssl_context=ssl_context,
        frame_sink=frames.sink,
        configured_version=lambda cid: (c.ocpp_version if (c := site.charger(cid)) else None),
    )

    async def start_server() -> None:
        await server.start()
        core.ocpp_url = server.url

    core.add_part("ocpp-server", start_server, server.stop)
    core.ocpp_server = server
    core.gateway = OcppGateway(server)
    core.commands = CommandService(core.gateway, audit, utc_now)
    access.attach_transactions(transactions.active, core.commands.remote_stop)
    core.gateway.token_type_of = access.token_type_of
    core.add_part("access", access.start, access.stop)
    # Every access change reaches the chargers' local lists (AccessChanged on the bus).
    local_lists = LocalListSync(core.gateway, SqlLocalListStore(writer),
                                access.local_list_entries, utc_now, bus=bus)
    await local_lists.load()
    core.local_lists = local_lists
    core.add_part("local-lists", local_lists.publish, local_lists.stop)

    watchdog: dict[str, asyncio.Task] = {}

    async def start_watchdog() -> None:
        async def watch() -> None:
            while True:
                await asyncio.sleep(5)
                charging.check_silence()

        watchdog["task"] = asyncio.create_task(watch(), name="charger-silence-watchdog")

    async def stop_watchdog() -> None:
        task = watchdog.pop("task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    core.add_part("watchdog", start_watchdog, stop_watchdog)

    # The live barriers dict: simulated ones join it when the simulated site starts.
    core.lanes = LaneService(site, core.barriers, audit, utc_now)
    # Plate/card reads at the lanes -> the one decision -> barrier pulse -> parking session.
    # Before the simulators: their traffic stops before the gate does.
    core.gate = GateService(site, access, SqlParkingStore(writer), core.barriers, core.lanes,
                            bus, utc_now, audit)
    core.add_part("gate", core.gate.start, core.gate.stop)
    # Every plate read (camera pushes, the recognizer, the simulator) goes through one
    # pipeline: merged, evidence saved, stored, then published. Stops before the gate.
    core.reads = ReadService(bus, SqlReadStore(writer), EvidenceStore(settings.data_dir),
                             utc_now, min_confidence=core.gate.min_confidence,
                             retention_days=settings.evidence_retention_days)
    core.add_part("reads", core.reads.start, core.reads.stop)
    # Plate <-> bay <-> charger <-> connector <-> transaction, and the attendant's queue.
    core.binding = BindingService(site, bus, utc_now, SqlBindingStore(writer), transactions,
                                  access, core.gate, audit,
                                  window_s=settings.binding_window_s,
                                  ice_grace_s=settings.ice_grace_min * 60)
    core.add_part("binding", core.binding.start, core.binding.stop)
    # Charging finished (protocol or meter) and the idling after it: map, alerts, billing.
    core.idle = IdleWatcher(bus, utc_now)
    # One bill per stay (parking + charging + fees), recomputed as things change; the
    # exit lane asks it before it opens. Then enforcement: violations and the ladder.
    core.billing = BillingService(site, SqlBillingStore(writer), bus, utc_now, audit,
                                  access=access, gate=core.gate, transactions=transactions,
                                  binding=core.binding)
    core.add_part("billing", core.billing.start, core.billing.stop)
    core.gate.exit_check = core.billing.check_exit
    # Staff accounts: supervisor approval of waivers, adjustments and tariff changes.
    core.staff = StaffService(SqlStaffStore(writer), audit, utc_now)
    core.enforcement = EnforcementService(site, SqlViolationStore(writer), bus, utc_now, audit,
                                          access=access, gate=core.gate,
                                          propose_fee=core.billing.propose_fee,
                                          ladder=_stored_ladder(stored))
    core.add_part("enforcement", core.enforcement.start, core.enforcement.stop)
    if settings.anpr_push_port is not None:
        from app.adapters.camera.push_server import PushServer

        core.push_server = PushServer(core.reads.submit, site, settings.resolved_ocpp_host,
                                      settings.anpr_push_port)
        core.add_part("anpr-push", core.push_server.start, core.push_server.stop)
    _add_simulators(core, settings, site, server)
    _add_camera_service(core, writer, _feed_factory(core, settings))
    _add_recognizer(core)
    return core


def _stored_ladder(stored: dict[str, Any]) -> Ladder:
    """The site's enforcement ladder (Violations → Ladder…); the default when none is
    stored, or when the stored one is broken (said in the log, the console still starts)."""
    from app.adapters.db.violation_repo import LADDER_SETTING

    try:
        return Ladder.from_dict(stored.get(LADDER_SETTING))
    except ValueError as exc:
        log.warning("stored enforcement ladder ignored (the default is used): %s", exc,
                    extra={"event": "bad_stored_ladder"})
        return Ladder()


def _add_simulators(core: Core, settings: Settings, site: Site, server: OcppServer) -> None:
    """Demo mode: the whole simulated site. Otherwise only devices configured as 'sim'."""

    from app.sim.barrier import SimBarrier
    from app.sim.site import SimSite

    if settings.run_simulated_chargers:
        holder: dict[str, SimSite] = {}

        async def start_site() -> None:
            from app.sim.demo_drivers import DemoDriverPool

            pool = DemoDriverPool()
            sim = SimSite(site, f"ws://127.0.0.1:{server.port}/ocpp", core.bus.publish,
                          speed=settings.sim_speed, seed=settings.sim_seed,
                          fps=settings.camera_fps, vehicles=pool,
                          submit=core.reads.submit)
            if sim.traffic is not None:
                # One car, one stay: in by the lane, charge at a bay, out by the lane.
                traffic = sim.traffic
                pool.inside = lambda: traffic.inside
                pool.arriving = traffic.drive_in
                traffic.at_bay = lambda plate: plate in pool.parked
            holder["sim"] = sim
            core.barriers.update(sim.barriers)
            core.cameras.update(sim.cameras)
            if sim.traffic is not None and core.billing is not None:
                sim.traffic.pay_station = lambda plate: _pay_station(core, plate)
            await sim.start()

        async def stop_site() -> None:
            if "sim" in holder:
                await holder.pop("sim").stop()

        core.add_part("simulated-site", start_site, stop_site)
        return

    for barrier in site.barriers:
        if barrier.driver == "sim":
            core.barriers[barrier.id] = SimBarrier(barrier, core.bus.publish, utc_now)
    _add_barrier_drivers(core, site)
    _add_cameras(core, site, _feed_factory(core, settings))

    async def start_devices() -> None:
        for cam in core.cameras.values():
            cam.start()
        for barrier in core.barriers.values():
            start = getattr(barrier, "start", None)  # drivers that follow a vehicle loop
            if start is not None:
                start()

    async def stop_devices() -> None:
        for barrier in core.barriers.values():
            await barrier.stop()
        # Joining a capture thread can take a frame period: not on the loop thread.
        await asyncio.gather(*(asyncio.to_thread(c.stop) for c in core.cameras.values()))

    core.add_part("devices", start_devices, stop_devices)


# --- Real barrier drivers (Modbus TCP relay I/O, Hikvision ISAPI, Axis VAPIX) -------------
def _add_barrier_drivers(core: Core, site: Site) -> None:
    """One driver per barrier whose driver is "modbus", "isapi" or "vapix".

    They connect on the first open pulse, so nothing here touches the network; the
    "devices" part stops them. A barrier with bad settings is left out with a warning
    (the console still starts; the installer fixes the settings).
    """
    from app.adapters.io.factory import DRIVERS, make_barrier

    for barrier in site.barriers:
        if barrier.driver not in DRIVERS:
            continue
        try:
            core.barriers[barrier.id] = make_barrier(barrier, core.bus.publish, utc_now)
        except ValueError as exc:
            log.warning("barrier %s not driven: %s", barrier.id, exc,
                        extra={"event": "barrier_config_error", "barrier_id": barrier.id})


# --- Cameras: simulated, or real feeds (RTSP, MJPEG, snapshot, USB, files) ---------------
def _feed_factory(core: Core, settings: Settings) -> Callable[[Camera], Any]:
    """A feed for a camera: simulated for "sim:" sources, else a capture thread."""
    from app.sim.camera import SimCamera

    loop = asyncio.get_running_loop()
    quieted: list[bool] = []

    def make_feed(camera: Camera) -> Any:
        if camera.source.startswith("sim:"):
            return SimCamera(camera, fps=settings.camera_fps)
        from app.adapters.camera.capture import CameraFeed
        from app.adapters.camera.sources import quiet_native_logs

        if not quieted:  # once, before the first open: no FFMPEG line per failed open
            quiet_native_logs()
            quieted.append(True)
        return CameraFeed(camera, core.bus.publish, loop=loop)

    return make_feed


def _add_cameras(core: Core, site: Site, make_feed: Callable[[Camera], Any]) -> None:
    """One feed per camera; each runs its own capture thread once the devices start. A
    camera whose source cannot be read as configured is left out with a warning."""
    for camera in site.cameras:
        try:
            core.cameras[camera.id] = make_feed(camera)
        except ValueError as exc:  # a source string the feed cannot read
            log.warning("camera %s not started: %s", camera.id, exc,
                        extra={"event": "camera_config_error", "camera_id": camera.id})


def _add_camera_service(core: Core, writer: Any, make_feed: Callable[[Camera], Any]) -> None:
    """Camera settings from the console (Test, Save): Core.probe_camera / save_camera."""
    from app.adapters.camera.capture import probe

    async def save(camera: Camera) -> None:
        await writer.run(lambda conn: site_repo.save_camera(conn, camera))

    def saved(camera: Camera) -> None:
        core.site = dataclasses.replace(core.site, cameras=tuple(
            camera if c.id == camera.id else c for c in core.site.cameras))

    core.camera_service = CameraService(core.cameras, save=save, make_feed=make_feed,
                                        probe=probe, audit=core.audit, on_saved=saved)


def _add_recognizer(core: Core) -> None:
    """The built-in plate recognizer: one worker thread reading the newest frame of each
    camera whose settings turn it on, feeding the read pipeline. After the feeds start,
    stopped before they stop. The models load on the first frame, not here."""
    from app.adapters.camera.recognizer import Recognizer
    from app.services.recognition import RecognitionWorker

    worker = RecognitionWorker(lambda: list(core.cameras.values()), core.reads.submit,
                               make_reader=lambda country: Recognizer(country))
    core.recognition = worker

    async def start() -> None:
        worker.start()

    async def stop() -> None:
        await asyncio.to_thread(worker.stop)  # joins the thread: not on the loop

    core.add_part("recognizer", start, stop)


async def _pay_station(core: Core, plate: str) -> None:
    """Demo: a driver pays the stay's bill by card at the pay station before leaving."""
    session = core.gate.session_of(plate)
    if session is None or not session.id:
        return
    record = await core.billing.settle(session.id)
    owed = record.total - record.paid
    if owed > 0:
        await core.billing.pay("sim:pay-station", record.id, "card",
                               f"PS1-{session.id:06d}", owed)

