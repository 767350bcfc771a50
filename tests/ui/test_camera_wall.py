"""The camera wall in the real main window (offscreen), fed by real SimCameras: live tiles,
health badges, plate reads through the bridge, enlarge and back, and a timer that only
works while the wall is on screen."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSize, Qt

import ui.views.camera_tile as camera_tile
from app.domain.events import CameraHealthChanged, PlateRead
from app.domain.site import Camera, CameraRole
from app.sim.camera import SimCamera
from ui.views.camera_tile import frame_to_image
from ui.views.camera_wall import CameraWall, grid_shape


@pytest.fixture
def cams(core):
    """Every camera of the demo site as a small, slow SimCamera (5 of them), added in
    reverse: the wall still shows them in the site's order."""
    for camera in reversed(core.site.cameras):
        feed = SimCamera(camera, fps=10, size=(320, 180))
        core.cameras[camera.id] = feed
        feed.start()
    yield core.cameras
    for feed in core.cameras.values():
        feed.stop()


@pytest.fixture
def wall(qtbot, cams, window) -> CameraWall:
    window.show_cameras()
    w = window.camera_wall
    qtbot.waitUntil(lambda: all(t.has_image() for t in w.tiles.values()), timeout=5000)
    return w


def test_the_cameras_tab_shows_a_live_tile_per_camera(qtbot, wall, window, core):
    assert window.center_tabs.tabText(window.center_tabs.currentIndex()) == "Cameras"
    assert window.minimumWidth() <= 1024
    assert list(wall.tiles) == [c.id for c in core.site.cameras]  # lanes first, site order
    tile = wall.tiles["CAM-ENTRY"]
    assert tile.name == "Entry lane camera"
    assert wall.timer.isActive()
    # Scaled to the pixels the tile shows (16:9 inside the tile), not the camera's 320x180.
    dpr = tile.devicePixelRatioF()
    target = tile._target()
    assert tile.image_size() == QSize(round(target.width() * dpr), round(target.height() * dpr))
    assert tile.width() > 150 and abs(target.width() / target.height() - 16 / 9) < 0.02
    shown = tile.frames_shown
    qtbot.waitUntil(lambda: tile.frames_shown >= shown + 5, timeout=3000)
    qtbot.waitUntil(lambda: tile.badge_text().endswith("fps"), timeout=3000)
    assert 5 <= tile.display_fps() <= 12  # the camera gives 10 fps
    # Tiles do not overlap and all lie inside the wall.
    rects = [t.geometry() for t in wall.tiles.values()]
    for i, a in enumerate(rects):
        assert wall.grid.rect().contains(a)
        assert not any(a.intersects(b) for b in rects[i + 1:])


def test_a_frame_is_converted_only_when_it_changed(qtbot, wall, cams):
    feed = cams["CAM-EXIT"]
    tile = wall.tiles["CAM-EXIT"]
    feed.stop()  # the newest frame stays, its timestamp no longer moves
    wall.tick()  # takes the last frame made before the stop
    before = tile.frames_shown
    for _ in range(5):
        wall.tick()
    qtbot.wait(150)
    assert tile.frames_shown == before


def test_plate_read_shows_on_its_camera_and_fades(qtbot, wall, core, monkeypatch):
    at = datetime(2025, 3, 14, 9, 0, 5, tzinfo=UTC)
    core.bus.publish(PlateRead(at=at, camera_id="CAM-ENTRY", plate="XK-482-B", confidence=0.92))
    tile = wall.tiles["CAM-ENTRY"]
    local = at.astimezone().strftime("%H:%M:%S")
    assert tile.plate_text() == f"XK-482-B  92%  {local}"
    assert wall.tiles["CAM-EXIT"].plate_text() == ""
    now = time.monotonic()
    assert tile.plate_text(now + 14) != ""
    assert 0 < tile._plate_alpha(now + 17.5) < 1  # fading
    assert tile.plate_text(now + 21) == ""  # gone after ~20 s
    # The enlarged view shows the same read.
    big = wall.enlarge("CAM-ENTRY")
    assert big.plate_text().startswith("XK-482-B")


def test_a_repeat_offenders_read_wears_the_badge(qtbot, wall, core):
    from app.domain.enforcement import StepKind, ViolationKind
    from tests.helpers.enforcement import PLATE, FakeEnforcement, violation

    enforcement = core.enforcement = FakeEnforcement()
    enforcement.history[PLATE] = [
        violation(n, datetime(2025, 3, 10 - n, 8, 0, tzinfo=UTC), ViolationKind.ICE,
                  StepKind.WARNING) for n in (1, 2, 3)]
    at = datetime(2025, 3, 14, 9, 0, 5, tzinfo=UTC)
    core.bus.publish(PlateRead(at=at, camera_id="CAM-ENTRY", plate=PLATE, confidence=0.9))
    assert wall.tiles["CAM-ENTRY"].plate_text().endswith("⚠ 3")
    core.bus.publish(PlateRead(at=at, camera_id="CAM-EXIT", plate="ZZ-111-Z", confidence=0.9))
    assert "⚠" not in wall.tiles["CAM-EXIT"].plate_text()


def test_offline_and_stale_badges(qtbot, wall, core, cams, monkeypatch):
    monkeypatch.setattr(camera_tile, "STALE_S", 0.3)
    monkeypatch.setattr(camera_tile, "HEALTH_EVERY_S", 0.05)
    cams["CAM-BAY-A"].set_online(False)  # no new frames: the picture goes stale
    tile = wall.tiles["CAM-BAY-A"]
    qtbot.waitUntil(lambda: tile.badge_text().startswith("stale · last frame"), timeout=3000)
    core.bus.publish(CameraHealthChanged(at=datetime.now(UTC), camera_id="CAM-BAY-B",
                                         online=False, detail="RTSP timeout"))
    qtbot.waitUntil(lambda: wall.tiles["CAM-BAY-B"].badge_text() == "OFFLINE", timeout=3000)
    assert wall.tiles["CAM-BAY-B"].health.detail == "RTSP timeout"
    core.bus.publish(CameraHealthChanged(at=datetime.now(UTC), camera_id="CAM-BAY-B",
                                         online=True))
    qtbot.waitUntil(lambda: wall.tiles["CAM-BAY-B"].badge_text().endswith("fps"), timeout=3000)


class _CaptureLike:
    """A real capture feed's interface: latest() and health() (here: never connected)."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera

    def latest(self):
        return None

    def health(self):
        return (False, 0.0, None, "connection refused", 0)


def test_a_feed_with_health_reports_its_own_state(qtbot, themed, core, bridge, monkeypatch):
    monkeypatch.setattr(camera_tile, "HEALTH_EVERY_S", 0.0)
    cam = Camera("CAM-RTSP", "Gate RTSP", CameraRole.LANE, "rtsp://10.0.0.9/stream")
    core.cameras["CAM-RTSP"] = _CaptureLike(cam)
    w = CameraWall(core, bridge, tick_ms=20)
    w.resize(640, 360)  # not shown: a top-level window offscreen warns on size hints
    w.tick()
    tile = w.tiles["CAM-RTSP"]
    assert tile.badge_text() == "OFFLINE"
    assert tile.health.detail == "connection refused"
    assert not tile.has_image()
    w.deleteLater()


def test_click_enlarges_and_esc_or_click_returns(qtbot, wall):
    tile = wall.tiles["CAM-BAY-C"]
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert wall.focus_id == "CAM-BAY-C"
    big = wall.focus_tile
    assert wall.stack.currentWidget() is wall.focus_page
    assert wall.visible_tiles() == [big]
    qtbot.waitUntil(lambda: big.has_image() and big.image_size().width() > tile.width(),
                    timeout=3000)
    assert wall.focus_title.text() == "EV bays camera C"
    # Only the enlarged tile is fed while it is up.
    small_before = tile.frames_shown
    qtbot.waitUntil(lambda: big.frames_shown >= 3, timeout=3000)
    assert tile.frames_shown == small_before
    qtbot.keyClick(big, Qt.Key.Key_Escape)
    assert wall.stack.currentWidget() is wall.grid and wall.focus_id == ""
    # Enter on a focused tile enlarges too; a click on the big picture returns.
    tile.setFocus()
    qtbot.keyClick(tile, Qt.Key.Key_Return)
    assert wall.focus_id == "CAM-BAY-C"
    qtbot.mouseClick(wall.focus_tile, Qt.MouseButton.LeftButton, pos=QPoint(30, 30))
    assert wall.focus_id == ""
    qtbot.mouseClick(wall.back_button, Qt.MouseButton.LeftButton)  # harmless on the wall


def test_the_timer_runs_only_while_the_wall_is_on_screen(qtbot, wall, window):
    assert wall.timer.isActive()
    window.center_tabs.setCurrentIndex(0)  # back to the live map
    assert not wall.timer.isActive()
    ticks = wall.ticks
    qtbot.wait(150)
    assert wall.ticks == ticks
    window.show_cameras("CAM-ENTRY")
    assert wall.timer.isActive() and wall.focus_id == "CAM-ENTRY"


def test_ticks_are_cheap(qtbot, wall):
    qtbot.wait(1000)
    stats = wall.tick_stats()
    assert stats["ticks"] > 10
    assert stats["p50_ms"] < 10  # 5 small tiles; the benchmark measures the real sizes


def test_settings_dialog_opens_from_the_enlarged_view(qtbot, wall):
    wall.enlarge("CAM-ENTRY")
    qtbot.mouseClick(wall.settings_button, Qt.MouseButton.LeftButton)
    dialog = wall.settings_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    assert dialog.name_edit.text() == "Entry lane camera"
    assert dialog.source_edit.text() == "sim:entry"
    assert dialog.save_button.isHidden()  # this test core has no camera settings store
    assert wall.timer.isActive()  # open(), not exec(): the wall keeps running
    dialog.reject()
    qtbot.waitUntil(lambda: wall.settings_dialog is None, timeout=2000)


def test_lane_cameras_come_first_whatever_the_site_order(qtbot, themed, core, bridge):
    from dataclasses import replace

    core.site = replace(core.site, cameras=tuple(sorted(core.site.cameras, key=lambda c: c.id)))
    for camera in core.site.cameras:
        core.cameras[camera.id] = SimCamera(camera, fps=5, size=(160, 90))  # not started
    w = CameraWall(core, bridge)
    w.resize(640, 360)
    assert list(w.tiles) == ["CAM-ENTRY", "CAM-EXIT", "CAM-BAY-A", "CAM-BAY-B", "CAM-BAY-C"]
    w.deleteLater()


def test_no_cameras_says_so(qtbot, themed, core, bridge):
    w = CameraWall(core, bridge)
    w.resize(640, 360)
    assert w.tiles == {}
    assert not w.grid.empty_label.isHidden()
    w.deleteLater()


def test_grid_shape_picks_the_largest_pictures():
    assert grid_shape(4, QSize(1000, 570))[:2] == (2, 2)
    assert grid_shape(5, QSize(800, 600))[:2] == (2, 3)
    assert grid_shape(5, QSize(1600, 500))[:2] == (3, 2)
    assert grid_shape(1, QSize(300, 200))[:2] == (1, 1)


def test_frame_to_image_keeps_colours_and_stride():
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[:, :80] = (255, 0, 0)  # blue (BGR) on the left, red on the right
    frame[:, 80:] = (0, 0, 255)
    image, pixels = frame_to_image(frame, 61, 33)  # odd width: a padded stride
    assert (image.width(), image.height()) == (61, 33)
    assert image.bytesPerLine() == pixels.strides[0]
    left, right = image.pixelColor(2, 16), image.pixelColor(58, 16)
    assert (left.red(), left.green(), left.blue()) == (0, 0, 255)
    assert (right.red(), right.green(), right.blue()) == (255, 0, 0)
