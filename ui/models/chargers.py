"""ChargerTableModel: the site's chargers plus any unknown charger that connects."""

from __future__ import annotations

import bisect
from html import escape
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QColor

from app.domain.charging import ChargerState, RegistrationStatus
from ui.models.common import DISPLAY, NO_VALUE, Index, Roles, RowTableModel, format_local
from ui.theme import OFFLINE_COLOR, ONLINE_COLOR, dot

_STATE_COLORS = {
    "Online": ONLINE_COLOR,
    "Offline": OFFLINE_COLOR,
    "Pending": QColor("#e0a100"),
    "Rejected": QColor("#d1242f"),
}


def charger_state_text(state: ChargerState) -> str:
    if not state.online:
        return "Offline"
    if state.registration is RegistrationStatus.PENDING:
        return "Pending"
    if state.registration is RegistrationStatus.REJECTED:
        return "Rejected"
    return "Online"


class ChargerTableModel(RowTableModel):
    COLUMNS = ("Charger", "OCPP", "Vendor / Model", "Firmware", "State", "Last seen")
    COL_ID, COL_OCPP, COL_MAKE, COL_FIRMWARE, COL_STATE, COL_LAST_SEEN = range(6)

    def __init__(self, core: Any, bridge: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._charging = core.charging
        self._site = core.site
        # Sorted ids; an unknown charger is inserted in place (beginInsertRows, as in
        # napari's _base_item_model) so views keep their selection and scroll position.
        self._ids: list[str] = sorted(c.id for c in core.charging.chargers())
        bridge.chargerChanged.connect(self._on_changed)
        bridge.connectorChanged.connect(self._on_connector_changed)

    # -- Qt model API --------------------------------------------------------------

    def _row_count(self) -> int:
        return len(self._ids)

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        charger_id = self._ids[index.row()]
        state = self._charging.charger(charger_id) or ChargerState(id=charger_id)
        col = index.column()
        if role == DISPLAY:
            return self._display(state, col)
        if role == Qt.ItemDataRole.DecorationRole and col == self.COL_STATE:
            return dot(_STATE_COLORS[charger_state_text(state)])
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(state)
        return {
            Roles.CHARGER_ID: charger_id,
            Roles.ONLINE: state.online,
            Roles.STATE: charger_state_text(state),
            Roles.KNOWN: self._site.charger(charger_id) is not None,
            Roles.LAST_SEEN: state.last_seen,
        }.get(role)

    # -- helpers -------------------------------------------------------------------

    def charger_ids(self) -> list[str]:
        return list(self._ids)

    def row_of(self, charger_id: str) -> int:
        return self._ids.index(charger_id)

    def online_count(self) -> int:
        return sum(1 for cid in self._ids if (s := self._charging.charger(cid)) and s.online)

    def _make(self, state: ChargerState) -> str:
        make = " ".join(p for p in (state.identity.vendor, state.identity.model) if p)
        if make:
            return make
        cfg = self._site.charger(state.id)
        return cfg.label if cfg and cfg.label else NO_VALUE

    def _display(self, state: ChargerState, col: int) -> str:
        if col == self.COL_ID:
            return state.id
        if col == self.COL_OCPP:
            return state.ocpp_version.value if state.ocpp_version else NO_VALUE
        if col == self.COL_MAKE:
            return self._make(state)
        if col == self.COL_FIRMWARE:
            return state.identity.firmware or NO_VALUE
        if col == self.COL_STATE:
            return charger_state_text(state)
        return format_local(state.last_seen)

    def _tooltip(self, state: ChargerState) -> str:
        lines = [f"<b>{escape(state.id)}</b> — {charger_state_text(state)}"]
        lines.append(escape(self._make(state)))
        if self._site.charger(state.id) is None:
            lines.append("Not in the site configuration: assign it to a bay")
        if state.identity.serial:
            lines.append(f"Serial {escape(state.identity.serial)}")
        if state.remote:
            lines.append(f"Address {escape(state.remote)}")
        return "<br>".join(lines)

    def _on_connector_changed(self, charger_id: str, _connector_id: int) -> None:
        self._on_changed(charger_id)  # a status report also moves "Last seen"

    def _on_changed(self, charger_id: str) -> None:
        pos = bisect.bisect_left(self._ids, charger_id)
        if pos < len(self._ids) and self._ids[pos] == charger_id:
            self.dataChanged.emit(self.index(pos, 0), self.index(pos, len(self.COLUMNS) - 1))
            return
        self.beginInsertRows(QModelIndex(), pos, pos)
        self._ids.insert(pos, charger_id)
        self.endInsertRows()
