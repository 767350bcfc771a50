"""Camera source strings, credentials, the FFMPEG options gate and the reconnect backoff."""

from __future__ import annotations

import os
import threading
import time

import pytest

from app.adapters.camera import sources
from app.adapters.camera.capture import Backoff, CameraFeed
from app.adapters.camera.sources import (
    ENV_OPTIONS,
    OPENCV_DEFAULT_OPTIONS,
    ffmpeg_option_value,
    ffmpeg_options,
    parse_source,
    redact,
)
from app.domain.site import Camera, CameraRole


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.setenv(ENV_OPTIONS, OPENCV_DEFAULT_OPTIONS)  # as the module leaves it


# --- parse_source ----------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "settings", "kind", "target"), [
    ("rtsp://10.0.0.5:554/Streaming/Channels/101", {}, "rtsp",
     "rtsp://10.0.0.5:554/Streaming/Channels/101"),
    ("http://cam/video.mjpg", {}, "mjpeg", "http://cam/video.mjpg"),
    ("https://cam/snap.jpg", {"mode": "snapshot"}, "snapshot", "https://cam/snap.jpg"),
    ("usb:0", {}, "usb", 0),
    ("USB:2", {}, "usb", 2),
    ("/dev/video1", {}, "usb", "/dev/video1"),
    ("/srv/clips/entry.avi", {}, "file", "/srv/clips/entry.avi"),
    ("resources/clips/demo.mp4", {}, "file", "resources/clips/demo.mp4"),
    ("file:///srv/clips/my%20clip.avi", {}, "file", "/srv/clips/my clip.avi"),
])
def test_source_kinds(source, settings, kind, target):
    spec = parse_source(source, settings)
    assert (spec.kind, spec.target) == (kind, target)


@pytest.mark.parametrize("source", ["sim:entry", "usb:front", "ftp://cam/x.avi"])
def test_sources_this_adapter_does_not_read(source):
    with pytest.raises(ValueError):
        parse_source(source)


def test_settings_credentials_go_into_stream_urls_percent_encoded_and_are_redacted():
    spec = parse_source("rtsp://10.0.0.5/stream1", {"username": "ad min", "password": "p@ss:w/d"})
    assert spec.target == "rtsp://ad%20min:p%40ss%3Aw%2Fd@10.0.0.5/stream1"
    assert spec.display == "rtsp://ad%20min:***@10.0.0.5/stream1"
    assert "p%40ss" not in spec.display


def test_credentials_in_the_url_win_over_settings():
    spec = parse_source("http://u:pw@cam:8080/video.mjpg", {"username": "x", "password": "y"})
    assert spec.target == "http://u:pw@cam:8080/video.mjpg"
    assert spec.display == "http://u:***@cam:8080/video.mjpg"


def test_snapshot_keeps_credentials_out_of_the_url():
    spec = parse_source("http://cam/snap.jpg", {"mode": "snapshot", "username": "u",
                                                "password": "pw"})
    assert spec.target == "http://cam/snap.jpg"
    assert spec.display == "http://u:***@cam/snap.jpg"


def test_redact_leaves_urls_without_a_password_alone():
    assert redact("rtsp://cam/s") == "rtsp://cam/s"
    assert redact("rtsp://user@cam/s") == "rtsp://user@cam/s"


@pytest.mark.parametrize(("fps", "expected"), [(None, None), ("", None), (0, None),
                                               ("x", None), (5, 5.0), ("2.5", 2.5)])
def test_fps_setting(fps, expected):
    assert parse_source("http://cam/v", {"fps": fps}).max_fps == expected


# --- FFMPEG options --------------------------------------------------------------------------

def test_rtsp_transport_option_value():
    tcp = parse_source("rtsp://cam/s", {"rtsp_transport": "TCP"})
    assert ffmpeg_option_value(tcp) == "rtsp_transport;tcp"
    assert ffmpeg_option_value(tcp, "stimeout;5000000|rtsp_transport;udp") == \
        "stimeout;5000000|rtsp_transport;tcp"  # the installer's options are kept
    assert ffmpeg_option_value(tcp, OPENCV_DEFAULT_OPTIONS) == "rtsp_transport;tcp"
    assert ffmpeg_option_value(parse_source("rtsp://cam/s")) is None
    assert ffmpeg_option_value(parse_source("rtsp://cam/s", {"rtsp_transport": "bogus"})) is None
    assert ffmpeg_option_value(parse_source("http://cam/v", {"rtsp_transport": "tcp"})) is None


def test_the_environment_holds_the_option_during_an_rtsp_open_only(monkeypatch):
    seen = []

    class FakeCapture:
        def __init__(self, target, backend, params):
            seen.append((target, os.environ.get(ENV_OPTIONS)))

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeCapture)
    monkeypatch.setattr(sources, "diagnose_tcp", lambda *a: "refused")
    for transport in ("tcp", "udp"):
        spec = parse_source("rtsp://cam/s", {"rtsp_transport": transport})
        with pytest.raises(sources.SourceError):
            sources.open_source(spec, 0.5, 0.5)
    assert seen == [("rtsp://cam/s", "rtsp_transport;tcp"), ("rtsp://cam/s", "rtsp_transport;udp")]
    assert os.environ[ENV_OPTIONS] == OPENCV_DEFAULT_OPTIONS  # restored afterwards


def test_the_variable_exists_from_import_with_opencvs_own_default():
    import subprocess
    import sys

    code = ("import os; os.environ.pop('OPENCV_FFMPEG_CAPTURE_OPTIONS', None); "
            "import app.adapters.camera.sources; "
            "print(os.environ['OPENCV_FFMPEG_CAPTURE_OPTIONS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=30)
    assert out.stdout.strip() == OPENCV_DEFAULT_OPTIONS


def test_an_installer_value_is_restored(monkeypatch):
    monkeypatch.setenv(ENV_OPTIONS, "stimeout;1000")
    with ffmpeg_options(parse_source("rtsp://cam/s", {"rtsp_transport": "tcp"})):
        assert os.environ[ENV_OPTIONS] == "stimeout;1000|rtsp_transport;tcp"
    assert os.environ[ENV_OPTIONS] == "stimeout;1000"


def _run_opens(plan):
    """Threads entering the gate in order; each records (name, env at entry, overlap)."""
    log, inside, lock = [], [], threading.Lock()

    def open_(name, transport, hold_s):
        with ffmpeg_options(parse_source("rtsp://cam/s", {"rtsp_transport": transport})):
            with lock:
                inside.append(name)
                log.append((name, os.environ.get(ENV_OPTIONS), tuple(inside)))
            time.sleep(hold_s)
            with lock:
                inside.remove(name)

    threads = []
    for name, transport, hold_s in plan:
        t = threading.Thread(target=open_, args=(name, transport, hold_s))
        t.start()
        threads.append(t)
        time.sleep(0.02)  # enter in order
    for t in threads:
        t.join(5)
    return log


def test_opens_with_the_same_transport_overlap_and_others_take_their_turn():
    log = _run_opens([("a", "tcp", 0.15), ("b", "tcp", 0.15), ("c", "udp", 0.05),
                      ("d", "tcp", 0.05)])
    by_name = {name: (env, overlap) for name, env, overlap in log}
    assert by_name["b"] == ("rtsp_transport;tcp", ("a", "b"))  # joined a at once
    assert by_name["c"] == ("rtsp_transport;udp", ("c",))  # alone, after a and b
    # d came after c: it waits for c (first come, first served) rather than joining b.
    assert [name for name, _, _ in log] == ["a", "b", "c", "d"]
    assert by_name["d"][0] == "rtsp_transport;tcp"
    assert os.environ[ENV_OPTIONS] == OPENCV_DEFAULT_OPTIONS


def test_http_and_file_opens_skip_the_gate():
    with ffmpeg_options(parse_source("rtsp://cam/s", {"rtsp_transport": "udp"})):
        done = threading.Event()

        def other():
            with ffmpeg_options(parse_source("http://cam/v")):
                done.set()

        threading.Thread(target=other).start()
        assert done.wait(1)


# --- backoff and the feed's own checks ------------------------------------------------------

def test_backoff_doubles_to_the_cap_and_resets():
    backoff = Backoff(1.0, 30.0)
    assert [backoff.next() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next() == 1


def test_feed_rejects_sim_sources_and_starts_offline():
    with pytest.raises(ValueError):
        CameraFeed(Camera("C", "c", CameraRole.LANE, "sim:entry"))
    feed = CameraFeed(Camera("C", "c", CameraRole.LANE, "rtsp://127.0.0.1:9/x"))
    health = feed.health()
    assert (health.online, health.fps, health.last_frame_age_s, health.frames) == \
        (False, 0.0, None, 0)
    assert feed.latest() is None
