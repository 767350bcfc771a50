"""The camera wall: a live tile for every camera of the Core, in the main window's
"Cameras" tab.

One QTimer on the UI thread pulls the newest frame of each visible tile, and only when
the frame changed (its timestamp moved); tiles scale it to their own pixels (see
camera_tile). The timer runs only while the wall is on screen. Plate reads arrive through
the bridge (`plateRead`) and show on the tile of their camera; camera health events
(`cameraChanged`) mark a tile offline. Click a tile (or Enter) to enlarge it in the tab;
Esc, the Back button or a click returns to the wall. Camera settings open in a dialog
(open(), never exec()).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QKeyEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.events import CameraHealthChanged
from ui.views.camera_tile import CameraTile, PlateShown
from ui.views.command_bar import actor_name
from ui.views.offender_badge import offender_badge

TICK_MS = 33  # twice the 15 fps of a camera: a new frame is shown within ~33 ms
GAP = 6  # pixels between tiles
_ASPECT = 16 / 9


def grid_shape(count: int, box: QSize, gap: int = GAP,
               aspect: float = _ASPECT) -> tuple[int, int, QSize]:
    """(columns, rows, tile size) giving the largest aspect-shaped tiles in box."""
    if count <= 0:
        return 0, 0, QSize()
    best = (1, count, QSize(0, 0))
    best_area = -1.0
    for cols in range(1, count + 1):
        rows = math.ceil(count / cols)
        cell_w = (box.width() - gap * (cols - 1)) / cols
        cell_h = (box.height() - gap * (rows - 1)) / rows
        w = min(cell_w, cell_h * aspect)
        h = w / aspect
        if w * h > best_area:
            best_area = w * h
            best = (cols, rows, QSize(max(1, int(cell_w)), max(1, int(cell_h))))
    return best


class _Grid(QWidget):
    """Lays the tiles out by hand: as many columns as give the largest 16:9 pictures."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles: list[CameraTile] = []
        self.empty_label = QLabel("No cameras are configured for this site.", self)
        self.empty_label.setObjectName("muted")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

    def set_tiles(self, tiles: list[CameraTile]) -> None:
        self.tiles = tiles
        self.empty_label.setVisible(not tiles)
        self._layout()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._layout()

    def _layout(self) -> None:
        box = self.contentsRect()
        self.empty_label.setGeometry(box)
        if not self.tiles:
            return
        cols, rows, cell = grid_shape(len(self.tiles), box.size())
        # Each tile is exactly its 16:9 picture; the block of tiles is centred.
        pic_w = min(cell.width(), int(cell.height() * _ASPECT))
        pic_h = min(cell.height(), int(pic_w / _ASPECT))
        used_w = cols * pic_w + (cols - 1) * GAP
        used_h = rows * pic_h + (rows - 1) * GAP
        left = box.left() + max(0, (box.width() - used_w) // 2)
        top = box.top() + max(0, (box.height() - used_h) // 2)
        for n, tile in enumerate(self.tiles):
            r, c = divmod(n, cols)
            tile.setGeometry(left + c * (pic_w + GAP), top + r * (pic_h + GAP), pic_w, pic_h)


class CameraWall(QWidget):
    """Every camera of `core.cameras` as a live tile. `settings_factory(camera_id)` (given
    by the wall's owner or the default below) opens the settings dialog."""

    enlarged = Signal(str)  # camera_id, "" when back on the wall

    def __init__(self, core: Any, bridge: Any = None, parent: QWidget | None = None,
                 *, tick_ms: int = TICK_MS) -> None:
        super().__init__(parent)
        self.setObjectName("cameraWall")
        self._core = core
        self.tiles: dict[str, CameraTile] = {}
        self.plates: dict[str, PlateShown] = {}
        self.settings_dialog: Any = None
        self.focus_id = ""
        self._feed_ids: tuple[str, ...] = ()
        self.tick_ms: deque[float] = deque(maxlen=5000)  # cost of each timer tick
        self.ticks = 0

        self.stack = QStackedWidget(self)
        self.grid = _Grid(self.stack)
        self.grid.setContentsMargins(8, 8, 8, 8)
        self.stack.addWidget(self.grid)
        self.focus_page = QWidget(self.stack)
        self.back_button = QPushButton("← All cameras", self.focus_page)
        self.back_button.setObjectName("cameraBack")
        self.back_button.setToolTip("Back to the camera wall (Esc)")
        self.back_button.clicked.connect(self.show_wall)
        self.focus_title = QLabel(self.focus_page)
        self.focus_title.setObjectName("cameraFocusTitle")
        self.focus_title.setStyleSheet("font-weight: 600;")
        self.settings_button = QPushButton("Camera settings…", self.focus_page)
        self.settings_button.setObjectName("cameraSettingsButton")
        self.settings_button.clicked.connect(lambda: self.open_settings(self.focus_id))
        self.focus_tile: CameraTile | None = None
        self._focus_layout = QVBoxLayout(self.focus_page)
        self._focus_layout.setContentsMargins(8, 6, 8, 8)
        head = QHBoxLayout()
        head.addWidget(self.back_button)
        head.addSpacing(8)
        head.addWidget(self.focus_title, 1)
        head.addWidget(self.settings_button)
        self._focus_layout.addLayout(head)
        self.stack.addWidget(self.focus_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(tick_ms)
        self.timer.timeout.connect(self.tick)
        if bridge is not None:
            if hasattr(bridge, "plateRead"):
                bridge.plateRead.connect(self.on_plate_read)
            # bridge.event, not cameraChanged: the health event's detail says why.
            bridge.event.connect(self._on_event)
        self.sync_feeds()

    # -- feeds ------------------------------------------------------------------------------

    def _feeds(self) -> dict[str, Any]:
        """core.cameras, lane cameras first, then in the site's order (a site loaded from
        the database lists them by id); feeds the site does not list come last."""
        feeds = dict(getattr(self._core, "cameras", None) or {})
        cameras = tuple(getattr(self._core.site, "cameras", ()))
        order = {c.id: (str(c.role) != "lane", n) for n, c in enumerate(cameras)}
        last = (True, len(cameras))
        return dict(sorted(feeds.items(), key=lambda kv: order.get(kv[0], last)))

    def _name(self, camera_id: str, feed: Any) -> str:
        camera = getattr(feed, "camera", None)
        if camera is None:
            camera = next((c for c in getattr(self._core.site, "cameras", ())
                           if c.id == camera_id), None)
        return getattr(camera, "name", "") or camera_id

    def sync_feeds(self) -> bool:
        """Make one tile per feed of core.cameras (they appear when the core starts)."""
        feeds = self._feeds()
        ids = tuple(feeds)
        if ids == self._feed_ids:
            return False
        self._feed_ids = ids
        for camera_id in list(self.tiles):
            if camera_id not in feeds:
                self.tiles.pop(camera_id).deleteLater()
        for camera_id, feed in feeds.items():
            tile = self.tiles.get(camera_id)
            if tile is None:
                tile = CameraTile(camera_id, self._name(camera_id, feed), feed, self.grid)
                tile.clicked.connect(self.enlarge)
                tile.settingsRequested.connect(self.open_settings)
                if camera_id in self.plates:
                    tile.set_plate(self.plates[camera_id])
                tile.show()
                self.tiles[camera_id] = tile
            else:
                tile.feed = feed
        self.tiles = {cid: self.tiles[cid] for cid in ids}
        self.grid.set_tiles(list(self.tiles.values()))
        if self.focus_id and self.focus_id not in self.tiles:
            self.show_wall()
        return True

    # -- the timer --------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.sync_feeds()
        if not self.timer.isActive():
            self.timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.timer.stop()  # nothing on screen: no frames are converted

    def visible_tiles(self) -> list[CameraTile]:
        if self.stack.currentWidget() is self.focus_page:
            return [self.focus_tile] if self.focus_tile is not None else []
        return list(self.tiles.values())

    def tick(self) -> None:
        t0 = time.perf_counter()
        self.ticks += 1
        if self.ticks % 30 == 0:  # about once a second: cameras added or removed
            self.sync_feeds()
        now = time.monotonic()
        for tile in self.visible_tiles():
            tile.refresh(now)
        self.tick_ms.append((time.perf_counter() - t0) * 1000)

    # -- events -----------------------------------------------------------------------------

    def on_plate_read(self, ev: Any) -> None:
        badge, _ = offender_badge(self._core, ev.plate)
        shown = PlateShown(ev.plate, float(ev.confidence), ev.at, time.monotonic(), badge)
        self.plates[ev.camera_id] = shown
        tile = self.tiles.get(ev.camera_id)
        if tile is not None:
            tile.set_plate(shown)
        if self.focus_tile is not None and self.focus_id == ev.camera_id:
            self.focus_tile.set_plate(shown)

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, CameraHealthChanged):
            self.on_camera_changed(ev.camera_id, ev.online, ev.detail)

    def on_camera_changed(self, camera_id: str, online: bool, detail: str = "") -> None:
        for tile in (self.tiles.get(camera_id),
                     self.focus_tile if self.focus_id == camera_id else None):
            if tile is not None:
                tile.set_event_health(online, detail)

    # -- enlarge ----------------------------------------------------------------------------

    def enlarge(self, camera_id: str) -> CameraTile | None:
        """Show one camera large in the tab; Esc, Back or a click returns."""
        small = self.tiles.get(camera_id)
        if small is None:
            return None
        if self.focus_tile is not None:
            self._focus_layout.removeWidget(self.focus_tile)
            self.focus_tile.deleteLater()
        tile = CameraTile(camera_id, small.name, small.feed, self.focus_page)
        tile.setToolTip(f"{small.name} — click or Esc to return to all cameras")
        tile.set_plate(self.plates.get(camera_id))
        if small.event_online is not None:
            tile.set_event_health(small.event_online, small.event_detail)
        tile.clicked.connect(self.show_wall)
        tile.settingsRequested.connect(self.open_settings)
        self._focus_layout.addWidget(tile, 1)
        self.focus_tile, self.focus_id = tile, camera_id
        self.focus_title.setText(small.name)
        self.stack.setCurrentWidget(self.focus_page)
        tile.refresh()
        tile.setFocus()
        self.enlarged.emit(camera_id)
        return tile

    def show_wall(self) -> None:
        if self.stack.currentWidget() is self.grid:
            return
        back_to = self.tiles.get(self.focus_id)
        self.stack.setCurrentWidget(self.grid)
        if self.focus_tile is not None:
            self._focus_layout.removeWidget(self.focus_tile)
            self.focus_tile.deleteLater()
            self.focus_tile = None
        self.focus_id = ""
        for tile in self.tiles.values():
            tile.refresh()
        if back_to is not None:
            back_to.setFocus()
        self.enlarged.emit("")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.stack.currentWidget() is self.focus_page:
            self.show_wall()
            event.accept()
            return
        super().keyPressEvent(event)

    # -- settings ---------------------------------------------------------------------------

    def camera(self, camera_id: str) -> Any:
        feed = self._feeds().get(camera_id)
        camera = getattr(feed, "camera", None)
        if camera is None:
            camera = next((c for c in getattr(self._core.site, "cameras", ())
                           if c.id == camera_id), None)
        return camera

    def open_settings(self, camera_id: str) -> Any:
        """The settings dialog of one camera, opened with open() (non-blocking)."""
        from ui.dialogs.camera_settings import CameraSettingsDialog

        camera = self.camera(camera_id)
        if camera is None:
            return None
        if self.settings_dialog is not None:
            self.settings_dialog.close()
            self.settings_dialog.deleteLater()
        dialog = CameraSettingsDialog(camera, probe=probe_function(self._core),
                                      save=save_function(self._core), actor=actor_name(),
                                      parent=self)
        dialog.finished.connect(lambda _r, d=dialog: self._settings_closed(d))
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    def _settings_closed(self, dialog: Any) -> None:
        if self.settings_dialog is dialog:
            self.settings_dialog = None
        dialog.deleteLater()
        saved = getattr(dialog, "saved_camera", None)
        if saved is not None and saved.id in self.tiles:
            self.tiles[saved.id].name = saved.name
            self.tiles[saved.id].update()

    # -- figures (the benchmark and tests read them) ------------------------------------------

    def tick_stats(self) -> dict[str, float]:
        values = sorted(self.tick_ms)
        if not values:
            return {"ticks": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}

        def q(f: float) -> float:
            return values[min(len(values) - 1, int(f * len(values)))]

        return {"ticks": len(values), "p50_ms": q(0.50), "p99_ms": q(0.99),
                "max_ms": values[-1]}


def probe_function(core: Any) -> Callable[..., Any] | None:
    """How the settings dialog tests a source: the Core's own probe when it offers one;
    None lets the dialog import the capture adapter's probe when Test is pressed."""
    if getattr(core, "camera_service", None) is None:
        return None
    probe = getattr(core, "probe_camera", None)
    return probe if callable(probe) else None


def save_function(core: Any) -> Callable[..., Any] | None:
    """`await core.save_camera(actor, camera)` when the Core can store cameras (a core
    built by app.bootstrap), else None and the dialog cannot save."""
    if getattr(core, "camera_service", None) is None:
        return None
    save = getattr(core, "save_camera", None)
    return save if callable(save) else None
