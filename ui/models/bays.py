"""BayTableModel: one row per configured bay with the live status of its connector."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer

from app.domain.billing import Bill
from app.domain.charging import ChargerState, ConnectorStatus
from app.domain.site import Bay
from ui.models.common import DISPLAY, NO_VALUE, Index, Roles, RowTableModel, format_local
from ui.receipt import money
from ui.theme import dot, status_color, status_label
from ui.views.offender_badge import BADGE_COLOR, offender_badge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdleFee:
    """The idle fee of a stay so far, as the driver will pay it (VAT included)."""

    amount: int  # minor units of `currency`; 0 while in grace (or outside idle hours)
    currency: str
    grace_min: int | None = None  # the tariff's grace after charging; None: not known

    @property
    def text(self) -> str:
        return f"idle fee {money(self.amount, self.currency)}"


def idle_fee_of(bill: Bill, tariffs: Iterable[Any] = (), idle_since: datetime | None = None
                ) -> IdleFee:
    """The bill's "idle" lines (the cap's negative line included), VAT included
    (Bill.gross_amount), so the map shows what the driver will pay. Discounts and waivers
    are separate lines of the bill and are not taken off here: this is the fee as it
    accrues."""
    amount = bill.gross_amount("idle")
    # The grace: from the idle rule of a tariff version this bill used, the one in force
    # when charging finished (the bill prices idle time by that version too).
    versions = set(bill.tariff_versions)
    used = sorted((t for t in tariffs if getattr(t, "label", None) in versions
                   and getattr(t, "idle", None) is not None),
                  key=lambda t: t.effective_from)
    before = [t for t in used if idle_since is None or t.effective_from <= idle_since]
    rule = (before or used)[-1].idle if used else None
    return IdleFee(max(amount, 0), bill.currency, rule.grace_min if rule else None)


class BayTableModel(RowTableModel):
    COLUMNS = ("Bay", "Zone", "Charger", "Connector", "Status", "Since", "Plate")
    COL_BAY, COL_ZONE, COL_CHARGER, COL_CONNECTOR, COL_STATUS, COL_SINCE, COL_PLATE = range(7)

    def __init__(self, core: Any, bridge: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._charging = core.charging
        self._bays: tuple[Bay, ...] = core.site.bays
        self._zones = {z.id: z.name for z in core.site.zones}
        # Which rows to refresh when a charger or one of its connectors changes.
        self._rows_of: dict[str, list[int]] = {}
        self._row_of: dict[tuple[str, int], int] = {}
        for row, bay in enumerate(self._bays):
            if bay.charger_id is not None:
                self._rows_of.setdefault(bay.charger_id, []).append(row)
                self._row_of[(bay.charger_id, bay.connector_id or 0)] = row
        # The plate bound to each bay (dual-ANPR binding), with its binding id.
        self._plates: dict[str, tuple[int, str]] = {}
        self._core = core
        binding = self._binding = getattr(core, "binding", None)
        for b in (binding.active_bindings() if binding is not None else ()):
            self._plates[b.bay_id] = (b.id, b.plate)
        # Per bay, computed when asked and dropped whenever the row is refreshed: the map
        # and the tooltip ask several times per refresh, pricing the stay once is enough.
        self._fees: dict[str, IdleFee | None] = {}
        self._offences: dict[str, tuple[str, str]] = {}
        self._fee_failed = False
        billing = getattr(core, "billing", None)
        # Older cores (and tests) have no running bill: the map shows the idle time only.
        self._running_bill = getattr(billing, "running_bill", None)
        self._tariffs = getattr(billing, "tariffs", None)
        if self._running_bill is not None and hasattr(bridge, "billChanged"):
            bridge.billChanged.connect(self._on_bill)
        if hasattr(bridge, "violationChanged"):
            bridge.violationChanged.connect(self._on_violation)
        bridge.chargerChanged.connect(self._on_charger_changed)
        bridge.connectorChanged.connect(self._on_connector_changed)
        if hasattr(bridge, "bindingChanged"):
            bridge.bindingChanged.connect(self._on_binding)
        # Idling after charging: the minutes shown on the map move on by themselves.
        self._idle = getattr(core, "idle", None)
        if self._idle is not None and hasattr(bridge, "idleChanged"):
            bridge.idleChanged.connect(self._on_idle)
            self._idle_timer = QTimer(self)
            self._idle_timer.setInterval(30_000)
            self._idle_timer.timeout.connect(self._refresh_idle)
            self._idle_timer.start()

    # -- Qt model API --------------------------------------------------------------

    def _row_count(self) -> int:
        return len(self._bays)

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        if not index.isValid():
            return None
        bay = self._bays[index.row()]
        state = self._state(bay)
        status = self._status(bay, state)
        col = index.column()
        if role == DISPLAY:
            return self._display(bay, state, status, col)
        if role == Qt.ItemDataRole.DecorationRole and col == self.COL_STATUS:
            return dot(status_color(status))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(bay, state, status)
        return self._custom(bay, state, status, role)

    # -- helpers -------------------------------------------------------------------

    def bay_ids(self) -> list[str]:
        return [b.id for b in self._bays]

    def row_of_bay(self, bay_id: str) -> int:
        return next(i for i, b in enumerate(self._bays) if b.id == bay_id)

    def _state(self, bay: Bay) -> ChargerState | None:
        return None if bay.charger_id is None else self._charging.charger(bay.charger_id)

    @staticmethod
    def _status(bay: Bay, state: ChargerState | None) -> ConnectorStatus:
        if state is None or bay.connector_id is None:
            return ConnectorStatus.UNKNOWN
        return state.shown_status(bay.connector_id)

    @staticmethod
    def _since(bay: Bay, state: ChargerState | None, status: ConnectorStatus) -> Any:
        if state is None or bay.connector_id is None:
            return None
        if status is ConnectorStatus.OFFLINE:
            return state.last_seen  # the last time the charger was heard from
        return state.connector(bay.connector_id).since

    def _display(self, bay: Bay, state: ChargerState | None, status: ConnectorStatus,
                 col: int) -> str:
        if col == self.COL_BAY:
            return bay.label
        if col == self.COL_ZONE:
            return self._zones.get(bay.zone_id, bay.zone_id)
        if col == self.COL_CHARGER:
            return bay.charger_id or NO_VALUE
        if col == self.COL_CONNECTOR:
            return NO_VALUE if bay.connector_id is None else str(bay.connector_id)
        if col == self.COL_STATUS:
            return status_label(status) if bay.charger_id else "No charger"
        if col == self.COL_PLATE:
            return self.plate(bay.id) or NO_VALUE
        return format_local(self._since(bay, state, status))

    def _custom(self, bay: Bay, state: ChargerState | None, status: ConnectorStatus,
                role: int) -> Any:
        if role == Roles.STATUS:
            return status
        if role == Roles.BAY_ID:
            return bay.id
        if role == Roles.CHARGER_ID:
            return bay.charger_id
        if role == Roles.CONNECTOR_ID:
            return bay.connector_id
        if role == Roles.ERROR_CODE:
            return None if state is None else state.connector(bay.connector_id or 0).error_code
        if role == Roles.SINCE:
            return self._since(bay, state, status)
        if role == Roles.POSITION:
            return (bay.x, bay.y)
        if role == Roles.PLATE:
            return self.plate(bay.id)
        if role == Roles.IDLE_SINCE:
            return self.idle_since(bay)
        if role == Roles.IDLE_FEE:
            return self.idle_fee(bay)
        if role == Roles.OFFENDER:
            return self.offender(bay.id)[0]  # the badge text, "" for most plates
        return None

    def idle_since(self, bay: Bay) -> Any:
        if self._idle is None or bay.charger_id is None:
            return None
        return self._idle.idle_since(bay.charger_id, bay.connector_id or 0)

    # -- idle fee -----------------------------------------------------------------------

    def session_of(self, bay_id: str) -> int | None:
        """The parking session of the car bound to the bay (the binding learns it late)."""
        plate = self.plate(bay_id)
        if self._binding is None or not plate:
            return None
        binding = next((b for b in self._binding.active_bindings()
                        if b.bay_id == bay_id and b.plate == plate), None)
        return getattr(binding, "parking_session_id", None)

    def idle_fee(self, bay: Bay) -> IdleFee | None:
        """While a charged car idles: its stay's idle fee so far (None: no bill to ask)."""
        if bay.id not in self._fees:
            self._fees[bay.id] = self._price_idle(bay)
        return self._fees[bay.id]

    def _price_idle(self, bay: Bay) -> IdleFee | None:
        since = self.idle_since(bay)
        if since is None or self._running_bill is None:
            return None
        session = self.session_of(bay.id)
        if session is None:
            return None
        try:
            bill = self._running_bill(session)
            if bill is None:
                return None
            fee = idle_fee_of(bill, self._tariffs() if self._tariffs else (), since)
        except Exception as exc:  # the map must keep drawing: log the first failure only
            if not self._fee_failed:
                log.warning("idle fee of bay %s unknown: %s", bay.id, exc)
            self._fee_failed = True
            return None
        self._fee_failed = False
        return fee

    def _on_bill(self, event: Any) -> None:
        rows = [i for i, b in enumerate(self._bays)
                if b.id in self._plates and self.session_of(b.id) == event.parking_session_id]
        if rows:
            self._refresh(rows)

    # -- offenders ----------------------------------------------------------------------

    def offender(self, bay_id: str) -> tuple[str, str]:
        """("⚠ 3", the offences one a line) for a repeat offender's car, else ("", "")."""
        if bay_id not in self._offences:
            self._offences[bay_id] = offender_badge(self._core, self.plate(bay_id))
        return self._offences[bay_id]

    def _on_violation(self, _event: Any) -> None:
        # Every bound plate: an account's offence counts for all its plates.
        rows = [i for i, b in enumerate(self._bays) if b.id in self._plates]
        if rows:
            self._refresh(rows)

    def _on_idle(self, event: Any) -> None:
        row = self._row_of.get((event.charger_id, event.connector_id))
        if row is not None:
            self._refresh([row])

    def _refresh_idle(self) -> None:
        rows = [i for i, b in enumerate(self._bays) if self.idle_since(b) is not None]
        if rows:
            self._refresh(rows)

    def plate(self, bay_id: str) -> str:
        entry = self._plates.get(bay_id)
        return entry[1] if entry else ""

    def _on_binding(self, event: Any) -> None:
        if event.active:
            self._plates[event.bay_id] = (event.binding_id, event.plate)
        elif self._plates.get(event.bay_id, (None,))[0] == event.binding_id:
            del self._plates[event.bay_id]  # not when an older binding ends after a rebind
        else:
            return
        row = next((i for i, b in enumerate(self._bays) if b.id == event.bay_id), None)
        if row is not None:
            self._refresh([row])

    def _tooltip(self, bay: Bay, state: ChargerState | None, status: ConnectorStatus) -> str:
        word = status_label(status)
        # The OCPP name too when it differs: that is what the charger's manual calls it.
        ocpp = f" ({status.value})" if status.value != word else ""
        lines = [f"<b>{escape(bay.label)}</b> — {word}{ocpp}"]
        if bay.charger_id is None or state is None:
            lines.append("No charger at this bay")
            return "<br>".join(lines)
        lines.append(f"Charger {bay.charger_id}, connector {bay.connector_id}")
        ident = state.identity
        make = " ".join(p for p in (ident.vendor, ident.model) if p)
        if make:
            fw = f", firmware {ident.firmware}" if ident.firmware else ""
            lines.append(escape(make + fw))
        if ident.serial:
            lines.append(f"Serial {escape(ident.serial)}")
        error = state.connector(bay.connector_id or 0).error_code
        if error and error != "NoError":
            lines.append(f"<span style='color:#d1242f'>Error: {escape(error)}</span>")
        plate = self.plate(bay.id)
        if plate:
            lines.append(f"Car <b>{escape(plate)}</b> (bound by the bay camera or the card)")
            badge, offences = self.offender(bay.id)
            if badge:
                head, *rest = offences.split("\n")
                lines.append(f"<span style='color:{BADGE_COLOR}'><b>{escape(badge)}  "
                             f"{escape(head)}</b></span>")
                lines.extend(escape(f"· {line}") for line in rest)
        fee = self.idle_fee(bay)
        if fee is not None:
            if fee.amount > 0:
                lines.append(f"<span style='color:#c62828'>Idle fee so far <b>"
                             f"{money(fee.amount, fee.currency)}</b> (VAT incl.)</span>")
            elif fee.grace_min is not None:
                lines.append(f"Idle fee after {fee.grace_min} min grace: none yet")
        label = "Last seen" if status is ConnectorStatus.OFFLINE else "Since"
        lines.append(f"{label} {format_local(self._since(bay, state, status))}")
        return "<br>".join(lines)

    def _refresh(self, rows: list[int]) -> None:
        last = self.columnCount() - 1
        for row in rows:
            bay_id = self._bays[row].id
            self._fees.pop(bay_id, None)
            self._offences.pop(bay_id, None)
            self.dataChanged.emit(self.index(row, 0), self.index(row, last))

    def _on_charger_changed(self, charger_id: str) -> None:
        # Online/offline flips every bay of the charger (Offline wins over the last status).
        self._refresh(self._rows_of.get(charger_id, []))

    def _on_connector_changed(self, charger_id: str, connector_id: int) -> None:
        row = self._row_of.get((charger_id, connector_id))
        if row is not None:
            self._refresh([row])
