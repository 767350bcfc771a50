"""Graphics items of the bay map: bays, charger pillars, the unassigned-chargers strip.

Items only paint what they are told (set_state); BayMapView reads the models and
tells them. Sizes are scene units; the view scales the whole plan to fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.domain.charging import ConnectorStatus as S
from ui.theme import (
    INK,
    MUTED_INK,
    OFFLINE_COLOR,
    ONLINE_COLOR,
    status_color,
    status_text_color,
)

BAY_W, BAY_D = 130.0, 184.0
_CAR_STATES = {S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING,
               S.OCCUPIED}


def font(px: float, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(max(1, round(px)))
    f.setBold(bold)
    return f


def fitted_font(text: str, width: float, px: float, bold: bool = False,
                min_px: float = 10) -> QFont:
    """Shrink the font (down to min_px) until the text fits: never clip a status."""
    f = font(px, bold)
    while px > min_px and QFontMetricsF(f).horizontalAdvance(text) > width:
        px -= 0.5
        f = font(px, bold)
    return f


def elided(p: QPainter, text: str, width: float) -> str:
    """What still does not fit after shrinking ends in an ellipsis (full id in the tooltip)."""
    return p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, int(width))


def bolt_path(center: QPointF, h: float) -> QPainterPath:
    """A lightning bolt, the universal 'charging' sign, h units tall."""
    u = h / 10
    pts = [(1, -5), (-3, 1), (0, 1), (-1, 5), (3, -1), (0, -1), (1, -5)]
    path = QPainterPath(QPointF(center.x() + pts[0][0] * u, center.y() + pts[0][1] * u))
    for x, y in pts[1:]:
        path.lineTo(center.x() + x * u, center.y() + y * u)
    return path


@dataclass
class BayView:
    """What one bay item shows; built by the view from the bay model."""

    label: str = ""
    status: S = S.UNKNOWN
    status_text: str = ""
    charger_text: str = ""
    since_text: str = ""
    error_code: str = ""
    tooltip: str = ""
    plate: str = ""  # the car's plate, once bound
    # While a charged car idles: "idle fee €4.60" (fee_due) or "grace · 3 min left".
    fee_text: str = ""
    fee_due: bool = False
    offender: str = ""  # "⚠ 3": the bound plate is a repeat offender (offences: tooltip)

    @property
    def idle_line(self) -> str:
        """The idle time and its fee as one sentence (what the two lines say together)."""
        return " · ".join(t for t in (self.since_text, self.fee_text) if t)


FEE_COLOR = QColor("#c62828")  # idle fee accruing: red, as money owed
GRACE_COLOR = QColor("#a15c00")  # in grace: amber, dark enough to read on white
OFFENDER_COLOR = QColor("#c62828")


class BayItem(QGraphicsItem):
    """A bay seen from above: its label, a car when occupied, a status pill, charger, since."""

    def __init__(self, bay_id: str, head_up: bool) -> None:
        super().__init__()
        self.bay_id = bay_id
        # The car noses in towards the charger pillar: up in the top row, down below.
        self.head_up = head_up
        self.pulse = 0.0  # 0..1, driven by the view's one animation while Charging
        self.view = BayView()
        self.setAcceptHoverEvents(True)

    # What tests (and a person) notice.
    @property
    def status(self) -> S:
        return self.view.status

    @property
    def color(self) -> QColor:
        return status_color(self.view.status)

    @property
    def offline(self) -> bool:
        return self.view.status is S.OFFLINE

    def set_state(self, view: BayView) -> None:
        self.view = view
        self.setToolTip(view.tooltip)
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(-4, -4, BAY_W + 8, BAY_D + 8)  # room for the charging glow

    def paint(self, p: QPainter, _opt: QStyleOptionGraphicsItem,
              _w: QWidget | None = None) -> None:
        v, color = self.view, self.color
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(0, 0, BAY_W, BAY_D)
        tint = QColor(color)
        tint.setAlpha(34 if v.status is not S.OFFLINE else 60)
        p.setBrush(QColor("#ffffff"))
        p.setPen(Qt.PenStyle.NoPen)
        p.drawRoundedRect(rect, 10, 10)
        p.setBrush(tint)
        if v.status is S.CHARGING:
            glow = QColor(color)
            glow.setAlphaF(0.25 + 0.55 * self.pulse)
            p.setPen(QPen(glow, 4 + 4 * self.pulse))
            p.drawRoundedRect(rect.adjusted(-1, -1, 1, 1), 11, 11)
        pen = QPen(color, 3)
        if self.offline:
            pen = QPen(OFFLINE_COLOR.darker(130), 2.5, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRoundedRect(rect.adjusted(1.5, 1.5, -1.5, -1.5), 9, 9)

        p.setPen(INK)
        p.setFont(font(22, bold=True))
        p.drawText(QRectF(0, 8, BAY_W, 30), Qt.AlignmentFlag.AlignCenter, v.label)
        self._paint_glyph(p, QRectF(0, 42, BAY_W, 66), color)

        pill = QRectF(6, 114, BAY_W - 12, 28)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(color)
        p.drawRoundedRect(pill, 14, 14)
        p.setPen(status_text_color(v.status))
        p.setFont(fitted_font(v.status_text, pill.width() - 10, 14, bold=True))
        p.drawText(pill, Qt.AlignmentFlag.AlignCenter, v.status_text)

        p.setPen(MUTED_INK)
        if v.fee_text:
            # An idle car: its idle time, then the fee (the pillar names the charger).
            p.setFont(fitted_font(v.since_text, BAY_W - 8, 13))
            p.drawText(QRectF(0, 145, BAY_W, 18), Qt.AlignmentFlag.AlignCenter, v.since_text)
            p.setPen(FEE_COLOR if v.fee_due else GRACE_COLOR)
            p.setFont(fitted_font(v.fee_text, BAY_W - 8, 14 if v.fee_due else 13,
                                  bold=v.fee_due))
            p.drawText(QRectF(0, 162, BAY_W, 18), Qt.AlignmentFlag.AlignCenter,
                       elided(p, v.fee_text, BAY_W - 8))
        else:
            p.setFont(font(14, bold=True))
            p.drawText(QRectF(0, 145, BAY_W, 18), Qt.AlignmentFlag.AlignCenter, v.charger_text)
            p.setFont(fitted_font(v.since_text, BAY_W - 8, 13))
            p.drawText(QRectF(0, 162, BAY_W, 17), Qt.AlignmentFlag.AlignCenter, v.since_text)
        if v.offender:
            self._paint_offender(p, QRectF(BAY_W - 44, 44, 38, 20))

    def _paint_offender(self, p: QPainter, rect: QRectF) -> None:
        """A repeat offender: a "⚠ 3" sticker beside the car (its offences: the tooltip)."""
        p.setPen(QPen(QColor("#ffffff"), 1.5))
        p.setBrush(OFFENDER_COLOR)
        p.drawRoundedRect(rect, 10, 10)
        p.setPen(QColor("#ffffff"))
        p.setFont(fitted_font(self.view.offender, rect.width() - 6, 13, bold=True))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.view.offender)

    def _paint_plate(self, p: QPainter, rect: QRectF) -> None:
        """The bound plate on the car's tail: yellow, dark text, as a number plate."""
        p.setPen(QPen(QColor("#1f2328"), 1.2))
        p.setBrush(QColor("#ffd33d"))
        p.drawRoundedRect(rect, 3, 3)
        p.setPen(QColor("#1f2328"))
        p.setFont(fitted_font(self.view.plate, rect.width() - 6, 12, bold=True))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.view.plate)

    def _paint_glyph(self, p: QPainter, area: QRectF, color: QColor) -> None:
        """A car when the bay is taken, a bolt while charging, a warning when faulted."""
        c = area.center()
        if self.view.status in _CAR_STATES:
            body = QRectF(c.x() - 24, area.top() + 2, 48, area.height() - 4)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#32383f"))  # wheels first, the body covers their inner half
            for wx in (body.left() - 3, body.right() - 7):
                for wy in (body.top() + 10, body.bottom() - 24):
                    p.drawRoundedRect(QRectF(wx, wy, 10, 14), 3, 3)
            car = QColor(color)
            car.setAlpha(210)
            p.setBrush(car)
            p.drawRoundedRect(body, 13, 13)
            glass = QColor(255, 255, 255, 150)
            p.setBrush(glass)
            front = 8 if self.head_up else body.height() - 22
            back = body.height() - 16 if self.head_up else 10
            p.drawRoundedRect(QRectF(body.left() + 7, body.top() + front, 34, 14), 4, 4)
            p.drawRoundedRect(QRectF(body.left() + 9, body.top() + back, 30, 8), 3, 3)
            if self.view.plate:
                self._paint_plate(p, QRectF(c.x() - 44, area.bottom() - 16, 88, 16))
        if self.view.status is S.CHARGING:
            p.setPen(QPen(color.darker(150), 2))
            p.setBrush(QColor("#ffe066"))
            p.drawPath(bolt_path(c, 40))
        elif self.view.status is S.FAULTED:
            tri = QPainterPath(QPointF(c.x(), c.y() - 24))
            tri.lineTo(c.x() + 26, c.y() + 20)
            tri.lineTo(c.x() - 26, c.y() + 20)
            tri.closeSubpath()
            p.setPen(QPen(color, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                          Qt.PenJoinStyle.RoundJoin))
            p.setBrush(QColor("#ffffff"))
            p.drawPath(tri)
            p.setPen(color)
            p.setFont(font(26, bold=True))
            p.drawText(QRectF(c.x() - 10, c.y() - 12, 20, 32), Qt.AlignmentFlag.AlignCenter, "!")


class PillarItem(QGraphicsItem):
    """A charger pedestal between its bays, with a dot that is green while it is online."""

    W, H = 76.0, 30.0

    def __init__(self, charger_id: str) -> None:
        super().__init__()
        self.charger_id = charger_id
        self.online = False
        self.state = "Offline"
        self.setZValue(2)

    def set_state(self, online: bool, state: str, tooltip: str) -> None:
        self.online, self.state = online, state
        self.setToolTip(tooltip)
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(-self.W / 2 - 2, -self.H / 2 - 2, self.W + 8, self.H + 4)

    def paint(self, p: QPainter, _opt: QStyleOptionGraphicsItem,
              _w: QWidget | None = None) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(-self.W / 2, -self.H / 2, self.W, self.H)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#32383f") if self.online else QColor("#6e7781"))
        p.drawRoundedRect(r, 7, 7)
        dot = ONLINE_COLOR if self.online else QColor("#c9d1d9")
        p.setBrush(dot)
        p.setPen(QPen(QColor("#ffffff"), 1.5))
        p.drawEllipse(QPointF(r.left() + 13, 0), 5, 5)
        p.setPen(QColor("#ffffff"))
        text = r.adjusted(22, 0, -6, 0)
        p.setFont(fitted_font(self.charger_id, text.width(), 14, bold=True))
        p.drawText(text, Qt.AlignmentFlag.AlignVCenter, elided(p, self.charger_id, text.width()))


class ChipItem(QGraphicsItem):
    """One unassigned charger: online dot, id and state."""

    W, H = 200.0, 36.0

    def __init__(self, charger_id: str, online: bool, state: str, tooltip: str) -> None:
        super().__init__()
        self.charger_id, self.online, self.state = charger_id, online, state
        self.setToolTip(tooltip)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.W, self.H)

    def paint(self, p: QPainter, _opt: QStyleOptionGraphicsItem,
              _w: QWidget | None = None) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(1, 1, self.W - 2, self.H - 2)
        p.setPen(QPen(QColor("#d0d7de"), 1.5))
        p.setBrush(QColor("#ffffff"))
        p.drawRoundedRect(r, 8, 8)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(ONLINE_COLOR if self.online else OFFLINE_COLOR)
        p.drawEllipse(QPointF(16, self.H / 2), 6, 6)
        p.setPen(MUTED_INK)
        p.setFont(font(13))
        state_w = p.fontMetrics().horizontalAdvance(self.state)
        p.drawText(QRectF(self.W - 10 - state_w, 0, state_w, self.H),
                   Qt.AlignmentFlag.AlignVCenter, self.state)
        p.setPen(INK)
        id_w = self.W - 28 - state_w - 18
        p.setFont(fitted_font(self.charger_id, id_w, 15, bold=True, min_px=12))
        p.drawText(QRectF(28, 0, id_w, self.H), Qt.AlignmentFlag.AlignVCenter,
                   elided(p, self.charger_id, id_w))


class UnassignedStrip(QGraphicsItem):
    """Chargers that connected but have no bay: an installer must place them."""

    HEADER = 30.0
    PAD = 12.0

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width = width
        self.chips: list[ChipItem] = []
        self._height = self.HEADER + self.PAD / 2

    def charger_ids(self) -> list[str]:
        return [c.charger_id for c in self.chips]

    def set_chargers(self, rows: list[tuple[str, bool, str, str]]) -> None:
        """rows: (charger_id, online, state, tooltip). Chips wrap onto more lines."""
        scene = self.scene()
        for chip in self.chips:
            if scene is not None:
                scene.removeItem(chip)
        self.chips = []
        per_line = max(1, int((self.width - self.PAD) // (ChipItem.W + self.PAD)))
        for i, (cid, online, state, tip) in enumerate(rows):
            chip = ChipItem(cid, online, state, tip)
            chip.setParentItem(self)
            line, col = divmod(i, per_line)
            chip.setPos(self.PAD + col * (ChipItem.W + self.PAD),
                        self.HEADER + self.PAD / 2 + line * (ChipItem.H + self.PAD / 2))
            self.chips.append(chip)
        lines = -(-len(rows) // per_line)
        self.prepareGeometryChange()
        # Empty (the usual case) it is one line high: map space is precious on 768 px.
        self._height = self.HEADER + self.PAD / 2 + (
            lines * (ChipItem.H + self.PAD / 2) + self.PAD / 2 if lines else 0)
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self.width, self._height)

    def paint(self, p: QPainter, _opt: QStyleOptionGraphicsItem,
              _w: QWidget | None = None) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor("#d0d7de"), 1.5, Qt.PenStyle.DashLine))
        p.setBrush(QBrush(QColor("#f6f8fa")))
        p.drawRoundedRect(self.boundingRect().adjusted(1, 1, -1, -1), 10, 10)
        p.setPen(INK)
        p.setFont(font(15, bold=True))
        title = "Unassigned chargers"
        p.drawText(QRectF(self.PAD, 6, self.width, 24), Qt.AlignmentFlag.AlignVCenter, title)
        left = self.PAD + p.fontMetrics().horizontalAdvance(title) + 12
        p.setPen(MUTED_INK)
        p.setFont(font(13))
        hint = ("connected, but not placed on a bay: ask the installer to assign them"
                if self.chips else "none — every charger that connected has a bay")
        p.drawText(QRectF(left, 6, self.width - left - self.PAD, 24),
                   Qt.AlignmentFlag.AlignVCenter, elided(p, hint, self.width - left - self.PAD))
