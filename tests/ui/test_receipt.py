"""The receipt as a driver and an accountant read it: lines with their VAT rate, VAT by
rate (rate, net, VAT, gross), totals, each payment with its method, reference and local
time, what is paid and what is owed; the same text in the saved PDF's document."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace as NS

from PySide6.QtGui import QPdfWriter, QTextCursor, QTextTable

from app.domain.billing import Bill, Line
from ui.receipt import local_time, receipt_document, receipt_html, save_pdf, vat_rate

PAID_CARD = datetime(2026, 3, 1, 11, 5, tzinfo=UTC)
PAID_INVOICE = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def _bill() -> Bill:
    # Gross prices at two rates: parking 7 %, charging 19 % (half-up per rate).
    return Bill(
        currency="EUR",
        lines=(Line("parking", "Parking", Decimal(4), "h", 250, 1000, "P@1", 700),
               Line("energy", "Charging energy", Decimal("12.5"), "kWh", 120, 1500, "P@1",
                    1900)),
        subtotal=2195, vat=305, total=2500, prices_include_vat=True,
        vat_by_rate=((700, 935, 65), (1900, 1260, 240)))


def _record(payments=None, paid=2000):
    bill = _bill()
    record = NS(id=17, parking_session_id=42, bill=bill, paid=paid, status="due",
                opened_at=datetime(2026, 3, 1, 7, 0, tzinfo=UTC),
                closed_at=datetime(2026, 3, 1, 11, 0, tzinfo=UTC), plate="HN447D",
                payment_methods=("card", "invoice"), total=bill.total,
                currency=bill.currency, outstanding=max(bill.total - paid, 0))
    if payments is not None:
        record.payments = payments
    return record


PAYMENTS = (
    {"id": 1, "at": PAID_CARD, "method": "card", "reference": "TRM-0042", "amount": 1500,
     "actor": "attendant"},
    NS(id=2, at=PAID_INVOICE, method="invoice", reference="INV-2026-0117", amount=500,
       actor="supervisor"),  # a dataclass-like payment reads the same
)


def _words(text: str) -> str:
    return " ".join(text.split())


def _lines(record) -> list[str]:
    """What the printed receipt reads, line by line: paragraphs, and each table row with
    its cells side by side (QTextDocument.toPlainText puts every cell on a line)."""
    doc = receipt_document(record, "Gatehouse Demo")
    out: list[str] = []
    it = doc.rootFrame().begin()
    while not it.atEnd():
        frame, block = it.currentFrame(), it.currentBlock()
        if isinstance(frame, QTextTable):
            for r in range(frame.rows()):
                cells, seen = [], set()
                for c in range(frame.columns()):
                    cell = frame.cellAt(r, c)
                    if cell.firstPosition() in seen:  # a cell spanning columns
                        continue
                    seen.add(cell.firstPosition())
                    cursor = QTextCursor(doc)
                    cursor.setPosition(cell.firstCursorPosition().position())
                    cursor.setPosition(cell.lastCursorPosition().position(),
                                       QTextCursor.MoveMode.KeepAnchor)
                    cells.append(_words(cursor.selectedText().replace("\u2029", " ")))
                out.append(_words(" ".join(cells)))
        elif block.isValid() and block.text().strip():
            out.extend(_words(t) for t in block.text().split("\u2028") if t.strip())
        it += 1
    return out


def test_vat_rate_words():
    assert vat_rate(1900) == "19%"
    assert vat_rate(700) == "7%"
    assert vat_rate(550) == "5.5%"
    assert vat_rate(None) == "—"


def test_receipt_shows_payments_with_references_and_vat_by_rate(qapp):
    lines = _lines(_record(PAYMENTS))
    text = "\n".join(lines)
    assert "Gatehouse Demo — receipt" in text
    assert "Bill #17 · stay 42 · plate HN447D" in text
    # each line with its VAT rate
    assert "Parking 4 h €2.50 7% €10.00" in lines
    assert "Charging energy 12.5 kWh €1.20 19% €15.00" in lines
    # VAT by rate: rate, net, VAT, gross, and the sum over the rates
    assert "Rate Net VAT Gross" in lines
    assert "7% €9.35 €0.65 €10.00" in lines
    assert "19% €12.60 €2.40 €15.00" in lines
    assert "All rates €21.95 €3.05 €25.00" in lines
    # totals
    assert "Net total €21.95" in lines
    assert "VAT (included) €3.05" in lines
    assert "Total €25.00" in lines
    # each payment: local time, method, reference, amount
    assert "Time Method Reference Amount" in lines
    assert f"{local_time(PAID_CARD)} Card Terminal ref. TRM-0042 €15.00" in lines
    assert f"{local_time(PAID_INVOICE)} Invoice Invoice no. INV-2026-0117 €5.00" in lines
    assert "Paid €20.00" in lines
    assert "Outstanding €5.00" in lines
    assert text.index("Net total") < text.index("Payments") < text.index("Outstanding")


def test_a_record_without_payment_rows_still_says_how_it_was_paid(qapp):
    lines = _lines(_record())  # BillRecord today: the methods only
    assert "Paid (Card, Invoice) €20.00" in lines
    assert "Payments" not in lines
    lines = _lines(_record(payments=(), paid=0))
    assert "No payment yet" in lines and "Outstanding €25.00" in lines


def test_an_older_bill_without_a_vat_breakdown_gives_one_row_from_its_totals(qapp):
    record = _record(PAYMENTS)
    record.bill = NS(lines=(NS(component="parking", description="Parking", quantity="3",
                               unit="h", unit_price=250, amount=750),),
                     subtotal=620, vat=130, total=750, currency="EUR",
                     prices_include_vat=True)
    lines = _lines(record)
    assert "— €6.20 €1.30 €7.50" in lines
    assert not any(line.startswith("All rates") for line in lines)


def test_the_pdf_is_the_same_document(qapp, tmp_path):
    record = _record(PAYMENTS)
    pdf = save_pdf(record, tmp_path / "r.pdf", "Gatehouse Demo")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 1024
    html = receipt_html(record, "Gatehouse Demo")
    assert "TRM-0042" in html and "INV-2026-0117" in html


def test_the_pdf_is_laid_out_at_the_printers_resolution(qapp, tmp_path):
    """10 pt on paper: at 300 dpi a line of text is over 40 px high (a document laid out
    for the screen would print it at a third of that)."""
    writer = QPdfWriter(str(tmp_path / "size.pdf"))
    writer.setResolution(300)
    doc = receipt_document(_record(PAYMENTS), "Gatehouse Demo", writer)
    block = doc.findBlock(doc.toPlainText().index("Status:"))
    assert block.text().startswith("Status:")
    height = doc.documentLayout().blockBoundingRect(block).height()
    assert 40 < height < 120
    screen = receipt_document(_record(PAYMENTS), "Gatehouse Demo")
    block = screen.findBlock(screen.toPlainText().index("Status:"))
    assert screen.documentLayout().blockBoundingRect(block).height() < height / 2
    del writer
