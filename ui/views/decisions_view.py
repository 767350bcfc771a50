"""The live decisions log: every credential decision at a gate or charger as it happens,
newest on top, coloured by result, capped (the oldest rows fall off the bottom). A plate
that is a repeat offender carries the badge "⚠ 3" (its offences in the tooltip)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import shiboken6
from PySide6.QtCore import QSize, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from ui.models.access import RESULT, DecisionRow, DecisionTableModel
from ui.views.access_actions import compact, make_table
from ui.views.offender_badge import BadgeCache

log = logging.getLogger("gatehouse.ui.decisions")


class _Filter(QSortFilterProxyModel):
    """Text in any column; optionally refusals only. Adds the repeat-offender badge to a
    plate's credential cell and its offences to the row's tooltip (the filter still
    matches the plain values of the source model)."""

    def __init__(self, parent: QWidget, badges: BadgeCache | None = None) -> None:
        super().__init__(parent)
        self.refused_only = False
        self.badges = badges
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)

    def set_refused_only(self, on: bool) -> None:
        if not hasattr(self, "beginFilterChange"):  # Qt < 6.10
            self.refused_only = on
            self.invalidateFilter()
            return
        self.beginFilterChange()  # invalidateFilter() is deprecated from Qt 6.10
        self.refused_only = on
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def badge(self, index: Any) -> tuple[str, str]:
        """The badge of the plate in this proxy row ("", "" for cards and clean plates)."""
        if self.badges is None or not index.isValid():
            return "", ""
        source = self.sourceModel()
        r = source.row(self.mapToSource(index).row())
        if r.kind != "plate" or not r.value:
            return "", ""
        return self.badges.get(r.value)

    def data(self, index: Any, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        value = super().data(index, role)
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == DecisionTableModel.COL_CRED:
                badge = self.badge(index)[0]
                if badge:
                    return f"{value}  {badge}"
        elif role == Qt.ItemDataRole.ToolTipRole:
            tip = self.badge(index)[1]
            if tip:
                return f"{value}\n\n{tip}" if value else tip
        return value

    def violations_changed(self) -> None:
        if self.badges is not None:
            self.badges.clear()
        rows = self.rowCount()
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1,
                                                               self.columnCount() - 1))

    def filterAcceptsRow(self, row: int, parent: Any) -> bool:
        if self.refused_only:
            status = self.sourceModel().index(row, 0, parent).data(RESULT)
            if status == "Accepted":
                return False
        return super().filterAcceptsRow(row, parent)


class ResultDelegate(QStyledItemDelegate):
    """The result in bold, in its colour, then the reason: one column, so the reason is
    readable even in a narrow side panel (the separate Reason column is hidden)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        rect = opt.rect.adjusted(6, 0, -4, 0)
        result = index.data() or ""
        reason = index.siblingAtColumn(DecisionTableModel.COL_REASON).data() or ""
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        painter.save()
        bold = QFont(opt.font)
        bold.setBold(True)
        painter.setFont(bold)
        ink = index.data(Qt.ItemDataRole.ForegroundRole)
        painter.setPen(opt.palette.highlightedText().color() if selected or ink is None
                       else ink.color())
        metrics = QFontMetrics(bold)
        head = metrics.elidedText(result, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, head)
        used = metrics.horizontalAdvance(head)
        if reason and used < rect.width():
            plain = QFont(opt.font)
            plain.setBold(False)
            painter.setFont(plain)
            painter.setPen(opt.palette.highlightedText().color() if selected
                           else QColor("#1f2328"))
            rest = rect.adjusted(used, 0, 0, 0)
            text = QFontMetrics(plain).elidedText(f" · {reason}", Qt.TextElideMode.ElideRight,
                                                     rest.width())
            painter.drawText(rest, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             text)
        painter.restore()


class DecisionsView(QWidget):
    def __init__(self, core: Any, bridge: Any, parent: QWidget | None = None, *,
                 cap: int = DecisionTableModel.CAP) -> None:
        super().__init__(parent)
        self.setObjectName("decisionsView")
        places = {lane.id: lane.name for lane in core.site.lanes}
        self.model = DecisionTableModel(places, self, cap=cap)
        self.proxy = _Filter(self, BadgeCache(core))
        self.proxy.setSourceModel(self.model)
        self.table = make_table(self.proxy, DecisionTableModel.COL_RESULT, self,
                                "decisionTable")
        self.table.setAlternatingRowColors(False)  # the row colour is the result
        header = self.table.horizontalHeader()
        # The reason matters most: the account name may be cut (full text in the tooltip).
        header.setSectionResizeMode(DecisionTableModel.COL_ACCOUNT,
                                    QHeaderView.ResizeMode.Interactive)
        header.resizeSection(DecisionTableModel.COL_ACCOUNT, 110)
        # Card UIDs are long: keep both ends readable (the full value is in the tooltip).
        header.setSectionResizeMode(DecisionTableModel.COL_CRED,
                                    QHeaderView.ResizeMode.Interactive)
        header.resizeSection(DecisionTableModel.COL_CRED, 112)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setColumnHidden(DecisionTableModel.COL_REASON, True)
        self.table.setItemDelegateForColumn(DecisionTableModel.COL_RESULT,
                                            ResultDelegate(self.table))
        self.detail_label = QLabel("", self)
        self.detail_label.setObjectName("decisionDetail")
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_label.setStyleSheet("background: #ffffff; border: 1px solid #d0d7de;"
                                        " border-radius: 4px; padding: 4px 6px;")
        self.detail_label.setVisible(False)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("decisionFilter")
        self.filter_edit.setPlaceholderText("Filter: plate, card, account, gate…")
        self.filter_edit.setClearButtonEnabled(True)
        self.refused_check = QCheckBox("Refusals only", self)
        self.refused_check.setObjectName("refusedOnly")
        self.pause_check = QCheckBox("Pause", self)
        self.pause_check.setObjectName("pauseDecisions")
        self.pause_check.setToolTip("Keep the list still while reading it; decisions that "
                                    "arrive meanwhile are added when you resume")
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setObjectName("clearDecisions")
        compact(self.clear_button)  # a narrow panel must not widen the window
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("muted")
        self.count_label.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.refused_check)
        top.addWidget(self.pause_check)
        top.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 6)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.count_label)
        self._held: list[DecisionRow] = []
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.refused_check.toggled.connect(self.proxy.set_refused_only)
        self.pause_check.toggled.connect(self._paused)
        self.clear_button.clicked.connect(self.clear)
        self.table.selectionModel().currentRowChanged.connect(self._show_detail)
        bridge.accessDecided.connect(self.add_event)
        if hasattr(bridge, "violationChanged"):
            bridge.violationChanged.connect(self._on_violation_changed)
        self._update_count()
        self._history: asyncio.Task | None = None
        access = getattr(core, "access", None)
        if access is not None and hasattr(access, "recent_decisions"):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None  # built outside the qasync loop (some tests): live rows only
            if loop is not None:
                self._history = loop.create_task(self._load_history(access))

    async def _load_history(self, access: Any) -> None:
        try:
            events = await access.recent_decisions(self.model.cap)
        except Exception as exc:  # the live rows still come; say why the past is missing
            log.warning("earlier decisions not loaded: %s", exc)
            return
        if shiboken6.isValid(self):
            self.model.add_older([DecisionRow.from_event(e) for e in events])
            self._update_count()

    def add_event(self, ev: Any) -> None:
        self.add(DecisionRow.from_event(ev))

    def add(self, row: DecisionRow) -> None:
        if self.pause_check.isChecked():
            self._held.append(row)
            del self._held[:-self.model.cap]
        else:
            self.model.add(row)
        self._update_count()

    def clear(self) -> None:
        self._held.clear()
        self.model.clear()
        self._update_count()

    def _paused(self, paused: bool) -> None:
        if not paused:
            held, self._held = self._held, []
            for row in held:
                self.model.add(row)
        self._update_count()

    def _on_violation_changed(self, _event: Any = None) -> None:
        """An offence recorded, waived or adjusted: the badges follow."""
        self.proxy.violations_changed()
        self._show_detail(self.table.selectionModel().currentIndex())

    def _show_detail(self, current: Any, _previous: Any = None) -> None:
        """The whole decision of the selected row (the table cuts long reasons)."""
        text = current.data(Qt.ItemDataRole.ToolTipRole) if current.isValid() else ""
        self.detail_label.setText(text or "")
        self.detail_label.setVisible(bool(text))

    def _update_count(self) -> None:
        n = self.model.rowCount()
        text = f"{n} decisions (newest on top, the last {self.model.cap} kept)"
        if self._held:
            text += f" · {len(self._held)} waiting (paused)"
        self.count_label.setText(text)

    def rows(self) -> list[list[str]]:
        """What is shown, as text (tests, copy)."""
        m = self.proxy
        return [[m.index(r, c).data() for c in range(m.columnCount())]
                for r in range(m.rowCount())]

    def sizeHint(self) -> QSize:
        return QSize(560, 600)
