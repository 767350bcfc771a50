"""Supervisors' tariff editor: pick a tariff version, edit it, preview a bill, save.

The form covers the common fields (amounts typed in currency units, e.g. 3.00, stored as
integer minor units; a blank field leaves the component or cap out); the "Advanced (JSON)"
tab shows the whole document for the rest (idle hours, discounts, ...). Both edit one
document. The preview prices a built-in sample stay, or one of the newest real stays that
left (as if the edited tariff had applied to all of it, next to what it was billed), with
the pure engine (app.domain.billing.compute_bill) and the edited, unsaved document, on
every change. An invalid field is named next to the form and Save stays disabled. Save
asks a supervisor's approval, then awaits ``core.billing.save_tariff(actor, doc,
approval=...)`` (validates, audits, recomputes) on the running (qasync) loop and shows the
version it stored. Non-modal; never exec().
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import shiboken6
from PySide6.QtCore import QDate, QDateTime, Qt, QTime
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.billing import BillingError, compute_bill, timeline_from_dict
from app.domain.tariffs import FieldError, tariff_from_dict, tariff_to_dict
from ui.dialogs.supervisor_approval import ask_supervisor
from ui.receipt import money, quantity
from ui.views.access_actions import FAIL_COLOR, show_result
from ui.views.command_bar import actor_name

log = logging.getLogger(__name__)

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
P = "tariff.components"

# (key, label, document path, kind): kind "money" (currency units), "int" (minutes).
FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("parking.block_min", "Parking block (min)", f"{P}.parking.block_min", "int"),
    ("parking.block_price", "Parking block price", f"{P}.parking.block_price", "money"),
    ("parking.free_min", "Parking free (min)", f"{P}.parking.free_min", "int"),
    ("parking.daily_max", "Parking daily max", f"{P}.parking.daily_max", "money"),
    ("energy.per_kwh", "Energy per kWh", f"{P}.energy.per_kwh", "money"),
    ("idle.per_min", "Idle per min", f"{P}.idle.per_min", "money"),
    ("idle.grace_min", "Idle grace (min)", f"{P}.idle.grace_min", "int"),
    ("idle.cap", "Idle cap per charge", f"{P}.idle.cap", "money"),
    ("overstay.max_stay_min", "Overstay after (min)", f"{P}.overstay.max_stay_min", "int"),
    ("overstay.per_min", "Overstay per min", f"{P}.overstay.per_min", "money"),
    ("overstay.block_min", "Overstay block (min)", f"{P}.overstay.block_min", "int"),
    ("overstay.block_price", "Overstay block price", f"{P}.overstay.block_price", "money"),
    ("session_fee.amount", "Session fee", f"{P}.session_fee.amount", "money"),
    # What the fee dialog proposes when an attendant issues an enforcement fee.
    ("penalties.overstay", "Overstay fine", f"{P}.penalties.overstay", "money"),
    ("penalties.idle", "Idle fine", f"{P}.penalties.idle", "money"),
    ("penalties.ice", "ICE-ing fine", f"{P}.penalties.ice", "money"),
)
VAT_PATH = "tariff.vat_rate_bp"
EFFECTIVE_PATH = "tariff.effective_from"

RECENT_STAYS = 8  # real stays that left, offered as preview samples after the built-in ones
SAMPLES: tuple[tuple[str, str], ...] = (
    ("parking", "2 h parking, no charging"),
    ("charging", "3 h stay, 2 h charging 20 kWh, 45 min idle after"),
    ("overnight", "overnight stay across midnight"),
)


# -- pure helpers (tests use them too) -------------------------------------------------------

def parse_money(text: str, path: str) -> int | None:
    """ "3.00" (or "3,5") -> 300 minor units; blank -> None; FieldError otherwise."""
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text) * 100
    except InvalidOperation:
        raise FieldError(path, "must be an amount like 3.00") from None
    if not value.is_finite() or value < 0 or value != value.to_integral_value():
        raise FieldError(path, "must be a non-negative amount with at most 2 decimals")
    return int(value)


def parse_int(text: str, path: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise FieldError(path, "must be a whole number of minutes")
    return int(text)


def format_money(value: Any) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return "" if value is None else str(value)
    sign = "-" if value < 0 else ""
    major, minor = divmod(abs(value), 100)
    return f"{sign}{major}.{minor:02d}"


def sample_timeline(key: str, effective_from: datetime, tz: str,
                    group: str = "", zone: str = "") -> dict[str, Any]:
    """A built-in sample stay (timeline document), on the first Wednesday (site-local)
    after the tariff takes effect, so the edited version is in force for all of it."""
    zone_info = ZoneInfo(tz)
    day = effective_from.astimezone(zone_info).date() + timedelta(days=1)
    day += timedelta(days=(2 - day.weekday()) % 7)

    def at(hh: int, mm: int = 0, plus_days: int = 0) -> str:
        local = datetime.combine(day + timedelta(days=plus_days), time(hh, mm), zone_info)
        return local.astimezone(UTC).isoformat().replace("+00:00", "Z")

    doc: dict[str, Any] = {"session_id": f"sample-{key}", "group": group, "zone": zone,
                           "plate": "SAMPLE", "charging": []}
    if key == "parking":
        doc.update(entry_at=at(10), exit_at=at(12))
    elif key == "charging":
        doc.update(entry_at=at(9), exit_at=at(12))
        doc["charging"] = [{
            "transaction_id": "sample-1", "start": at(9, 5), "end": at(11, 50),
            "charging_ended_at": at(11, 5),
            "samples": [{"id": "s1", "at": at(9, 5), "wh": 0},
                        {"id": "s2", "at": at(11, 5), "wh": 20000},
                        {"id": "s3", "at": at(11, 50), "wh": 20000}]}]
    elif key == "overnight":
        doc.update(entry_at=at(18), exit_at=at(9, 0, plus_days=1))
    else:
        raise KeyError(key)
    return doc


def _get(doc: dict[str, Any], dotted: str) -> Any:
    comp, key = dotted.split(".")
    section = (doc.get("components") or {}).get(comp)
    return section.get(key) if isinstance(section, dict) else None


class TariffEditorDialog(QDialog):
    def __init__(self, core: Any, parent: QWidget | None = None, *,
                 actor: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tariffEditor")
        self.setWindowTitle("Tariffs")
        self._core = core
        self._billing = core.billing
        self.actor = actor or actor_name()
        self.tz = getattr(getattr(core, "site", None), "timezone", "") or "UTC"
        self._doc: dict[str, Any] = {}
        self._updating = False
        self._tasks: set[asyncio.Task] = set()
        # Recent real stays to preview on: session id -> (timeline, billed total, currency).
        self._stays: dict[int, tuple[Any, int, str]] = {}
        self._loads: set[asyncio.Task] = set()
        self.error: FieldError | None = None
        self.bill: Any = None
        self.saved_version: int | None = None

        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("Tariff:", self))
        self.tariff_combo = QComboBox(self)
        self.tariff_combo.setObjectName("tariffCombo")
        self.tariff_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        top.addWidget(self.tariff_combo, 1)
        outer.addLayout(top)

        body = QHBoxLayout()
        outer.addLayout(body, 1)

        # -- left: the form and the JSON --------------------------------------------------
        left = QVBoxLayout()
        body.addLayout(left, 1)
        self.tabs = QTabWidget(self)
        left.addWidget(self.tabs, 1)
        form_page = QWidget()
        form = QFormLayout(form_page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.effective_edit = QDateTimeEdit(form_page)
        self.effective_edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.effective_edit.setCalendarPopup(True)
        self.effective_edit.setToolTip(f"Site-local time ({self.tz}); stored as UTC")
        form.addRow("Effective from", self.effective_edit)
        tz_note = QLabel(f"{self.tz} time, stored as UTC", form_page)
        tz_note.setWordWrap(True)
        tz_note.setStyleSheet("color: palette(mid);")
        form.addRow("", tz_note)
        self.vat_edit = QLineEdit(form_page)
        self.vat_edit.setPlaceholderText("e.g. 21")
        form.addRow("VAT rate (%)", self.vat_edit)
        self.fields: dict[str, QLineEdit] = {}
        self._paths: dict[str, QWidget] = {VAT_PATH: self.vat_edit,
                                           EFFECTIVE_PATH: self.effective_edit}
        for key, label, path, kind in FIELDS:
            edit = QLineEdit(form_page)
            edit.setObjectName(key)
            edit.setPlaceholderText("0.00 — blank: none" if kind == "money"
                                    else "minutes — blank: none")
            if key.startswith("penalties."):
                edit.setToolTip("Proposed when an attendant issues this fee; blank: the "
                                "enforcement ladder's amount")
            form.addRow(label, edit)
            self.fields[key] = edit
            self._paths[path] = edit
            edit.textChanged.connect(self._form_changed)
        self.vat_edit.textChanged.connect(self._form_changed)
        self.effective_edit.dateTimeChanged.connect(self._form_changed)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(form_page.sizeHint().width()
                               + scroll.verticalScrollBar().sizeHint().width() + 4)
        scroll.setWidget(form_page)
        self.tabs.addTab(scroll, "Form")
        self.json_edit = QPlainTextEdit()
        self.json_edit.setObjectName("tariffJson")
        self.json_edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.json_edit.textChanged.connect(self._json_changed)
        self.tabs.addTab(self.json_edit, "Advanced (JSON)")
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("tariffError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {FAIL_COLOR};")
        left.addWidget(self.error_label)

        # -- right: the preview -----------------------------------------------------------
        preview = QGroupBox("Preview (unsaved)", self)
        pl = QVBoxLayout(preview)
        self.sample_combo = QComboBox(preview)
        self.sample_combo.setObjectName("sampleCombo")
        for key, label in SAMPLES:
            self.sample_combo.addItem(label, key)
        self.sample_combo.currentIndexChanged.connect(self.update_preview)
        pl.addWidget(self.sample_combo)
        self.sample_label = QLabel("", preview)
        self.sample_label.setWordWrap(True)
        pl.addWidget(self.sample_label)
        self.line_table = QTableWidget(0, 3, preview)
        self.line_table.setObjectName("previewLines")
        self.line_table.setHorizontalHeaderLabels(["Item", "Quantity", "Amount"])
        self.line_table.verticalHeader().hide()
        self.line_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.line_table.setWordWrap(True)
        pl.addWidget(self.line_table, 1)
        self.total_label = QLabel("", preview)
        self.total_label.setObjectName("previewTotal")
        self.total_label.setAlignment(_RIGHT)
        pl.addWidget(self.total_label)
        body.addWidget(preview, 1)

        # -- bottom: save / close ---------------------------------------------------------
        bottom = QHBoxLayout()
        self.result_label = QLabel("", self)
        self.result_label.setObjectName("tariffResult")
        self.result_label.setWordWrap(True)
        bottom.addWidget(self.result_label, 1)
        self.save_button = QPushButton("Save as new version", self)
        self.save_button.setToolTip("Supervisor action: written to the audit trail")
        self.save_button.clicked.connect(self.save)
        self.close_button = QPushButton("Close", self)
        self.close_button.clicked.connect(self.reject)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.close_button)
        outer.addLayout(bottom)

        self.tariff_combo.currentIndexChanged.connect(self._pick)
        self.refresh_tariffs()
        self.adjustSize()  # sized before it has a native window (offscreen warns later)
        self.resize(960, 660)
        self._load_stays()

    # -- the tariffs in force -------------------------------------------------------------

    def refresh_tariffs(self, select: tuple[str, int] | None = None) -> None:
        tariffs = sorted(self._billing.tariffs(), key=lambda t: (t.id, -t.version))
        zone = ZoneInfo(self.tz)
        self.tariff_combo.blockSignals(True)
        self.tariff_combo.clear()
        index = 0
        for i, t in enumerate(tariffs):
            local = t.effective_from.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            scope = " · ".join(x for x in (t.group_id and f"group {t.group_id}",
                                            t.zone_id and f"zone {t.zone_id}") if x)
            self.tariff_combo.addItem(
                f"{t.id} · v{t.version} · from {local}" + (f" · {scope}" if scope else ""),
                tariff_to_dict(t))
            if select == (t.id, t.version):
                index = i
        self.tariff_combo.blockSignals(False)
        if tariffs:
            self.tariff_combo.setCurrentIndex(index)
            self._pick(index)
        else:
            self.error_label.setText("No tariff stored yet: write one in Advanced (JSON).")
            self.save_button.setEnabled(False)

    def _pick(self, index: int) -> None:
        doc = self.tariff_combo.itemData(index)
        if doc is not None:
            self.load(copy.deepcopy(doc))

    def load(self, doc: dict[str, Any]) -> None:
        """Show a document in the form and the JSON tab, then validate and preview it."""
        self._doc = doc
        self._fill_form(doc)
        self._set_json(doc)
        self._validate_and_preview()

    # -- form <-> document ----------------------------------------------------------------

    def _fill_form(self, doc: dict[str, Any]) -> None:
        self._updating = True
        try:
            for key, _label, _path, kind in FIELDS:
                value = _get(doc, key)
                self.fields[key].setText(format_money(value) if kind == "money"
                                         else "" if value is None else str(value))
            vat = doc.get("vat_rate_bp")
            self.vat_edit.setText("" if vat is None else quantity(Decimal(vat) / 100)
                                  if isinstance(vat, int) else str(vat))
            try:
                moment = datetime.fromisoformat(
                    str(doc.get("effective_from", "")).replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    raise ValueError
                local = moment.astimezone(ZoneInfo(self.tz))
                self.effective_edit.setDateTime(QDateTime(
                    QDate(local.year, local.month, local.day),
                    QTime(local.hour, local.minute)))
            except ValueError:
                pass
        finally:
            self._updating = False

    def _effective_utc(self) -> str:
        qdt = self.effective_edit.dateTime()
        d, t = qdt.date(), qdt.time()
        local = datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(),
                         tzinfo=ZoneInfo(self.tz))
        return local.astimezone(UTC).isoformat().replace("+00:00", "Z")

    def form_document(self) -> dict[str, Any]:
        """The current document with the form's values applied (FieldError: a bad value)."""
        doc = copy.deepcopy(self._doc)
        doc["effective_from"] = self._effective_utc()
        vat_text = self.vat_edit.text().strip().replace(",", ".").rstrip("%").strip()
        try:
            vat = Decimal(vat_text or "0") * 100
        except InvalidOperation:
            raise FieldError(VAT_PATH, "must be a percentage like 21") from None
        if not vat.is_finite() or vat < 0 or vat != vat.to_integral_value():
            raise FieldError(VAT_PATH, "must be a percentage with at most 2 decimals")
        doc["vat_rate_bp"] = int(vat)
        values: dict[str, int | None] = {}
        for key, _label, path, kind in FIELDS:
            text = self.fields[key].text()
            values[key] = (parse_money if kind == "money" else parse_int)(text, path)
        comps = dict(doc.get("components") or {})

        def section(name: str, keys: tuple[str, ...], required: tuple[str, ...]) -> None:
            given = {k: values[f"{name}.{k}"] for k in keys}
            if all(v is None for v in given.values()):
                comps.pop(name, None)
                return
            base = dict(comps.get(name) or {})
            for k, v in given.items():
                if v is not None or k in required or k in ("daily_max", "cap"):
                    base[k] = v  # a required blank fails validation, naming the field
                else:
                    base.pop(k, None)
            comps[name] = base

        section("parking", ("block_min", "block_price", "free_min", "daily_max"),
                ("block_min", "block_price"))
        section("energy", ("per_kwh",), ("per_kwh",))
        section("idle", ("per_min", "grace_min", "cap"), ("per_min",))
        section("session_fee", ("amount",), ("amount",))
        section("penalties", ("overstay", "idle", "ice"), ())
        section("overstay", ("max_stay_min", "per_min", "block_min", "block_price"),
                ("max_stay_min",))
        if "overstay" in comps and values["overstay.per_min"] is not None:
            for k in ("block_min", "block_price"):
                comps["overstay"].pop(k, None)
        doc["components"] = comps
        return doc

    def _form_changed(self) -> None:
        if self._updating:
            return
        try:
            doc = self.form_document()
        except FieldError as exc:
            self._show_error(exc)
            return
        self._doc = doc
        self._set_json(doc)
        self._validate_and_preview()

    def _set_json(self, doc: dict[str, Any]) -> None:
        self._updating = True
        try:
            self.json_edit.setPlainText(json.dumps(doc, indent=2, ensure_ascii=False))
        finally:
            self._updating = False

    def _json_changed(self) -> None:
        if self._updating:
            return
        try:
            doc = json.loads(self.json_edit.toPlainText())
        except json.JSONDecodeError as exc:
            self._show_error(FieldError("Advanced (JSON)",
                                        f"line {exc.lineno}: {exc.msg}"))
            return
        if not isinstance(doc, dict):
            self._show_error(FieldError("tariff", "must be an object"))
            return
        self._doc = doc
        self._fill_form(doc)
        self._validate_and_preview()

    def document(self) -> dict[str, Any]:
        return copy.deepcopy(self._doc)

    # -- validation and preview -----------------------------------------------------------

    def _validate_and_preview(self) -> None:
        try:
            tariff = tariff_from_dict({**self._doc, "version": 1})
        except FieldError as exc:
            self._show_error(exc)
            return
        self.error = None
        self.error_label.setText("")
        self._mark(None)
        self.save_button.setEnabled(not self.in_flight())
        self._preview(tariff)

    def _show_error(self, exc: FieldError) -> None:
        self.error = exc
        self.error_label.setText(f"✗ {exc}")
        self._mark(exc.path)
        self.save_button.setEnabled(False)
        self.bill = None
        self.line_table.setRowCount(0)
        self.total_label.setText("<i>No preview: fix the field first</i>")

    def _mark(self, path: str | None) -> None:
        for p, widget in self._paths.items():
            widget.setStyleSheet(f"border: 1px solid {FAIL_COLOR};" if p == path else "")

    # -- recent real stays as samples ----------------------------------------------------

    def _load_stays(self, limit: int = RECENT_STAYS) -> None:
        """Add the newest stays that left to the sample list: a supervisor sees what a
        change would have made of real bills (fetched on the loop, never blocking)."""
        recent = getattr(self._billing, "recent_bills", None)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if recent is None:
            return

        async def load() -> None:
            rows = await recent(limit * 3)
            zone = ZoneInfo(self.tz)
            added = 0
            for row in rows:
                sid = row.get("parking_session_id")
                if not sid or row.get("closed_at") is None or added >= limit:
                    continue
                try:
                    timeline = await self._billing.timeline_for(int(sid))
                except (KeyError, BillingError) as exc:
                    log.info("tariff editor: stay %s not offered: %s", sid, exc)
                    continue
                if not shiboken6.isValid(self):
                    return
                self._stays[int(sid)] = (timeline, int(row.get("total") or 0),
                                         str(row.get("currency") or ""))
                entry = timeline.entry_at.astimezone(zone)
                self.sample_combo.addItem(
                    f"Stay {sid} · {row.get('plate') or 'no plate'} · {entry:%d %b %H:%M}",
                    f"stay:{sid}")
                added += 1

        task = loop.create_task(load())
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)
        task.add_done_callback(_log_failure)

    def stays_loaded(self) -> bool:
        return not self._loads

    def _stay_preview(self, key: str, tariff: Any) -> tuple[Any, Any] | None:
        """A real stay, priced as if the edited tariff had applied to all of it (its
        group, zone and start date set aside), and the bill it really got."""
        timeline, billed, currency = self._stays[int(key.split(":", 1)[1])]
        as_if = replace(tariff, group_id="", zone_id="",
                        effective_from=min(tariff.effective_from, timeline.entry_at))
        return timeline, (as_if, billed, currency)

    def sample_document(self) -> dict[str, Any]:
        tariff = tariff_from_dict({**self._doc, "version": 1})
        return sample_timeline(self.sample_combo.currentData(), tariff.effective_from,
                               self.tz, tariff.group_id, tariff.zone_id)

    def update_preview(self) -> None:
        self._validate_and_preview()

    def _preview(self, tariff: Any) -> None:
        key = str(self.sample_combo.currentData())
        zone = ZoneInfo(self.tz)
        billed_note = ""
        if key.startswith("stay:"):
            timeline, (tariff, billed, currency) = self._stay_preview(key, tariff)
            billed_note = (f" · billed {money(billed, currency)}; with this tariff (as if "
                           "it applied to the whole stay):")
        else:
            timeline = timeline_from_dict(sample_timeline(
                key, tariff.effective_from, self.tz, tariff.group_id, tariff.zone_id))
        self.sample_label.setText(
            f"Entry {timeline.entry_at.astimezone(zone):%a %d %b %H:%M} · exit "
            f"{timeline.exit_at.astimezone(zone):%a %d %b %H:%M} ({self.tz}){billed_note}")
        try:
            bill = compute_bill(timeline, [tariff], zone)
        except BillingError as exc:
            self.bill = None
            self.line_table.setRowCount(0)
            self.total_label.setText(f"<i>No bill: {exc}</i>")
            return
        self.bill = bill
        cur = bill.currency
        self.line_table.setRowCount(len(bill.lines))
        for r, ln in enumerate(bill.lines):
            self.line_table.setItem(r, 0, _item(ln.description or ln.component))
            times = "\N{MULTIPLICATION SIGN}"
            self.line_table.setItem(r, 1, _item(f"{quantity(ln.quantity)} {ln.unit or ''}"
                                                f" {times} {money(ln.unit_price, cur)}", True))
            self.line_table.setItem(r, 2, _item(money(ln.amount, cur), True))
        header = self.line_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.line_table.resizeRowsToContents()
        vat = " (included)" if bill.prices_include_vat else ""
        self.total_label.setText(
            f"Subtotal {money(bill.subtotal, cur)} · VAT {money(bill.vat, cur)}{vat}"
            f"<br/><b>Total {money(bill.total, cur)}</b>")

    # -- save -----------------------------------------------------------------------------

    def in_flight(self) -> bool:
        return any(not t.done() for t in self._tasks)

    def save(self) -> None:
        if self.error is not None or not self._doc:
            return
        doc = self.document()
        # A supervisor action: approved at the booth first, then saved.
        self._result("Waiting for a supervisor's approval…", True)
        ask_supervisor(self, self._core, f"Save tariff {doc.get('id', '')}",
                       lambda approval: self._start_save(doc, approval))

    def _start_save(self, doc: dict[str, Any], approval: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._result("✗ Not saved (no event loop)", False)
            return
        self.save_button.setEnabled(False)
        self._result("Saving…", True)
        task = loop.create_task(self._save(doc, approval))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _save(self, doc: dict[str, Any], approval: Any = None) -> None:
        try:
            version = await self._billing.save_tariff(self.actor, doc, approval=approval)
        except (FieldError, PermissionError) as exc:
            if shiboken6.isValid(self):
                if isinstance(exc, FieldError):
                    self._show_error(exc)
                self._result(f"✗ Not saved: {exc}", False)
                self.save_button.setEnabled(self.error is None)
            return
        except Exception as exc:  # the database is unreachable, ...
            log.warning("tariff editor: save failed: %s: %s", type(exc).__name__, exc)
            if shiboken6.isValid(self):
                self._result(f"✗ Not saved: {type(exc).__name__}: {exc}", False)
                self.save_button.setEnabled(self.error is None)
            return
        if not shiboken6.isValid(self):
            return
        self.saved_version = version
        self.refresh_tariffs(select=(str(doc["id"]), version))
        self._result(f"✓ Saved {doc['id']} version {version}", True)
        self.save_button.setEnabled(self.error is None)

    def _result(self, text: str, ok: bool) -> None:
        show_result(self.result_label, text, ok)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        log.warning("tariff editor: recent stays not loaded: %s: %s", type(exc).__name__, exc)


def _item(text: str, right: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled)
    if right:
        item.setTextAlignment(_RIGHT)
    return item
