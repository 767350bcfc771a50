"""A stay's bill as a receipt: HTML -> QTextDocument -> PDF (QPdfWriter) or a printer.

What it shows: the lines (with each line's VAT rate), VAT by rate (rate, net, VAT, gross),
the totals, each payment (time, method, reference: card terminal reference, invoice or
account number; from `record.payments` when the record carries them) and what is owed.

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
from PySide6.QtGui import QPageLayout, QPageSize, QPaintDevice, QPdfWriter, QTextDocument
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


METHOD_WORDS = {"cash": "Cash", "card": "Card", "invoice": "Invoice",
                "permit": "Permit / account", "override": "Override"}
REFERENCE_WORDS = {"cash": "Receipt no.", "card": "Terminal ref.", "invoice": "Invoice no.",
                   "permit": "Account ref."}


def vat_rate(rate_bp: int | None) -> str:
    """Basis points -> "19%", "5.5%" ("—" when unknown)."""
    if rate_bp is None:
        return "—"
    whole, part = divmod(int(rate_bp), 100)
    return f"{whole}%" if part == 0 else f"{whole}.{part:02d}".rstrip("0") + "%"


def _field(x: Any, name: str, default: Any = None) -> Any:
    """A payment may come as a row dict (the store) or an object (a dataclass)."""
    if isinstance(x, dict):
        return x.get(name, default)
    return getattr(x, name, default)


def payments_of(record: Any) -> list[Any] | None:
    """The record's payments (oldest first), or None when the record does not carry them
    (then only the methods are known: BillRecord.payment_methods)."""
    payments = getattr(record, "payments", None)
    return None if payments is None else list(payments)


def vat_rows(bill: Any) -> list[tuple[int | None, int, int, int]]:
    """(rate in bp, net, VAT, gross) per rate, from the engine's breakdown; a bill without
    one (an older record) gives one row from its totals."""
    rows = [(int(r), int(base), int(vat), int(base) + int(vat))
            for r, base, vat in (getattr(bill, "vat_by_rate", None) or ())]
    if rows:
        return rows
    rates = {getattr(ln, "vat_rate_bp", None) for ln in bill.lines}
    rate = rates.pop() if len(rates) == 1 else None
    if not bill.lines and not bill.total:
        return []
    return [(rate, int(bill.subtotal), int(bill.vat), int(bill.subtotal) + int(bill.vat))]


def receipt_html(record: Any, site_name: str = "") -> str:
    bill, cur = record.bill, record.currency
    esc = html.escape
    right = "align='right'"
    rows = "".join(
        f"<tr><td>{esc(ln.description or ln.component)}</td>"
        f"<td {right}>{esc(quantity(ln.quantity))} {esc(ln.unit or '')}</td>"
        f"<td {right}>{money(ln.unit_price, cur)}</td>"
        f"<td {right}>{vat_rate(getattr(ln, 'vat_rate_bp', None))}</td>"
        f"<td {right}>{money(ln.amount, cur)}</td></tr>" for ln in bill.lines)
    if not rows:
        rows = "<tr><td colspan='5'><i>Nothing charged</i></td></tr>"
    gross = bool(bill.prices_include_vat)
    amount_head = "Amount (incl. VAT)" if gross else "Amount (excl. VAT)"

    vat_table = ""
    by_rate = vat_rows(bill)
    if by_rate:
        cells = "".join(
            f"<tr><td>{vat_rate(rate)}</td><td {right}>{money(net, cur)}</td>"
            f"<td {right}>{money(vat, cur)}</td><td {right}>{money(gr, cur)}</td></tr>"
            for rate, net, vat, gr in by_rate)
        if len(by_rate) > 1:
            cells += (f"<tr><td><b>All rates</b></td>"
                      f"<td {right}><b>{money(sum(r[1] for r in by_rate), cur)}</b></td>"
                      f"<td {right}><b>{money(sum(r[2] for r in by_rate), cur)}</b></td>"
                      f"<td {right}><b>{money(sum(r[3] for r in by_rate), cur)}</b></td></tr>")
        vat_table = f"""<h3>VAT</h3>
<table width="100%" cellspacing="0" cellpadding="4" border="1"
 style="border-collapse: collapse;">
<tr><th align="left">Rate</th><th align="right">Net</th><th align="right">VAT</th>
<th align="right">Gross</th></tr>
{cells}
</table>"""

    payments = payments_of(record)
    if payments is None:  # only the methods are known
        methods = ", ".join(METHOD_WORDS.get(m, m) for m in record.payment_methods) or "—"
        pay_table = ""
        paid_label = f"Paid ({esc(methods)})"
    else:
        paid_label = "Paid"
        if payments:
            cells = ""
            for p in payments:
                method = str(_field(p, "method", "") or "")
                ref = str(_field(p, "reference", "") or "")
                ref_text = (f"{REFERENCE_WORDS.get(method, 'Ref.')} {esc(ref)}" if ref
                            else "—")
                cells += (f"<tr><td>{local_time(_field(p, 'at'))}</td>"
                          f"<td>{esc(METHOD_WORDS.get(method, method) or '—')}</td>"
                          f"<td>{ref_text}</td>"
                          f"<td {right}>{money(int(_field(p, 'amount', 0) or 0), cur)}</td>"
                          "</tr>")
        else:
            cells = "<tr><td colspan='4'><i>No payment yet</i></td></tr>"
        pay_table = f"""<h3>Payments</h3>
<table width="100%" cellspacing="0" cellpadding="4" border="1"
 style="border-collapse: collapse;">
<tr><th align="left">Time</th><th align="left">Method</th><th align="left">Reference</th>
<th align="right">Amount</th></tr>
{cells}
</table>"""

    vat_note = " (included)" if gross else ""
    return f"""<html><body style="font-family: sans-serif; font-size: 10pt;">
<h2>{esc(site_name or 'Gatehouse')} — receipt</h2>
<p>Bill <b>#{record.id}</b> · stay {record.parking_session_id} · plate
<b>{esc(record.plate or '—')}</b><br/>
Entry {local_time(record.opened_at)} · exit {local_time(record.closed_at)}</p>
<table width="100%" cellspacing="0" cellpadding="4" border="1"
 style="border-collapse: collapse;">
<tr><th align="left">Item</th><th align="right">Quantity</th>
<th align="right">Unit price</th><th align="right">VAT rate</th>
<th align="right">{amount_head}</th></tr>
{rows}
</table>
{vat_table}
<table width="100%" cellpadding="3">
<tr><td align="right">Net total</td>
<td align="right" width="25%">{money(bill.subtotal, cur)}</td></tr>
<tr><td align="right">VAT{vat_note}</td><td align="right">{money(bill.vat, cur)}</td></tr>
<tr><td align="right"><b>Total</b></td>
<td align="right"><b>{money(bill.total, cur)}</b></td></tr>
</table>
{pay_table}
<table width="100%" cellpadding="3">
<tr><td align="right">{paid_label}</td>
<td align="right" width="25%">{money(record.paid, cur)}</td></tr>
<tr><td align="right"><b>Outstanding</b></td>
<td align="right"><b>{money(record.outstanding, cur)}</b></td></tr>
</table>
<p>Status: <b>{esc(record.status)}</b> · printed {local_time(datetime.now().astimezone())}</p>
</body></html>"""


def receipt_document(record: Any, site_name: str = "",
                     device: QPaintDevice | None = None) -> QTextDocument:
    """The receipt as a document; laid out for `device` (its dpi) when given, else for
    the screen."""
    doc = QTextDocument()
    if device is not None:
        doc.documentLayout().setPaintDevice(device)
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
    # Laid out at the writer's 300 dpi: a document laid out for the screen (96 dpi) on a
    # page measured in 300-dpi pixels prints its 10 pt text at about 3 pt.
    doc = receipt_document(record, site_name, writer)
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
