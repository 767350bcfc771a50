"""Look and feel: the status palette, human status words, the QSS theme and icons.

One palette for the map, the legend and the tables, so a colour means the same thing
everywhere an attendant looks.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication

import resources
from app.domain.charging import ConnectorStatus as S

# (fill colour, words an attendant understands). OCPP names stay in tooltips.
_STATUS: dict[S, tuple[str, str]] = {
    S.AVAILABLE: ("#2e9d4f", "Available"),
    S.PREPARING: ("#e0a100", "Preparing"),
    S.CHARGING: ("#1f6feb", "Charging"),
    S.SUSPENDED_EV: ("#0fa3b1", "Car paused"),
    S.SUSPENDED_EVSE: ("#12807f", "Charger paused"),
    S.FINISHING: ("#8250df", "Finishing"),
    S.RESERVED: ("#c94f7c", "Reserved"),
    S.UNAVAILABLE: ("#8c959f", "Unavailable"),
    S.FAULTED: ("#d1242f", "Faulted"),
    S.OCCUPIED: ("#4b57a8", "Occupied"),
    S.OFFLINE: ("#57606a", "Offline"),
    S.UNKNOWN: ("#afb8c1", "No status"),
}

# Amber and light grey need dark text; everything else carries white text.
_DARK_TEXT = {S.PREPARING, S.UNKNOWN}

ONLINE_COLOR = QColor("#2e9d4f")
OFFLINE_COLOR = QColor("#8c959f")
INK = QColor("#1f2328")
MUTED_INK = QColor("#59636e")


def status_color(status: S) -> QColor:
    return QColor(_STATUS.get(status, _STATUS[S.UNKNOWN])[0])


def status_text_color(status: S) -> QColor:
    return QColor(INK) if status in _DARK_TEXT else QColor("#ffffff")


def status_label(status: S) -> str:
    return _STATUS.get(status, _STATUS[S.UNKNOWN])[1]


def legend_statuses() -> list[S]:
    return list(_STATUS)


_dots: dict[str, QPixmap] = {}


def dot(color: QColor, size: int = 12) -> QPixmap:
    """A round status dot for table cells (cached: tables ask on every repaint)."""
    key = f"{color.name()}:{size}"
    if key not in _dots:
        pix = QPixmap(size * 2, size * 2)  # 2x: crisp on high-DPI screens
        pix.setDevicePixelRatio(2.0)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawEllipse(QRectF(1, 1, size - 2, size - 2))
        p.end()
        _dots[key] = pix
    return _dots[key]


def icon(name: str) -> QIcon:
    """An SVG icon from resources/icons (files on disk, also in the frozen build)."""
    return QIcon(str(resources.path("icons", f"{name}.svg")))


def app_icon() -> QIcon:
    return icon("gatehouse")


def apply_theme(app: QApplication, name: str = "light") -> None:
    """Fusion + our stylesheet: the same look on Windows and Linux booth PCs."""
    app.setStyle("Fusion")
    font = QFont(app.font())
    # Booth screens are read from a step away: a little above the desktop default.
    font.setPointSizeF(max(font.pointSizeF(), 10.0))
    app.setFont(font)
    app.setStyleSheet(resources.path("themes", f"{name}.qss").read_text(encoding="utf-8"))
    app.setWindowIcon(app_icon())
