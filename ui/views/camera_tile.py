"""One camera on the camera wall: the newest frame, scaled to the tile, with an overlay.

The wall's timer calls `refresh()` on the UI thread. A tile converts a frame only when the
feed has a newer one (the frame's timestamp moved) and only to the pixels it shows:
cv2.resize to the tile's device pixels (see scale_frame), then one BGR -> BGRA pass whose bytes
are a QImage Format_RGB32 on little-endian machines (the format the raster engine blits
without converting at paint time). The overlay is painted over it: camera name, health
(fps, stale frame age, OFFLINE) and the last plate read at this camera, fading out.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

STALE_S = 2.0  # a frame older than this (and 3 frame periods) makes the tile "stale"
OFFLINE_S = 10.0  # no frame for this long: the tile says OFFLINE
PLATE_HOLD_S = 15.0  # the last plate read stays fully visible this long...
PLATE_FADE_S = 5.0  # ...then fades out over this long
HEALTH_EVERY_S = 1.0  # feed.health() and the badge at most once a second
_LITTLE_ENDIAN = sys.byteorder == "little"


@dataclass(frozen=True, slots=True)
class PlateShown:
    """The last plate read at a camera, as the tile shows it."""

    plate: str
    confidence: float
    at: datetime  # when it was read (UTC)
    received: float  # time.monotonic() when the console heard of it
    badge: str = ""  # "⚠ 3": a repeat offender (ui.views.offender_badge)


@dataclass(slots=True)
class Health:
    online: bool
    fps: float  # frames per second the feed delivers (its own figure, or what we saw)
    age_s: float | None  # age of the newest frame; None: no frame yet
    detail: str = ""


def scale_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """frame at width x height. INTER_AREA is the clean way down, but OpenCV has a SIMD
    path only for an exact 2x; at 3x or a fractional factor it takes a generic path ten
    times slower (1280x720 -> 384x216: ~2.4 ms CPU against ~0.25 ms for 2x, here). So:
    halve with INTER_AREA while the frame is at least twice the target, then
    INTER_LINEAR for the rest (< 2x, no visible aliasing): ~0.5 ms in all."""
    h, w = frame.shape[:2]
    while w >= 2 * width and h >= 2 * height:
        w, h = w // 2, h // 2
        frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    if (w, h) == (width, height):
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)


def frame_to_image(frame: np.ndarray, width: int, height: int) -> tuple[QImage, np.ndarray]:
    """A BGR frame as a QImage of exactly width x height. Returns the image and the array
    that owns its pixels (keep both: the QImage does not copy)."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    frame = scale_frame(frame, width, height)
    if _LITTLE_ENDIAN:
        # B, G, R, 255 in memory is 0xffRRGGBB as a 32-bit word: Format_RGB32.
        buf = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
        fmt = QImage.Format.Format_RGB32
    else:
        buf = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        fmt = QImage.Format.Format_RGB888
    image = QImage(buf.data, width, height, buf.strides[0], fmt)
    return image, buf


def fit_size(frame_w: int, frame_h: int, box: QSize) -> QSize:
    """The largest frame_w:frame_h size inside box (at least 1 x 1)."""
    if frame_w <= 0 or frame_h <= 0 or box.width() <= 0 or box.height() <= 0:
        return QSize(max(1, box.width()), max(1, box.height()))
    scale = min(box.width() / frame_w, box.height() / frame_h)
    return QSize(max(1, round(frame_w * scale)), max(1, round(frame_h * scale)))


def read_health(feed: Any) -> tuple[bool, float, float | None, str] | None:
    """feed.health() of a real capture feed -> (online, fps, last_frame_age_s, detail);
    None for feeds without one (simulated cameras). Takes a tuple or an object."""
    health = getattr(feed, "health", None)
    if not callable(health):
        return None
    try:
        h = health()
    except Exception:  # a feed's bug must not take the wall down
        return None
    if isinstance(h, tuple):
        online, fps, age = h[0], h[1], h[2]
        detail = h[3] if len(h) > 3 else ""
    else:
        online = getattr(h, "online", True)
        fps = getattr(h, "fps", 0.0)
        age = getattr(h, "last_frame_age_s", None)
        detail = getattr(h, "detail", "")
    return bool(online), float(fps or 0.0), None if age is None else float(age), str(detail or "")


class CameraTile(QWidget):
    """Shows one feed. `clicked` on a left click (or Enter/Space), `settingsRequested`
    from the context menu."""

    clicked = Signal(str)  # camera_id
    settingsRequested = Signal(str)  # camera_id

    def __init__(self, camera_id: str, name: str, feed: Any,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.camera_id = camera_id
        self.name = name
        self.feed = feed
        self.setObjectName(f"cameraTile_{camera_id}")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # paintEvent fills it all
        self.setToolTip(f"{name} — click to enlarge, right-click for settings")
        self.frames_shown = 0
        self.plate: PlateShown | None = None
        self.event_online: bool | None = None  # from CameraHealthChanged, when there is one
        self.event_detail = ""
        self._frame: np.ndarray | None = None  # the newest frame (read-only, shared)
        self._stamp: datetime | None = None
        self._image: QImage | None = None
        self._pixels: np.ndarray | None = None  # owns _image's memory
        self._image_for: tuple[int, int] = (0, 0)  # the device size _image was made for
        self._arrivals: deque[float] = deque(maxlen=64)  # monotonic times of new frames
        self._started = time.monotonic()
        self._health_at = 0.0
        self.health = Health(online=True, fps=0.0, age_s=None)
        self._badge = ""
        self._fading = False
        self._font_name = QFont(self.font())
        self._font_name.setBold(True)
        self._font_plate = QFont(self.font())
        self._font_plate.setBold(True)

    # -- feeding (the wall's timer, UI thread) ---------------------------------------------

    def refresh(self, now: float | None = None) -> bool:
        """Take the feed's newest frame if it is new; True when the tile was repainted."""
        now = time.monotonic() if now is None else now
        latest = None
        try:
            latest = self.feed.latest() if self.feed is not None else None
        except Exception:
            latest = None
        changed = False
        if latest is not None and latest[1] != self._stamp:
            self._frame, self._stamp = latest[0], latest[1]
            self._arrivals.append(now)
            self._convert()
            self.frames_shown += 1
            changed = True
        if now - self._health_at >= HEALTH_EVERY_S:
            self._health_at = now
            badge = self._update_health(now)
            if badge != self._badge:
                self._badge = badge
                changed = True
        fading = self._plate_alpha(now) not in (0.0, 1.0)
        if changed or fading or self._fading:
            self._fading = fading
            self.update()
            return True
        return False

    def set_plate(self, plate: PlateShown | None) -> None:
        self.plate = plate
        self.update()

    def set_event_health(self, online: bool, detail: str = "") -> None:
        self.event_online, self.event_detail = online, detail
        self._health_at = 0.0  # re-read on the next tick

    def display_fps(self, now: float | None = None, window_s: float = 2.0) -> float:
        """New frames shown per second over the last window_s."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._arrivals if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        span = recent[-1] - recent[0]
        return (len(recent) - 1) / span if span > 0 else 0.0

    def has_image(self) -> bool:
        return self._image is not None

    def image_size(self) -> QSize:
        return self._image.size() if self._image is not None else QSize()

    def badge_text(self) -> str:
        return self._badge

    def plate_text(self, now: float | None = None) -> str:
        """What the plate banner says now ("" when faded out or none)."""
        now = time.monotonic() if now is None else now
        if self.plate is None or self._plate_alpha(now) <= 0.0:
            return ""
        p = self.plate
        text = f"{p.plate}  {p.confidence:.0%}  {p.at.astimezone().strftime('%H:%M:%S')}"
        return f"{text}  {p.badge}" if p.badge else text

    # -- health -----------------------------------------------------------------------------

    def _update_health(self, now: float) -> str:
        feed_health = read_health(self.feed)
        age = None
        if self._stamp is not None:
            age = max(0.0, (datetime.now(UTC) - self._stamp).total_seconds())
        if feed_health is not None:
            online, fps, feed_age, detail = feed_health
            age = feed_age if feed_age is not None else age
        else:
            fps = self.display_fps(now)
            feed_fps = getattr(self.feed, "fps", None)
            if isinstance(feed_fps, int | float) and fps == 0.0 and age is not None and age < 1:
                fps = float(feed_fps)
            detail = ""
            never = self._stamp is None and now - self._started > OFFLINE_S / 2
            online = not never and (age is None or age < OFFLINE_S)
        if self.event_online is False:
            online, detail = False, self.event_detail or detail
        self.health = Health(online, fps, age, detail)
        if not online:
            return "OFFLINE"
        if age is None:
            return "connecting…"
        period = 1.0 / fps if fps > 0 else 0.0
        if age > max(STALE_S, 3 * period):
            return f"stale · last frame {_age_words(age)} ago"
        return f"{fps:.0f} fps" if fps else ""

    # -- painting ---------------------------------------------------------------------------

    def _target(self) -> QRect:
        """Where the frame goes: the largest 16:9 (or frame-shaped) rect, centred."""
        fw, fh = (self._frame.shape[1], self._frame.shape[0]) if self._frame is not None \
            else (16, 9)
        size = fit_size(fw, fh, self.size())
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        return QRect(x, y, size.width(), size.height())

    def _convert(self) -> None:
        if self._frame is None:
            return
        target = self._target()
        ratio = self.devicePixelRatioF()
        w, h = max(1, round(target.width() * ratio)), max(1, round(target.height() * ratio))
        self._image, self._pixels = frame_to_image(self._frame, w, h)
        self._image.setDevicePixelRatio(ratio)
        self._image_for = (w, h)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._convert()  # the last frame at the new size, without waiting for the next

    def _plate_alpha(self, now: float) -> float:
        if self.plate is None:
            return 0.0
        age = now - self.plate.received
        if age <= PLATE_HOLD_S:
            return 1.0
        return max(0.0, 1.0 - (age - PLATE_HOLD_S) / PLATE_FADE_S)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#0d1117"))
        target = self._target()
        if self._image is not None:
            p.drawImage(target.topLeft(), self._image)
        else:
            p.setPen(QColor("#8c959f"))
            p.drawText(target, Qt.AlignmentFlag.AlignCenter,
                       "No picture yet" if self.health.online else "No picture")
        self._paint_overlay(p, target)
        if self.hasFocus():
            p.setPen(QColor("#58a6ff"))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(self.rect().adjusted(1, 1, -2, -2))
        p.end()

    def _paint_overlay(self, p: QPainter, target: QRect) -> None:
        """Bottom strip: camera name, health badge. Top right: the last plate read. The
        top left stays clear: cameras put their own date and time there."""
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        big = target.height() >= 300
        self._font_name.setPointSizeF(11 if big else 9)
        fm = QFontMetrics(self._font_name)
        bar_h = fm.height() + 8
        bar = QRect(target.left(), target.bottom() - bar_h + 1, target.width(), bar_h)
        p.setFont(self._font_name)
        p.fillRect(bar, QColor(0, 0, 0, 190))
        badge = self._badge
        badge_w = fm.horizontalAdvance(badge) + 16 if badge else 0
        name = fm.elidedText(self.name, Qt.TextElideMode.ElideRight,
                             max(10, target.width() - badge_w - 24))
        p.setPen(QColor("#ffffff"))
        p.drawText(bar.adjusted(8, 0, -8, 0),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
        if badge:
            offline = badge == "OFFLINE"
            stale = badge.startswith("stale")
            fill = QColor("#d1242f") if offline else QColor("#9a6700") if stale \
                else QColor(46, 157, 79, 210)
            rect = QRectF(bar.right() - badge_w - 4, bar.top() + 3, badge_w, bar_h - 6)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(fill)
            p.drawRoundedRect(rect, 4, 4)
            p.setPen(QColor("#ffffff"))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, badge)
        if not self.health.online and self._image is not None:
            # The last picture stays, dimmed, so nobody takes it for live.
            p.fillRect(target.adjusted(0, 0, 0, -bar_h), QColor(13, 17, 23, 150))
        if not self.health.online and self.health.detail:
            p.setPen(QColor("#ffffff"))
            p.drawText(target.adjusted(12, 0, -12, -bar_h),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       self.health.detail)
        # Top right: the last plate read here, fading after PLATE_HOLD_S.
        alpha = self._plate_alpha(time.monotonic())
        if self.plate is not None and alpha > 0.0:
            self._font_plate.setPointSizeF(15 if big else 10)
            pf = QFontMetrics(self._font_plate)
            text = self.plate_text()
            h = pf.height() + 8
            w = min(target.width() - 8, pf.horizontalAdvance(text) + 20)
            rect = QRectF(target.right() - w - 4, target.top() + 4, w, h)
            p.setOpacity(alpha)
            p.setPen(Qt.PenStyle.NoPen)
            low = self.plate.confidence < 0.6
            p.setBrush(QColor(154, 103, 0, 230) if low else QColor(31, 111, 235, 230))
            p.drawRoundedRect(rect, 5, 5)
            p.setFont(self._font_plate)
            p.setPen(QColor("#ffffff"))
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                       pf.elidedText(text, Qt.TextElideMode.ElideRight, int(w) - 12))
            p.setOpacity(1.0)

    # -- input ------------------------------------------------------------------------------

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.clicked.emit(self.camera_id)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit(self.camera_id)
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = QMenu(self)
        menu.addAction("Enlarge", lambda: self.clicked.emit(self.camera_id))
        menu.addAction("Camera settings…", lambda: self.settingsRequested.emit(self.camera_id))
        menu.popup(event.globalPos())
        menu.aboutToHide.connect(menu.deleteLater)

    def focusInEvent(self, event: Any) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: Any) -> None:
        super().focusOutEvent(event)
        self.update()


def _age_words(age_s: float) -> str:
    if age_s < 90:
        return f"{age_s:.0f} s"
    if age_s < 90 * 60:
        return f"{age_s / 60:.0f} min"
    return f"{age_s / 3600:.1f} h"
