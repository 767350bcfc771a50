"""A stay's bill as a receipt: HTML -> QTextDocument -> PDF (QPdfWriter) or a printer.

Money is integer minor units everywhere in the core; `money()` is the one formatter.
Times are shown in local time. Printing opens QPrintDialog with open() (never exec():
it would nest an event loop inside qasync's).
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMarginsF, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import QDialog, QWidget

try:  # QtPrintSupport ships with PySide6-Essentials; guarded for stripped builds
    from PySide6.QtPrintSupport import QPrintDialog, QPrinter
except ImportError:  # pragma: no cover
    QPrintDialog = QPrinter = None  # type: ignore[assignment,misc]

HAS_PRINT = QPrinter is not None
_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$", "CHF": "CHF "}


def money(amount: int, currency: str = "EUR") -> str:
    """Minor units -> "€ 12.34" (two decimals, sign in front, thousands separated)."""
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(int(amount)), 100)
    symbol = _SYMBOLS.get(currency, f"{currency} ")
    return f"{sign}{symbol}{major:,}.{minor:02d}"


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def quantity(value: Any) -> str:
    text = str(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def receipt_html(record: Any, site_name: str = "") -> str:
    bill, cur = record.bill, record.currency
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(ln.description or ln.component)}</td>"
        f"<td align='right'>{esc(quantity(ln.quantity))} {esc(ln.unit or '')}</td>"
        f"<td align='right'>{money(ln.unit_price, cur)}</td>"
        f"<td align='right'>{money(ln.amount, cur)}</td></tr>" for ln in bill.lines)
    if not rows:
        rows = "<tr><td colspan='4'><i>Nothing charged</i></td></tr>"
    vat_note = " (prices include VAT)" if bill.prices_include_vat else ""
    methods = ", ".join(record.payment_methods) or "—"
    return f"""<html><body style="font-family: sans-serif; font-size: 10pt;">
<h2>{esc(site_name or 'Gatehouse')} — receipt</h2>
<p>Bill <b>#{record.id}</b> · stay {record.parking_session_id} · plate
<b>{esc(record.plate or '—')}</b><br/>
Entry {local_time(record.opened_at)} · exit {local_time(record.closed_at)}</p>
<table width="100%" cellspacing="0" cellpadding="4" border="1"
 style="border-collapse: collapse;">
<tr><th align="left">Item</th><th align="right">Quantity</th>
<th align="right">Unit price</th><th align="right">Amount</th></tr>
{rows}
</table>
<table width="100%" cellpadding="3">
<tr><td align="right">Subtotal</td><td align="right" width="25%">
{money(bill.subtotal, cur)}</td></tr>
<tr><td align="right">VAT{vat_note}</td><td align="right">{money(bill.vat, cur)}</td></tr>
<tr><td align="right"><b>Total</b></td><td align="right"><b>{money(bill.total, cur)}</b>
</td></tr>
<tr><td align="right">Paid ({esc(methods)})</td><td align="right">
{money(record.paid, cur)}</td></tr>
<tr><td align="right"><b>Outstanding</b></td><td align="right"><b>
{money(record.outstanding, cur)}</b></td></tr>
</table>
<p>Status: <b>{esc(record.status)}</b> · printed {local_time(datetime.now().astimezone())}</p>
</body></html>"""


def receipt_document(record: Any, site_name: str = "") -> QTextDocument:
    doc = QTextDocument()
    doc.setHtml(receipt_html(record, site_name))
    return doc


def save_pdf(record: Any, path: str | Path, site_name: str = "") -> Path:
    """Write the receipt as an A4 PDF; returns the path written."""
    path = Path(path)
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
    writer.setResolution(300)
    writer.setTitle(f"Receipt — bill {record.id}")
    writer.setCreator("Gatehouse")
    doc = receipt_document(record, site_name)
    rect = writer.pageLayout().paintRectPixels(writer.resolution())
    doc.setPageSize(QSizeF(rect.width(), rect.height()))
    doc.print_(writer)
    del writer  # the file is finished when the writer goes
    return path


def print_receipt(record: Any, parent: QWidget | None = None,
                  site_name: str = "") -> Any:
    """Open a print dialog (open(), not exec()); prints when accepted. Returns the dialog,
    or None when this PySide6 has no QtPrintSupport."""
    if not HAS_PRINT:
        return None
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle(f"Print receipt — bill {record.id}")
    doc = receipt_document(record, site_name)
    dialog._printer = printer  # keep both alive as long as the dialog
    dialog._document = doc
    dialog.accepted.connect(lambda: doc.print_(printer))
    dialog.finished.connect(dialog.deleteLater)
    # QPrintDialog.open() in PySide6 wants (receiver, member): call QDialog's own open().
    dialog.adjustSize()  # sized before it has a native window (offscreen warns otherwise)
    QDialog.open(dialog)
    return dialog
