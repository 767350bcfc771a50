"""A site with a real camera (a video file) gets a capture feed from the core: frames
arrive, health says online; a camera whose file is missing goes offline with one warning
and the console runs on."""

from __future__ import annotations

import dataclasses
import logging

import cv2
import numpy as np

from app.bootstrap import build_core
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for


def _clip(path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(20):
        frame = np.full((240, 320, 3), (i * 10) % 255, np.uint8)
        writer.write(frame)
    writer.release()


async def test_real_cameras_are_fed_by_the_core(tmp_path, caplog):
    clip = tmp_path / "entry.avi"
    _clip(clip)
    settings = loopback_settings(tmp_path)
    core = await build_core(settings)
    await core.stop()  # the demo site is in the database now; give it real cameras
    sources = {"CAM-ENTRY": str(clip), "CAM-EXIT": str(tmp_path / "nope.avi")}
    site = dataclasses.replace(core.site, cameras=tuple(
        dataclasses.replace(c, source=sources.get(c.id, c.source)) for c in core.site.cameras))
    from app.adapters.db import site_repo
    from app.adapters.db.database import database

    async with database(settings.resolved_db_url) as writer:
        await writer.run(lambda conn: site_repo.save_site(conn, site))
    core = await build_core(settings)
    await core.start()
    try:
        feed = core.cameras["CAM-ENTRY"]
        await wait_for(lambda: feed.latest() is not None, within=10)
        frame, _at = feed.latest()
        assert frame.shape == (240, 320, 3)
        await wait_for(lambda: feed.health().online, within=10)
        gone = core.cameras["CAM-EXIT"]
        await wait_for(lambda: any("CAM-EXIT" in r.getMessage() for r in caplog.records
                                   if r.levelno == logging.WARNING), within=10)
        assert not gone.health().online and "not found" in gone.health().detail
    finally:
        await core.stop()


async def test_saving_a_camera_stores_it_audits_and_restarts_its_feed(tmp_path):
    from sqlalchemy import select

    from app.adapters.db import site_repo
    from app.adapters.db import tables as t
    from app.adapters.db.database import database

    clip = tmp_path / "exit.avi"
    _clip(clip)
    settings = loopback_settings(tmp_path)
    core = await build_core(settings)
    await core.start()
    try:
        old = core.cameras["CAM-EXIT"]
        probe = await core.probe_camera(str(clip), {})
        assert probe.ok and (probe.width, probe.height) == (320, 240)
        exit_cam = next(c for c in core.site.cameras if c.id == "CAM-EXIT")
        changed = dataclasses.replace(exit_cam, source=str(clip),
                                      settings={"username": "cam", "password": "s3cret"})
        await core.save_camera("installer", changed)
        feed = core.cameras["CAM-EXIT"]
        assert feed is not old and feed.camera.source == str(clip)
        await wait_for(lambda: feed.latest() is not None, within=10)
        # A simulated camera renamed keeps its running feed (the simulator draws on it).
        sim = core.cameras["CAM-ENTRY"]
        entry = next(c for c in core.site.cameras if c.id == "CAM-ENTRY")
        await core.save_camera("installer", dataclasses.replace(entry, name="Entry A cam"))
        assert core.cameras["CAM-ENTRY"] is sim and sim.camera.name == "Entry A cam"
        assert next(c for c in core.site.cameras if c.id == "CAM-ENTRY").name == "Entry A cam"
    finally:
        await core.stop()
    async with database(settings.resolved_db_url) as writer:
        site = await writer.run(site_repo.load_site)
        audit = await writer.run(lambda c: c.execute(
            select(t.audit_log).where(t.audit_log.c.action == "camera_saved")).all())
    stored = next(c for c in site.cameras if c.id == "CAM-EXIT")
    assert stored.source == str(clip) and stored.settings["username"] == "cam"
    assert [a.details["settings"].get("password") for a in audit] == ["***", None]
