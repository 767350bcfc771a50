"""The camera settings dialog: the form, the Test button (the real capture probe on a
worker thread, on a real qasync loop, while the UI keeps running) and Save when the core
offers it."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QTimer

import ui.dialogs.camera_settings as camera_settings
from app.domain.site import Camera, CameraRole
from tests.helpers.qt_loop import run_on_qasync
from tests.helpers.waiting import wait_for
from ui.dialogs.camera_settings import CameraSettingsDialog, describe_probe

CAM = Camera("CAM-GATE", "Gate camera", CameraRole.LANE, "rtsp://10.0.0.9/stream1",
             {"rtsp_transport": "udp", "username": "admin", "password": "s3cret",
              "roi": [0.1, 0.2, 0.5, 0.6], "country": "NL", "fps": 12, "push_token": "t0k"})


@pytest.fixture
def dialogs(themed):
    made: list[CameraSettingsDialog] = []

    def make(camera: Camera = CAM, **kw) -> CameraSettingsDialog:
        d = CameraSettingsDialog(camera, **kw)
        made.append(d)
        return d

    yield make
    for d in made:
        if shiboken6.isValid(d):
            d.close()
            shiboken6.delete(d)


@pytest.fixture
def clip(tmp_path):
    """A short MJPEG .avi: a file source the real probe can open without a network."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(20):
        frame = np.full((240, 320, 3), (i * 10) % 255, np.uint8)
        writer.write(frame)
    writer.release()
    return path


class LoopWatch:
    """A 10 ms QTimer: the largest gap between its ticks is how long the UI thread froze."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def stop(self) -> float:
        self.timer.stop()
        return self.worst


def test_the_form_shows_the_camera_and_keeps_unknown_settings(dialogs):
    d = dialogs()
    assert d.windowTitle() == "Camera settings — Gate camera"
    assert d.name_edit.text() == "Gate camera"
    assert d.source_edit.text() == "rtsp://10.0.0.9/stream1"
    assert d.role_combo.currentData() == CameraRole.LANE
    assert d.transport_combo.currentData() == "udp" and d.transport_combo.isEnabled()
    assert d.user_edit.text() == "admin"
    assert d.password_edit.echoMode() == d.password_edit.EchoMode.Password
    assert d.roi() == [0.1, 0.2, 0.5, 0.6]
    assert d.recognizer_check.isChecked()
    assert d.country_combo.currentText() == "NL"
    assert d.save_button.isHidden() and "cannot save" in d.note_label.text()  # no core API yet
    d.transport_combo.setCurrentIndex(d.transport_combo.findData("tcp"))
    d.snapshot_check.setChecked(True)
    d.recognizer_check.setChecked(False)
    d.country_combo.setCurrentText("de")
    d.role_combo.setCurrentIndex(d.role_combo.findData(CameraRole.BAY))
    d.roi_spins[2].setValue(0.9)  # x 0.1 + w 0.9 = 1: still inside
    edited = d.edited_camera()
    assert edited.role is CameraRole.BAY
    assert edited.settings == {"rtsp_transport": "tcp", "username": "admin",
                               "password": "s3cret", "mode": "snapshot",
                               "roi": [0.1, 0.2, 0.9, 0.6], "recognizer": "off",
                               "country": "DE", "fps": 12, "push_token": "t0k"}
    d.source_edit.setText("http://10.0.0.9/snap.jpg")
    assert not d.transport_combo.isEnabled()  # RTSP transport is for rtsp:// only


def test_a_region_outside_the_frame_or_an_empty_name_is_refused(dialogs):
    saves = []
    d = dialogs(save=lambda actor, cam: saves.append(cam))
    assert d.save_button.isEnabled()
    d.roi_spins[0].setValue(0.6)  # x 0.6 + w 0.5 > 1
    assert not d.save_button.isEnabled()
    assert "region of interest" in d.result_label.text()
    d.roi_spins[0].setValue(0.5)
    assert d.save_button.isEnabled()
    d.name_edit.setText("  ")
    assert not d.save_button.isEnabled() and d.result_label.text() == "The camera needs a name."


def test_test_probes_a_real_file_source_on_a_worker_thread(qapp, dialogs, clip):
    d = dialogs(Camera("CAM-F", "File camera", CameraRole.BAY, str(clip)))
    assert not d.transport_combo.isEnabled()
    results = []
    d.tested.connect(lambda ok, line: results.append((ok, line)))

    async def scenario():
        watch = LoopWatch()
        task = d.start_test()
        assert task is not None and not d.test_button.isEnabled()
        assert d.result_label.text().startswith("Testing ")
        await wait_for(lambda: results, within=15)
        return watch.stop()

    worst = run_on_qasync(qapp, scenario())
    ok, line = results[0]
    assert ok, line
    assert line.startswith("✓ Picture received: 320x240")
    assert d.result_label.text() == line and d.test_button.isEnabled()
    assert worst < 0.5, f"the UI loop stalled {worst * 1000:.0f} ms during the probe"


def test_test_of_a_dead_rtsp_camera_says_why(qapp, dialogs):
    d = dialogs(Camera("CAM-D", "Dead", CameraRole.LANE, "rtsp://127.0.0.1:9/none"))
    results = []
    d.tested.connect(lambda ok, line: results.append((ok, line)))

    async def scenario():
        d.start_test()
        await wait_for(lambda: results, within=15)

    run_on_qasync(qapp, scenario())
    ok, line = results[0]
    assert not ok and line.startswith("✗ No picture: ")
    assert "s3cret" not in line


def test_a_slow_probe_does_not_freeze_the_console(qapp, dialogs):
    calls = []

    def slow_probe(source, settings, timeout_s):
        calls.append((source, settings, timeout_s))
        time.sleep(0.6)  # a camera that takes its time (on the worker thread)
        return SimpleNamespace(ok=True, width=1920, height=1080, fps=25.0, detail="H.264")

    d = dialogs(probe=slow_probe)
    results = []
    d.tested.connect(lambda ok, line: results.append(line))

    async def scenario():
        watch = LoopWatch()
        d.start_test()
        assert d.start_test() is d._task  # a second press while testing does nothing new
        await wait_for(lambda: results, within=5)
        return watch.stop()

    worst = run_on_qasync(qapp, scenario())
    assert results == ["✓ Picture received: 1920x1080 at 25 fps (H.264)"]
    assert len(calls) == 1 and calls[0][0] == "rtsp://10.0.0.9/stream1"
    assert calls[0][1]["rtsp_transport"] == "udp" and calls[0][2] == 5
    assert worst < 0.4, f"the UI loop stalled {worst * 1000:.0f} ms (the probe sleeps 600)"


def test_without_the_capture_module_test_says_so(dialogs, monkeypatch):
    def missing():
        raise ImportError("No module named 'app.adapters.camera.capture'")

    monkeypatch.setattr(camera_settings, "default_probe", missing)
    d = dialogs()
    assert d.start_test() is None
    assert d.result_label.text().startswith("Cannot test: this console has no camera capture")


def test_a_simulated_camera_has_nothing_to_probe(dialogs):
    d = dialogs(Camera("CAM-ENTRY", "Entry", CameraRole.LANE, "sim:entry"))
    assert d.start_test() is None
    assert d.result_label.text().startswith("Simulated camera")


def test_save_hands_the_edited_camera_to_the_core(qapp, dialogs):
    saved = []

    async def save(actor, camera):
        await asyncio.sleep(0.01)
        saved.append((actor, camera))
        return camera

    d = dialogs(save=save, actor="attendant")

    async def scenario():
        d.name_edit.setText("Gate camera (north)")
        d.save_button.click()
        await wait_for(lambda: d.saved_camera is not None, within=5)

    run_on_qasync(qapp, scenario())
    assert saved[0][0] == "attendant"
    assert saved[0][1].name == "Gate camera (north)" and saved[0][1].id == "CAM-GATE"
    assert d.result() == d.DialogCode.Accepted


def test_describe_probe():
    assert describe_probe(SimpleNamespace(ok=False, detail="401 Unauthorized")) == \
        (False, "✗ No picture: 401 Unauthorized")
    assert describe_probe(SimpleNamespace(ok=True, width=640, height=480, fps=0, detail="")) == \
        (True, "✓ Picture received: 640x480")


def test_settings_saved_from_the_wall_of_a_real_core(qapp, themed, tmp_path):
    """The wall of a real core: the dialog can save; the camera is renamed in the site and
    on its tile, and the change is in the audit trail."""
    from app.bootstrap import build_core
    from tests.helpers.settings import loopback_settings
    from ui.bridge import CoreBridge
    from ui.views.camera_wall import CameraWall

    async def scenario():
        core = await build_core(loopback_settings(tmp_path))
        await core.start()
        bridge = CoreBridge(core)
        wall = CameraWall(core, bridge)
        try:
            dialog = wall.open_settings("CAM-EXIT")
            assert not dialog.save_button.isHidden()
            dialog.name_edit.setText("Exit A camera")
            dialog.save_button.click()
            await wait_for(lambda: dialog.saved_camera is not None, within=5)
            await wait_for(lambda: wall.tiles["CAM-EXIT"].name == "Exit A camera")
            assert next(c for c in core.site.cameras if c.id == "CAM-EXIT").name == \
                "Exit A camera"
        finally:
            bridge.close()
            await core.stop()
            wall.close()
            wall.deleteLater()

    run_on_qasync(qapp, scenario())
