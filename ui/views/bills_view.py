"""The Bills tab: pick a stay (inside or gone), see its itemized bill, take a payment,
waive (audited by the billing service), save the receipt as PDF or print it.

Stays listed: the open parking sessions (core.gate.open_sessions()) plus every stay
whose bill this console has seen change (BillChanged) since it started. The billing
service has no listing of closed bills yet (see the report: `recent_bills(limit)`).
Dialogs are shown with open(), never exec(); service calls run as tasks on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.events import ParkingSessionChanged
from ui.dialogs.payment import PaymentDialog
from ui.dialogs.supervisor_approval import ask_supervisor
from ui.dialogs.tariff_editor import TariffEditorDialog
from ui.dialogs.waiver import WaiverDialog
from ui.receipt import HAS_PRINT, local_time, money, print_receipt, quantity, save_pdf
from ui.views.access_actions import ChangeRunner, open_dialog, show_result
from ui.views.command_bar import actor_name
from ui.views.offender_badge import BADGE_COLOR, BadgeCache, badge_html

log = logging.getLogger(__name__)

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _item(text: str, right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if right:
        item.setTextAlignment(_RIGHT)
    return item


class BillsView(QWidget):
    billShown = Signal(int)  # parking session id whose bill the detail now shows

    def __init__(self, core: Any, bridge: Any, parent: QWidget | None = None, *,
                 actor: str | None = None) -> None:
        super().__init__(parent)
        self._core = core
        self._billing = core.billing
        self.actor = actor or actor_name()
        self._stays: dict[int, dict[str, Any]] = {}  # session id -> row summary
        self._current: int | None = None
        self.record: Any = None  # the BillRecord shown
        self.runner = ChangeRunner(self)
        self.dialog: Any = None  # the last dialog opened (tests drive it)
        self.tariff_editor: TariffEditorDialog | None = None
        self._badges = BadgeCache(core)  # repeat offenders: "⚠ 3" by the plate

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        layout.addWidget(splitter)

        self.stay_table = QTableWidget(0, 4, splitter)
        self.stay_table.setObjectName("stayTable")
        self.stay_table.setHorizontalHeaderLabels(["Plate", "Entry", "Status", "Total"])
        self.stay_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.stay_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.stay_table.verticalHeader().hide()
        self.stay_table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.Stretch)
        self.stay_table.itemSelectionChanged.connect(self._selection_changed)

        detail = QWidget(splitter)
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        self.header_label = QLabel("Pick a stay to see its bill.", detail)
        self.header_label.setObjectName("billHeader")
        self.header_label.setWordWrap(True)
        dl.addWidget(self.header_label)
        self.line_table = QTableWidget(0, 4, detail)
        self.line_table.setObjectName("lineTable")
        self.line_table.setHorizontalHeaderLabels(["Item", "Quantity", "Unit price", "Amount"])
        self.line_table.verticalHeader().hide()
        self.line_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.line_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        dl.addWidget(self.line_table, 1)
        self.totals_label = QLabel("", detail)
        self.totals_label.setObjectName("billTotals")
        self.totals_label.setAlignment(_RIGHT)
        dl.addWidget(self.totals_label)
        buttons = QGridLayout()  # two by two: the dock must stay narrow (1024 screens)
        self.pay_button = QPushButton("Take payment…", detail)
        self.waive_button = QPushButton("Waive…", detail)
        self.waive_button.setToolTip("Supervisor action: written to the audit trail")
        self.pdf_button = QPushButton("Save PDF…", detail)
        self.print_button = QPushButton("Print…", detail)
        self.print_button.setVisible(HAS_PRINT)
        self.tariffs_button = QPushButton("Tariffs…", detail)
        self.tariffs_button.setToolTip("Supervisor: edit tariffs with a bill preview")
        for i, button in enumerate((self.pay_button, self.waive_button, self.pdf_button,
                                    self.print_button, self.tariffs_button)):
            buttons.addWidget(button, i // 2, i % 2)
        buttons.setColumnStretch(2, 1)
        dl.addLayout(buttons)
        self.result_label = QLabel("", detail)
        self.result_label.setObjectName("billResult")
        self.result_label.setWordWrap(True)
        dl.addWidget(self.result_label)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)

        self.pay_button.clicked.connect(self.ask_payment)
        self.waive_button.clicked.connect(self.ask_waiver)
        self.pdf_button.clicked.connect(self.ask_save_pdf)
        self.print_button.clicked.connect(self.print_bill)
        self.tariffs_button.clicked.connect(self.open_tariffs)
        bridge.billChanged.connect(self._on_bill_changed)
        bridge.gateEvent.connect(self._on_gate_event)
        if hasattr(bridge, "violationChanged"):
            bridge.violationChanged.connect(self._on_violation_changed)
        self.refresh_stays()
        self._show(None)
        self._history: asyncio.Task | None = None
        if hasattr(self._billing, "recent_bills"):
            # Built outside the qasync loop (some tests): open stays only.
            with contextlib.suppress(RuntimeError):
                self._history = asyncio.get_running_loop().create_task(self._load_recent())

    async def _load_recent(self) -> None:
        """Closed stays' bills from the database: the list survives a restart."""
        try:
            rows = await self._billing.recent_bills(200)
        except Exception as exc:
            log.warning("earlier bills not loaded: %s", exc)
            return
        if not shiboken6.isValid(self):
            return
        for r in rows:
            row = self._stays.setdefault(int(r["parking_session_id"]), {})
            row.setdefault("open", False)
            row.setdefault("plate", r["plate"])
            row.setdefault("entry", r["opened_at"])
            row.setdefault("status", r["status"])
            row.setdefault("total", r["total"])
            row.setdefault("currency", r["currency"])
        self._fill_stays()

    # -- the list of stays ------------------------------------------------------------

    def refresh_stays(self) -> None:
        gate = getattr(self._core, "gate", None)
        open_ids = set()
        for session in (gate.open_sessions() if gate is not None else ()):
            if not session.id:
                continue
            open_ids.add(session.id)
            row = self._stays.setdefault(session.id, {})
            row.update(plate=session.value, entry=session.entry_at, open=True)
            self._take_record(session.id)
        for sid, row in self._stays.items():
            if sid not in open_ids:
                row["open"] = False
        self._fill_stays()

    def _take_record(self, session_id: int) -> None:
        record = self._billing.known_bill(session_id)
        if record is None:
            return
        row = self._stays.setdefault(session_id, {})
        row.update(plate=record.plate or row.get("plate", ""),
                   entry=record.opened_at, status=record.status, total=record.total,
                   currency=record.currency)

    def _fill_stays(self) -> None:
        ordered = sorted(self._stays.items(),
                         key=lambda kv: (not kv[1].get("open", False),
                                         -(kv[1]["entry"].timestamp() if kv[1].get("entry")
                                           else 0)))
        table = self.stay_table
        table.blockSignals(True)
        table.setRowCount(len(ordered))
        selected_row = -1
        for r, (sid, row) in enumerate(ordered):
            status = row.get("status", "—")
            if row.get("open") and status == "open":
                status = "inside"
            badge, tip = self._badges.get(row.get("plate") or "")
            plate = _item((row.get("plate") or f"stay {sid}") + (f"  {badge}" if badge else ""))
            plate.setData(Qt.ItemDataRole.UserRole, sid)
            if badge:
                plate.setForeground(QColor(BADGE_COLOR))
                plate.setToolTip(tip)
            table.setItem(r, 0, plate)
            table.setItem(r, 1, _item(local_time(row.get("entry"))))
            table.setItem(r, 2, _item(status))
            total = row.get("total")
            table.setItem(r, 3, _item("—" if total is None
                                      else money(total, row.get("currency", "EUR")), True))
            if sid == self._current:
                selected_row = r
        if selected_row >= 0:
            table.selectRow(selected_row)
        else:
            table.clearSelection()
        table.blockSignals(False)
        table.resizeColumnToContents(0)

    def stay_ids(self) -> list[int]:
        return [self.stay_table.item(r, 0).data(Qt.ItemDataRole.UserRole)
                for r in range(self.stay_table.rowCount())]

    def _selection_changed(self) -> None:
        rows = self.stay_table.selectionModel().selectedRows()
        if rows:
            item = self.stay_table.item(rows[0].row(), 0)
            self.select_stay(int(item.data(Qt.ItemDataRole.UserRole)))

    # -- one stay's bill --------------------------------------------------------------

    def select_stay(self, session_id: int) -> None:
        """Show a stay's bill: the one known now at once, then freshly computed."""
        self._current = session_id
        self.result_label.setText("")
        self._show(self._billing.known_bill(session_id))
        self._schedule(self._billing.bill(session_id), self._fetched)

    def _fetched(self, record: Any) -> None:
        if record.parking_session_id == self._current:
            self._take_record(record.parking_session_id)
            self._show(record)
            self._fill_stays()

    def _show(self, record: Any) -> None:
        self.record = record
        has = record is not None
        for button in (self.pay_button, self.waive_button, self.pdf_button, self.print_button):
            button.setEnabled(has)
        if not has:
            self.line_table.setRowCount(0)
            self.totals_label.setText("")
            self.header_label.setText("Pick a stay to see its bill." if self._current is None
                                      else "Computing the bill…")
            return
        self.pay_button.setEnabled(record.outstanding > 0 and record.status != "void")
        cur = record.currency
        self._set_header(record)
        lines = record.bill.lines
        self.line_table.setRowCount(len(lines))
        for r, ln in enumerate(lines):
            self.line_table.setItem(r, 0, _item(ln.description or ln.component))
            self.line_table.setItem(r, 1, _item(f"{quantity(ln.quantity)} {ln.unit or ''}",
                                                True))
            self.line_table.setItem(r, 2, _item(money(ln.unit_price, cur), True))
            self.line_table.setItem(r, 3, _item(money(ln.amount, cur), True))
        self.line_table.resizeColumnsToContents()
        self.line_table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.totals_label.setText(
            f"Subtotal {money(record.bill.subtotal, cur)} · VAT {money(record.bill.vat, cur)}"
            f"<br/><b>Total {money(record.total, cur)}</b> · paid {money(record.paid, cur)} · "
            f"owed <b>{money(record.outstanding, cur)}</b> · status <b>{record.status}</b>")
        self.billShown.emit(record.parking_session_id)

    def _set_header(self, record: Any) -> None:
        badge, tip = self._badges.get(record.plate or "")
        count = badge.removeprefix("⚠ ")
        self.header_label.setText(
            f"<b>{record.plate or '—'}</b>"
            + (badge_html(f"⚠ repeat offender ({count})") if badge else "")
            + f" · bill #{record.id} · stay "
            f"{record.parking_session_id}<br/>Entry {local_time(record.opened_at)} · exit "
            f"{local_time(record.closed_at) if record.closed_at else 'still inside'}"
            + ("" if record.bill.lines else " · <i>nothing charged yet</i>"))
        self.header_label.setToolTip(tip)

    def offender_badge_text(self, session_id: int) -> tuple[str, str]:
        """The badge shown by a stay's plate in the list, and its tooltip (tests)."""
        ids = self.stay_ids()
        if session_id not in ids:
            return "", ""
        item = self.stay_table.item(ids.index(session_id), 0)
        text = item.text()
        return (text.split("  ", 1)[1] if "  " in text else ""), item.toolTip()

    # -- events -----------------------------------------------------------------------

    def _on_violation_changed(self, _event: Any = None) -> None:
        """An offence recorded, waived or adjusted: the badges follow."""
        self._badges.clear()
        self._fill_stays()
        if self.record is not None:
            self._set_header(self.record)

    def _on_bill_changed(self, event: Any) -> None:
        sid = event.parking_session_id
        row = self._stays.setdefault(sid, {})
        row.update(status=event.status, total=event.total, currency=event.currency)
        self._take_record(sid)
        if sid == self._current:
            record = self._billing.known_bill(sid)
            if record is not None:
                self._show(record)
        self._fill_stays()

    def _on_gate_event(self, event: Any) -> None:
        if isinstance(event, ParkingSessionChanged):
            self.refresh_stays()

    # -- actions ----------------------------------------------------------------------

    def ask_payment(self) -> PaymentDialog | None:
        record = self.record
        if record is None:
            return None
        dialog = PaymentDialog(record, self)
        dialog.setObjectName("paymentDialog")

        def pay() -> None:
            method, amount = dialog.method(), dialog.amount()  # read before it is deleted
            message = f"Payment of {money(amount, record.currency)} ({method}) taken"
            self._schedule(self._billing.pay(self.actor, record.id, method,
                                             dialog.reference(), amount),
                           lambda r: self._done(r, message))
        return self._open(dialog, pay)

    def ask_waiver(self) -> WaiverDialog | None:
        record = self.record
        if record is None:
            return None
        dialog = WaiverDialog(record, self)
        dialog.setObjectName("waiverDialog")

        def waive() -> None:
            # Read the dialog before it is deleted; a supervisor approves, then it runs.
            comps, percent = dialog.components(), dialog.percent()
            amount, reason = dialog.amount(), dialog.reason()
            what = f"Waiver on bill {record.id} ({record.plate or 'no plate'}): {reason}"
            ask_supervisor(self, self._core, what, lambda approval: self._schedule(
                self._billing.adjust(self.actor, record.id, "waiver", comps, percent=percent,
                                     amount=amount, reason=reason, approval=approval),
                lambda r: self._done(r, "Waiver applied")))
        return self._open(dialog, waive)

    def ask_save_pdf(self) -> QFileDialog | None:
        record = self.record
        if record is None:
            return None
        dialog = QFileDialog(self, "Save receipt as PDF", str(Path.home()),
                             "PDF files (*.pdf)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("pdf")
        dialog.selectFile(f"receipt-{record.id}.pdf")
        dialog.fileSelected.connect(self.save_pdf_to)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()
        return dialog

    def save_pdf_to(self, path: str | Path) -> Path | None:
        if self.record is None:
            return None
        try:
            written = save_pdf(self.record, path, self._site_name())
        except OSError as exc:
            self._result(f"✗ Not saved: {exc}", False)
            return None
        self._result(f"✓ Receipt saved to {written}", True)
        return written

    def print_bill(self) -> Any:
        if self.record is None:
            return None
        self.dialog = print_receipt(self.record, self, self._site_name())
        return self.dialog

    def open_tariffs(self) -> TariffEditorDialog:
        """The tariff editor, non-modal (bills stay usable); one at a time."""
        editor = getattr(self, "tariff_editor", None)
        if editor is not None and shiboken6.isValid(editor) and editor.isVisible():
            if QGuiApplication.platformName() not in ("offscreen", "minimal"):
                editor.raise_()  # those plugins warn "does not support raise()"
                editor.activateWindow()
            return editor
        editor = TariffEditorDialog(self._core, self, actor=self.actor)
        editor.setWindowModality(Qt.WindowModality.NonModal)
        editor.finished.connect(editor.deleteLater)
        self.tariff_editor = editor
        editor.show()  # open() would make it window-modal over the console
        return editor

    def in_flight(self) -> bool:
        return self.runner.in_flight() > 0

    # -- helpers ----------------------------------------------------------------------

    def _site_name(self) -> str:
        site = getattr(self._core, "site", None)
        return getattr(site, "name", "") or ""

    def _open(self, dialog: Any, on_accept: Callable[[], None]) -> Any:
        return open_dialog(self, dialog, on_accept)

    def _done(self, record: Any, message: str) -> None:
        self._result(f"✓ {message}: owed now {money(record.outstanding, record.currency)}",
                     True)
        if record.parking_session_id == self._current:
            self._take_record(record.parking_session_id)
            self._show(record)
            self._fill_stays()

    def _result(self, text: str, ok: bool) -> None:
        show_result(self.result_label, text, ok)

    def _schedule(self, work: Awaitable[Any], done: Callable[[Any], None]) -> None:
        """Run a service call on the loop; its result goes to `done`, a refusal (ValueError,
        KeyError: a message for the user) to the result line."""
        self.runner.call(work, ok=done,
                         fail=lambda m: self._result(f"✗ Not done: {m}", False))
