"""A lane camera that only streams video (a video file here), the built-in recognizer on:
the resident's plate in the picture becomes a read with evidence, and the entry barrier
opens for it — the whole chain a site without ANPR cameras runs on."""

from __future__ import annotations

import dataclasses
import random

import cv2

from app.adapters.db import site_repo
from app.adapters.db.database import database
from app.bootstrap import build_core
from app.domain.events import PlateRead
from tests.bench.plate_synth import make_scene
from tests.helpers.settings import loopback_settings
from tests.helpers.waiting import wait_for

ANNA = "GX-512-K"  # a demo resident with a permit (app.sim.demo_drivers)


async def test_a_video_camera_read_by_the_recognizer_opens_the_gate(tmp_path):
    scene = make_scene(random.Random(11), "NL", "clean", plate=ANNA)
    clip = tmp_path / "entry.avi"
    video = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5, (1280, 720))
    for _ in range(10):
        video.write(scene.image)
    video.release()

    settings = loopback_settings(tmp_path)
    core = await build_core(settings)  # seeds the demo site (and its accounts)
    await core.stop()
    site = dataclasses.replace(core.site, cameras=tuple(
        dataclasses.replace(c, source=str(clip), settings={"recognizer": "on",
                                                           "country": "NL"})
        if c.id == "CAM-ENTRY" else c for c in core.site.cameras))
    async with database(settings.resolved_db_url) as writer:
        await writer.run(lambda conn: site_repo.save_site(conn, site))

    core = await build_core(settings)
    reads: list[PlateRead] = []
    core.bus.subscribe(reads.append, PlateRead)
    await core.start()
    try:
        await wait_for(lambda: any(r.source == "recognizer" for r in reads), within=30)
        read = next(r for r in reads if r.source == "recognizer")
        assert read.camera_id == "CAM-ENTRY" and read.plate.replace("-", "") == "GX512K"
        # The evidence JPEG is written on its own thread, just after the read is published.
        await wait_for(lambda: (settings.data_dir / read.snapshot).exists(), within=5)
        await wait_for(lambda: core.gate.session_of("GX512K") is not None, within=10)
        assert core.barriers["BAR-ENTRY"].pulses >= 1
    finally:
        await core.stop()
