"""CameraFeed and probe() against real sources: an MJPEG / snapshot camera served by aiohttp
on 127.0.0.1 (tests/helpers/mjpeg_server.py) and video files written with cv2.VideoWriter.

The camera server runs on the test's loop; the feed's capture thread reads it through
OpenCV's FFMPEG backend or urllib, and hands its health events to the same loop.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading

import cv2
import pytest

from app.adapters.camera.capture import CameraFeed, probe
from app.domain.events import CameraHealthChanged
from app.domain.site import Camera, CameraRole
from tests.helpers.mjpeg_server import MjpegServer, frame_index, render
from tests.helpers.waiting import wait_for

CAPTURE_LOG = "app.adapters.camera.capture"
USER, PASSWORD = "admin", "s3cret:pw"


def camera(source: str, **settings) -> Camera:
    return Camera("CAM-T", "Test camera", CameraRole.LANE, source, settings)


def records(caplog, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == CAPTURE_LOG and r.levelno == level]


@pytest.fixture
async def server():
    srv = MjpegServer(fps=20, size=(320, 240), username=USER, password=PASSWORD)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def feeds():
    """Feeds made by a test, stopped at the end off the loop: the loop keeps serving the
    camera meanwhile, so a thread in a read gets its frame and leaves at once."""
    made: list[CameraFeed] = []
    yield made
    await asyncio.gather(*(asyncio.to_thread(feed.stop, 3.0) for feed in made))


@pytest.fixture
def make_feed(feeds):
    events: list[CameraHealthChanged] = []
    threads: set[str] = set()

    def publish(event):
        threads.add(threading.current_thread().name)
        events.append(event)

    def make(cam: Camera, **kwargs) -> CameraFeed:
        kwargs.setdefault("open_timeout_s", 2.0)
        kwargs.setdefault("read_timeout_s", 1.0)
        kwargs.setdefault("backoff_initial_s", 0.05)
        kwargs.setdefault("backoff_max_s", 0.4)
        feed = CameraFeed(cam, publish, loop=asyncio.get_running_loop(), **kwargs)
        feeds.append(feed)
        feed.start()
        return feed

    make.events = events
    make.threads = threads
    return make


def write_clip(path, frames: int = 10, fps: float = 20.0, size=(320, 240)) -> str:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(render(i, size))
    writer.release()
    return str(path)


# --- MJPEG stream --------------------------------------------------------------------------

async def test_mjpeg_stream_delivers_the_newest_frame_at_the_measured_rate(server, make_feed,
                                                                           caplog):
    feed = make_feed(camera(server.stream_url, username=USER, password=PASSWORD))
    await wait_for(lambda: feed.frames_produced >= 5, within=5)
    loop = asyncio.get_running_loop()
    first, started = server.index, loop.time()

    await wait_for(lambda: feed.frames_produced >= 40 and make_feed.events, within=5)
    served = (server.index - first) / (loop.time() - started)  # ~20 fps, less if loaded
    health = feed.health()
    assert health.online
    assert served * 0.75 <= health.fps <= served * 1.25, (health, served)
    assert health.last_frame_age_s is not None and health.last_frame_age_s < 0.5
    assert health.detail.startswith("320x240")
    frame, at = feed.latest()
    assert frame.shape == (240, 320, 3)
    assert not frame.flags.writeable  # shared with every reader
    assert at.tzinfo is not None
    # Newest only: what latest() holds is the server's newest frame, or the one before.
    assert server.index - frame_index(frame) <= 2
    # The online transition was published once, on the loop thread (not the capture one).
    assert [(e.camera_id, e.online) for e in make_feed.events] == [("CAM-T", True)]
    assert make_feed.threads == {threading.main_thread().name}
    assert not records(caplog, logging.WARNING)
    assert len(records(caplog, logging.INFO)) == 1  # "camera CAM-T (Test camera) online"


async def test_fps_setting_caps_what_a_stream_delivers(server, make_feed):
    feed = make_feed(camera(server.stream_url, username=USER, password=PASSWORD, fps=5))
    await wait_for(lambda: feed.frames_produced >= 8, within=5)
    assert 3.5 <= feed.health().fps <= 6, feed.health()  # capped at 5 of 20 fps
    assert server.index - frame_index(feed.latest()[0]) <= 5  # still reads every frame


async def test_a_stream_that_stops_sending_goes_offline_after_the_read_timeout(server,
                                                                               make_feed,
                                                                               caplog):
    feed = make_feed(camera(server.stream_url, username=USER, password=PASSWORD),
                     read_timeout_s=0.8, backoff_initial_s=2.0)
    await wait_for(lambda: feed.health().online, within=5)
    await server.pause()
    await wait_for(lambda: not feed.health().online, within=4)
    assert "sent nothing for 0.8 s" in feed.health().detail
    assert len(records(caplog, logging.WARNING)) == 1


# --- outage and recovery -------------------------------------------------------------------

async def test_outage_alarms_once_and_recovery_once_while_backoff_grows(server, make_feed,
                                                                        caplog):
    feed = make_feed(camera(server.stream_url, username=USER, password=PASSWORD),
                     backoff_initial_s=0.05, backoff_max_s=0.4)
    await wait_for(lambda: feed.health().online, within=5)

    await server.stop()
    await wait_for(lambda: feed.health().failures >= 6, within=6)  # ~0.05+0.1+0.2+0.4+0.4
    health = feed.health()
    assert not health.online
    assert "connection refused" in health.detail, health.detail
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "CAM-T" in warnings[0].getMessage() and "offline" in warnings[0].getMessage()
    delays = [float(m.group(1)) for r in caplog.records if r.name == CAPTURE_LOG
              for m in [re.search(r"next in ([\d.]+) s", r.getMessage())] if m]
    assert delays[:5] == [0.05, 0.1, 0.2, 0.4, 0.4]  # doubling, capped

    await server.start()  # the same port
    await wait_for(lambda: feed.health().online, within=5)
    back = [r.getMessage() for r in records(caplog, logging.INFO) if "back online" in
            r.getMessage()]
    assert len(back) == 1
    assert len(records(caplog, logging.WARNING)) == 1
    assert feed.health().failures == 0
    await wait_for(lambda: len(make_feed.events) == 3)  # handed to the loop: may lag
    assert [e.online for e in make_feed.events] == [True, False, True]
    # Backoff was reset by the recovery: the next outage starts at the first delay again.
    assert feed.backoff.next() == 0.05


async def test_a_camera_that_never_comes_up_alarms_once(make_feed, caplog, unused_tcp_port):
    feed = make_feed(camera(f"http://127.0.0.1:{unused_tcp_port}/video.mjpg"))
    await wait_for(lambda: feed.health().failures >= 3, within=5)
    assert not feed.health().online
    assert len(records(caplog, logging.WARNING)) == 1
    await wait_for(lambda: make_feed.events)
    assert [e.online for e in make_feed.events] == [False]
    assert feed.latest() is None


async def test_a_snapshot_url_set_up_as_a_stream_does_not_flap(server, make_feed, caplog):
    """FFMPEG opens a single JPEG and reads one frame: that is no live stream."""
    feed = make_feed(camera(server.snapshot_url, username=USER, password=PASSWORD))
    await wait_for(lambda: feed.health().failures >= 3, within=5)
    assert "set mode to snapshot" in feed.health().detail, feed.health()
    assert len(records(caplog, logging.WARNING)) == 1
    assert not any("online" in r.getMessage() for r in records(caplog, logging.INFO))
    await wait_for(lambda: make_feed.events)
    assert [e.online for e in make_feed.events] == [False]


async def test_taking_a_camera_out_of_service_is_not_an_alarm(server, make_feed, caplog):
    feed = make_feed(camera(server.stream_url, username=USER, password=PASSWORD))
    await wait_for(lambda: feed.health().online, within=5)
    feed.set_online(False)
    await wait_for(lambda: not feed.health().online, within=3)
    count = feed.frames_produced
    await asyncio.sleep(0.3)
    assert feed.frames_produced == count
    assert feed.health().detail == "taken out of service"
    feed.set_online(True)
    await wait_for(lambda: feed.health().online, within=5)
    assert not records(caplog, logging.WARNING)
    await wait_for(lambda: len(make_feed.events) == 3)  # handed to the loop: may lag
    assert [e.online for e in make_feed.events] == [True, False, True]


# --- snapshot polling ------------------------------------------------------------------------

async def test_snapshot_polling_with_basic_auth(server, make_feed):
    feed = make_feed(camera(server.snapshot_url, mode="snapshot", fps=10,
                            username=USER, password=PASSWORD))
    await wait_for(lambda: feed.frames_produced >= 8, within=5)
    health = feed.health()
    assert health.online
    assert 6 <= health.fps <= 11, health  # polled at 10 fps
    assert server.requests["snapshot"] >= 8
    assert server.index - frame_index(feed.latest()[0]) <= 4


async def test_snapshot_with_a_wrong_password_is_offline_with_a_clear_detail(server,
                                                                              make_feed,
                                                                              caplog):
    feed = make_feed(camera(server.snapshot_url, mode="snapshot", fps=10,
                            username=USER, password="wrong"))
    await wait_for(lambda: feed.health().failures >= 3, within=5)
    health = feed.health()
    assert not health.online
    assert "HTTP 401 Unauthorized (check the user name and password)" in health.detail
    assert PASSWORD not in health.detail and "wrong" not in health.detail
    assert len(records(caplog, logging.WARNING)) == 1
    assert server.requests["snapshot"] == 0


async def test_digest_auth_for_snapshots_and_streams(make_feed):
    """Hikvision and Axis cameras default to Digest: urllib and FFMPEG both answer it."""
    srv = MjpegServer(fps=20, username=USER, password=PASSWORD, auth="digest")
    await srv.start()
    try:
        snap = make_feed(camera(srv.snapshot_url, mode="snapshot", fps=10, username=USER,
                                password=PASSWORD))
        stream = make_feed(camera(srv.stream_url, username=USER, password=PASSWORD))
        await wait_for(lambda: snap.frames_produced >= 3 and stream.frames_produced >= 10,
                       within=5)
        assert snap.health().online and stream.health().online
        wrong = await asyncio.to_thread(probe, srv.snapshot_url,
                                        {"mode": "snapshot", "username": USER,
                                         "password": "nope"}, 2)
        assert not wrong.ok and "HTTP 401" in wrong.detail, wrong
    finally:
        await asyncio.gather(asyncio.to_thread(snap.stop), asyncio.to_thread(stream.stop))
        await srv.stop()


async def test_snapshot_mode_on_a_stream_url_says_so(server, make_feed):
    feed = make_feed(camera(server.stream_url, mode="snapshot", username=USER,
                            password=PASSWORD))
    await wait_for(lambda: feed.health().failures >= 1, within=5)
    assert "not a snapshot: clear snapshot mode" in feed.health().detail, feed.health()


# --- video files -----------------------------------------------------------------------------

async def test_video_file_loops_at_its_own_frame_rate(tmp_path, make_feed):
    path = write_clip(tmp_path / "clip.avi", frames=10, fps=20)
    feed = make_feed(camera(path))
    seen: list[int] = []

    def sample():
        latest = feed.latest()
        if latest is not None:
            index = frame_index(latest[0])
            if not seen or seen[-1] != index:
                seen.append(index)
        return seen.count(0) >= 2 and feed.frames_produced >= 25

    await wait_for(sample, within=5, interval=0.01)
    assert 9 in seen and seen.index(9) < len(seen) - 1  # 9 then back to 0: it loops
    assert 14 <= feed.health().fps <= 23, feed.health()  # the clip's 20 fps, not faster
    assert feed.health().detail.startswith("320x240, 20 fps, MJPG via FFMPEG")


async def test_a_missing_file_is_offline(tmp_path, make_feed, caplog):
    feed = make_feed(camera(str(tmp_path / "nope.avi")))
    await wait_for(lambda: feed.health().failures >= 1, within=3)
    assert "video file not found" in feed.health().detail
    assert len(records(caplog, logging.WARNING)) == 1


async def test_without_a_loop_events_are_published_on_the_capture_thread(tmp_path, feeds):
    seen: list[tuple[str, bool]] = []
    feed = CameraFeed(camera(write_clip(tmp_path / "clip.avi")),
                      lambda e: seen.append((threading.current_thread().name, e.online)))
    feeds.append(feed)
    feed.start()
    await wait_for(lambda: seen, within=5)
    assert seen == [("camera-CAM-T", True)]


async def test_health_of_a_simulated_camera():
    from app.adapters.camera.capture import health_of
    from app.sim.camera import SimCamera

    sim = SimCamera(camera("sim:entry"), fps=20, size=(320, 180))
    assert not health_of(sim).online
    sim.start()
    try:
        await wait_for(lambda: health_of(sim).online, within=3)
        assert health_of(sim).fps == 20 and health_of(sim).last_frame_age_s < 1
    finally:
        await asyncio.to_thread(sim.stop)


async def test_stop_joins_the_thread_promptly(tmp_path, make_feed):
    feed = make_feed(camera(write_clip(tmp_path / "clip.avi")))
    await wait_for(lambda: feed.frames_produced >= 2, within=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.to_thread(feed.stop, 2.0)
    assert loop.time() - started < 0.5
    assert not any(t.name == "camera-CAM-T" for t in threading.enumerate())
    assert feed.health().detail == "stopped"


# --- probe -----------------------------------------------------------------------------------

async def test_probe_a_stream_measures_size_and_rate(server):
    result = await asyncio.to_thread(probe, server.stream_url,
                                     {"username": USER, "password": PASSWORD}, 3)
    assert result.ok, result.detail
    assert (result.width, result.height) == (320, 240)
    assert 14 <= result.fps <= 26, result


async def test_probe_a_snapshot_url_and_a_file(server, tmp_path):
    snap = await asyncio.to_thread(probe, server.snapshot_url,
                                   {"mode": "snapshot", "username": USER,
                                    "password": PASSWORD}, 3)
    assert snap.ok and (snap.width, snap.height) == (320, 240), snap
    clip = await asyncio.to_thread(probe, write_clip(tmp_path / "c.avi", fps=12), {}, 3)
    assert clip.ok and clip.fps == 12, clip


async def test_probe_failures_say_why(server, unused_tcp_port, tmp_path):
    async def run(source, settings=None):
        return await asyncio.to_thread(probe, source, settings or {}, 2)

    refused = await run(f"http://127.0.0.1:{unused_tcp_port}/video.mjpg")
    assert not refused.ok and "connection refused" in refused.detail, refused
    bad_password = await run(server.stream_url, {"username": USER, "password": "nope"})
    assert not bad_password.ok and "HTTP 401" in bad_password.detail, bad_password
    assert ":***@" in bad_password.detail and "nope" not in bad_password.detail
    snapshot_as_stream = await run(server.snapshot_url,
                                   {"username": USER, "password": PASSWORD})
    assert not snapshot_as_stream.ok
    assert "set mode to snapshot" in snapshot_as_stream.detail, snapshot_as_stream
    rtsp = await run(f"rtsp://127.0.0.1:{unused_tcp_port}/stream1", {"rtsp_transport": "tcp"})
    assert not rtsp.ok and "connection refused" in rtsp.detail, rtsp
    assert not (await run("sim:entry")).ok
    usb = await run("usb:63")
    assert not usb.ok and "no such video device" in usb.detail, usb
    missing = await run(str(tmp_path / "none.avi"))
    assert not missing.ok and "not found" in missing.detail
