"""Roles and formatting shared by the models (and read by the views)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

NO_VALUE = "—"


class Roles(IntEnum):
    """Custom data roles; views ask for these instead of parsing display text."""

    # ConnectorStatus; through QModelIndex.data() PySide6 hands back its str value,
    # so readers wrap it: ConnectorStatus(index.data(Roles.STATUS)).
    STATUS = Qt.ItemDataRole.UserRole + 1
    BAY_ID = Qt.ItemDataRole.UserRole + 2
    CHARGER_ID = Qt.ItemDataRole.UserRole + 3
    CONNECTOR_ID = Qt.ItemDataRole.UserRole + 4
    ERROR_CODE = Qt.ItemDataRole.UserRole + 5
    SINCE = Qt.ItemDataRole.UserRole + 6  # UTC datetime or None
    POSITION = Qt.ItemDataRole.UserRole + 7  # (x, y) on the site plan, in bay units
    ONLINE = Qt.ItemDataRole.UserRole + 8  # bool (chargers)
    STATE = Qt.ItemDataRole.UserRole + 9  # "Online" / "Offline" / "Pending" / "Rejected"
    KNOWN = Qt.ItemDataRole.UserRole + 10  # bool: the charger is in the site configuration
    LAST_SEEN = Qt.ItemDataRole.UserRole + 11  # UTC datetime or None
    PLATE = Qt.ItemDataRole.UserRole + 12  # str: the plate bound to the bay ("" none)
    IDLE_SINCE = Qt.ItemDataRole.UserRole + 13  # UTC datetime: charging finished, car stays
    # ui.models.bays.IdleFee or None: the idle fee of the stay so far (bays, while idle)
    IDLE_FEE = Qt.ItemDataRole.UserRole + 14
    OFFENDER = Qt.ItemDataRole.UserRole + 15  # str: "⚠ 3" when the bound plate is a repeat
    # offender (ui.views.offender_badge), else ""


def format_local(at: datetime | None, now: datetime | None = None) -> str:
    """UTC in storage, the PC's local time on screen; the date only when it is not today."""
    if at is None:
        return NO_VALUE
    if at.tzinfo is None:  # storage is UTC even if a naive value slips through
        at = at.replace(tzinfo=UTC)
    local = at.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    if local.date() == today:
        return local.strftime("%H:%M:%S")
    return local.strftime("%d %b %H:%M")


Index = QModelIndex | QPersistentModelIndex
DISPLAY = Qt.ItemDataRole.DisplayRole


class RowTableModel(QAbstractTableModel):
    """A flat table with fixed COLUMNS; subclasses say how many rows and what is in them."""

    COLUMNS: tuple[str, ...] = ()

    def _row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._row_count()

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY:
            return self.COLUMNS[section]
        return None
