"""The live site map: bays in their rows, the aisle, charger pillars, unassigned chargers.

Driven by the item models only (dataChanged / rowsInserted), never by the bus, so the
map and the tables can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPointF,
    QRectF,
    Qt,
    QVariantAnimation,
    Signal,
)
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsView,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QWidget,
)

from app.domain.charging import ConnectorStatus as S
from ui.models.bays import BayTableModel, IdleFee
from ui.models.common import NO_VALUE, Roles
from ui.theme import OFFLINE_COLOR, legend_statuses, status_color, status_label
from ui.views.map_items import BAY_D, BAY_W, BayItem, BayView, PillarItem, UnassignedStrip, font

GAP = 8.0  # between neighbouring bays
WALL = 44.0  # strip above / below the rows where the charger pillars stand
AISLE_H = 112.0
MARGIN = 16.0
GROUND = QColor("#e6eaef")
ASPHALT = QColor("#c9d1da")


class BayMapView(QGraphicsView):
    bayClicked = Signal(str)  # bay_id: a hook for a details panel

    def __init__(self, bay_model: BayTableModel, charger_model: QAbstractItemModel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bayMap")
        self._bay_model, self._charger_model = bay_model, charger_model
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setBackgroundBrush(QColor("#f6f8fa"))
        self._bays: dict[str, BayItem] = {}
        self._pillars: dict[str, PillarItem] = {}
        self._strip: UnassignedStrip | None = None
        # The idle minutes on the map count from this clock (tests set their own).
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        # One animation pulses every charging bay: cheaper than one timer per item.
        self._pulse = QVariantAnimation(self)
        self._pulse.setStartValue(0.0)
        self._pulse.setKeyValueAt(0.5, 1.0)
        self._pulse.setEndValue(0.0)
        self._pulse.setDuration(1800)
        self._pulse.setLoopCount(-1)
        self._pulse.valueChanged.connect(self._on_pulse)
        self._build()
        bay_model.dataChanged.connect(self._on_bays_changed)
        bay_model.modelReset.connect(self._build)
        charger_model.dataChanged.connect(self._sync_chargers)
        charger_model.rowsInserted.connect(self._sync_chargers)
        charger_model.rowsRemoved.connect(self._sync_chargers)
        charger_model.modelReset.connect(self._sync_chargers)

    # -- test hooks / queries ------------------------------------------------------

    def bay_item(self, bay_id: str) -> BayItem:
        return self._bays[bay_id]

    def bay_items(self) -> list[BayItem]:
        return list(self._bays.values())

    def pillar(self, charger_id: str) -> PillarItem:
        return self._pillars[charger_id]

    def pillars(self) -> list[PillarItem]:
        return list(self._pillars.values())

    def unassigned_ids(self) -> list[str]:
        return self._strip.charger_ids() if self._strip else []

    @property
    def pulsing(self) -> bool:
        return self._pulse.state() == QVariantAnimation.State.Running

    # -- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        scene = self.scene()
        scene.clear()
        self._bays, self._pillars = {}, {}
        m = self._bay_model
        rows = range(m.rowCount())
        pos = {m.index(r, 0).data(Roles.BAY_ID): m.index(r, 0).data(Roles.POSITION)
               for r in rows}
        xs = [x for x, _ in pos.values()] or [0.0]
        used = sorted({math.floor(y) for _, y in pos.values()}) or [0]
        lo, hi = used[0], used[-1]
        top, row_top = WALL, {}
        for r in range(lo, hi + 1):
            row_top[r] = top
            top += BAY_D if r in used else AISLE_H
        plan_w = (max(xs) - min(xs) + 1) * (BAY_W + GAP) - GAP + 2 * MARGIN
        plan_h = top + WALL
        ground = scene.addRect(QRectF(0, 0, plan_w, plan_h), QPen(Qt.PenStyle.NoPen), GROUND)
        ground.setZValue(-10)
        for r in range(lo, hi + 1):
            if r not in used:
                self._add_aisle(QRectF(0, row_top[r] + 8, plan_w, AISLE_H - 16))

        def head_up(row: int) -> bool:  # the pillar side: away from the aisle
            return lo == hi or 2 * row < lo + hi

        by_charger: dict[str, list[tuple[QPointF, bool]]] = {}
        for r in rows:
            idx = m.index(r, 0)
            bay_id = idx.data(Roles.BAY_ID)
            x, y = pos[bay_id]
            row = math.floor(y)
            item = BayItem(bay_id, head_up(row))
            item.setPos(MARGIN + (x - min(xs)) * (BAY_W + GAP), row_top[row] + (y - row) * BAY_D)
            scene.addItem(item)
            self._bays[bay_id] = item
            self._refresh_bay(r)
            charger = idx.data(Roles.CHARGER_ID)
            if charger:
                by_charger.setdefault(charger, []).append((item.pos(), head_up(row)))
        for charger, spots in by_charger.items():
            pillar = PillarItem(charger)
            cx = sum(p.x() for p, _ in spots) / len(spots) + BAY_W / 2
            up = spots[0][1]
            edge = min(p.y() for p, _ in spots) - WALL / 2 if up else \
                max(p.y() for p, _ in spots) + BAY_D + WALL / 2
            pillar.setPos(cx, edge)
            scene.addItem(pillar)
            self._pillars[charger] = pillar
        self._strip = UnassignedStrip(plan_w)
        self._strip.setPos(0, plan_h + MARGIN)
        scene.addItem(self._strip)
        self._sync_chargers()
        self._fit_scene()

    def _add_aisle(self, rect: QRectF) -> None:
        scene = self.scene()
        scene.addRect(rect, QPen(Qt.PenStyle.NoPen), ASPHALT).setZValue(-5)
        mid = rect.center().y()
        dash = QPen(QColor("#ffffff"), 3, Qt.PenStyle.DashLine)
        scene.addLine(rect.left() + 12, mid, rect.right() - 12, mid, dash).setZValue(-4)
        label = scene.addSimpleText("DRIVE AISLE", font(15, bold=True))
        label.setBrush(QColor("#7d8794"))
        br = label.boundingRect()
        label.setPos(rect.center().x() - br.width() / 2, mid - br.height() - 8)
        label.setZValue(-3)
        for x in (rect.left() + 40, rect.right() - 70):
            arrow = scene.addSimpleText("→", font(30, bold=True))
            arrow.setBrush(QColor("#ffffff"))
            arrow.setPos(x, mid + 2)
            arrow.setZValue(-3)

    # -- updates -----------------------------------------------------------------------

    def _refresh_bay(self, row: int) -> None:
        m = self._bay_model
        idx = m.index(row, 0)
        item = self._bays.get(idx.data(Roles.BAY_ID))
        if item is None:
            return
        status = S(idx.data(Roles.STATUS))
        charger, conn = idx.data(Roles.CHARGER_ID), idx.data(Roles.CONNECTOR_ID)
        since = m.index(row, BayTableModel.COL_SINCE).data()
        word = "last seen" if status is S.OFFLINE else "since"
        idle = idx.data(Roles.IDLE_SINCE)
        idling = idle is not None and status is not S.OFFLINE
        now = self.clock()
        fee_text, fee_due = fee_line(idx.data(Roles.IDLE_FEE), idle_minutes(idle, now)) \
            if idling else ("", False)
        item.set_state(BayView(
            label=idx.data(),
            status=status,
            status_text=m.index(row, BayTableModel.COL_STATUS).data(),
            charger_text=f"{charger}  ·  {conn}" if charger else "",
            since_text=(idle_text(idle, now) if idling
                        else "" if since == NO_VALUE else f"{word} {since}"),
            error_code=idx.data(Roles.ERROR_CODE) or "",
            tooltip=idx.data(Qt.ItemDataRole.ToolTipRole) or "",
            plate=idx.data(Roles.PLATE) or "",
            fee_text=fee_text,
            fee_due=fee_due,
            offender=idx.data(Roles.OFFENDER) or "",
        ))
        self._update_pulse()

    def _on_bays_changed(self, top_left: QModelIndex, bottom_right: QModelIndex,
                         _roles: Any = None) -> None:
        for row in range(top_left.row(), bottom_right.row() + 1):
            self._refresh_bay(row)

    def _sync_chargers(self, *_args: Any) -> None:
        """Pillars show online state; chargers without a bay go to the unassigned strip."""
        m = self._charger_model
        loose = []
        for r in range(m.rowCount()):
            idx = m.index(r, 0)
            cid, online = idx.data(Roles.CHARGER_ID), bool(idx.data(Roles.ONLINE))
            state = idx.data(Roles.STATE)
            tip = idx.data(Qt.ItemDataRole.ToolTipRole) or ""
            if cid in self._pillars:
                self._pillars[cid].set_state(online, state, tip)
            else:
                loose.append((cid, online, state, tip))
        if self._strip is not None and [c[:3] for c in loose] != [
            (c.charger_id, c.online, c.state) for c in self._strip.chips
        ]:
            self._strip.set_chargers(loose)
            self._fit_scene()

    def _update_pulse(self) -> None:
        charging = any(b.status is S.CHARGING for b in self._bays.values())
        if charging and not self.pulsing:
            self._pulse.start()
        elif not charging and self.pulsing:
            self._pulse.stop()

    def _on_pulse(self, value: float) -> None:
        for item in self._bays.values():
            if item.status is S.CHARGING:
                item.pulse = float(value)
                item.update()

    # -- fitting -------------------------------------------------------------------------

    def _fit_scene(self) -> None:
        scene = self.scene()
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN))
        self._fit()

    def _fit(self) -> None:
        if not self.scene().sceneRect().isEmpty():
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        item: QGraphicsItem | None = self.itemAt(event.position().toPoint())
        while item is not None and not isinstance(item, BayItem):
            item = item.parentItem()
        if isinstance(item, BayItem):
            self.bayClicked.emit(item.bay_id)
        super().mousePressEvent(event)


def idle_minutes(since: Any, now: datetime | None = None) -> int:
    if since is None:
        return 0
    return max(0, int(((now or datetime.now(UTC)) - since).total_seconds() // 60))


def idle_text(since: Any, now: datetime | None = None) -> str:
    """A fully charged car still at the bay: for how long (grace, then idle fees)."""
    return f"charged · idle {idle_minutes(since, now)} min"


def fee_line(fee: IdleFee | None, minutes: int) -> tuple[str, bool]:
    """The idle fee line under the idle time: (text, True once money accrues).

    "idle fee €4.60" once the fee accrues; "grace · 3 min left" while the tariff's
    grace runs; "" without a bill, without idle pricing, or outside the idle hours.
    """
    if fee is None:
        return "", False
    if fee.amount > 0:
        return fee.text, True
    if fee.grace_min is not None and minutes < fee.grace_min:
        return f"grace · {fee.grace_min - minutes} min left", False
    return "", False


def status_swatch(status: S, size: int = 18) -> QPixmap:
    """The legend's sample of a bay colour, drawn like the bay itself (dashed if offline)."""
    ratio = 2.0  # drawn at 2x so it stays crisp on high-DPI booth screens
    pix = QPixmap(int(size * ratio), int(size * ratio))
    pix.setDevicePixelRatio(ratio)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = status_color(status)
    rect = QRectF(1.5, 1.5, size - 3, size - 3)
    if status is S.OFFLINE:
        tint = QColor(color)
        tint.setAlpha(70)
        p.setBrush(tint)
        p.setPen(QPen(OFFLINE_COLOR.darker(130), 1.5, Qt.PenStyle.DashLine))
    else:
        p.setBrush(color)
        p.setPen(QPen(color.darker(115), 1))
    p.drawRoundedRect(rect, 4, 4)
    p.end()
    return pix


class LegendBar(QWidget):
    """What each bay colour means, in two rows under the map."""

    def __init__(self, parent: QWidget | None = None, columns: int = 6) -> None:
        super().__init__(parent)
        self.setObjectName("legend")
        grid = QGridLayout(self)
        grid.setContentsMargins(12, 6, 12, 6)
        grid.setHorizontalSpacing(18)
        grid.setVerticalSpacing(4)
        self.entries: dict[S, QLabel] = {}
        for i, status in enumerate(legend_statuses()):
            cell = QWidget(self)
            row = QHBoxLayout(cell)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(6)
            swatch = QLabel(cell)
            swatch.setPixmap(status_swatch(status))
            text = QLabel(status_label(status), cell)
            text.setObjectName("legendText")
            row.addWidget(swatch)
            row.addWidget(text)
            row.addStretch(1)
            grid.addWidget(cell, i // columns, i % columns)
            self.entries[status] = text
        for c in range(columns):
            grid.setColumnStretch(c, 1)
        self.setToolTip("Bay colours")
