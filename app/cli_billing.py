"""`gatehouse tariff preview --tariff TARIFF.json --timeline TIMELINE.json [--tz ZONE]`:
the itemized bill of one stay, as JSON on stdout, computed by the same pure engine the
console uses (app.domain.billing). Nothing is read from or written to the database.

File formats: the tariff file is described in app.domain.tariffs, the timeline file in
app.domain.billing, both with examples in docs/billing.md. The site's time zone (it
decides calendar days for the daily maximum and scheduled idle hours) is ``--tz``, else
the tariff file's ``time_zone``, else UTC.

Output: {"session_id", "currency", "prices_include_vat", "lines": [{"component",
"description", "quantity" (exact decimal as text), "unit", "unit_price", "amount",
"tariff", "vat_rate_bp"}], "subtotal", "vat", "total", "vat_by_rate", "tariff_versions",
"allowance_kwh_used", "warnings"}; money in integer minor units.

Exit status 0 with the bill; 1 when a file cannot be read or a field is invalid (one
line on stderr naming the field, e.g. ``tariff.components.parking.block_min: must be a
positive integer``) or no tariff applies; never a traceback.

`gatehouse export bills [--format csv|json] [--since ISO] [--output FILE]`: the stored bills
(read-only, like `export transactions`), one row per bill: the totals per component
(parking, energy, charging_time, session, idle, overstay, allowance, discount, waiver,
validation, fee), subtotal, VAT, total, paid, outstanding and the payment methods. Money
in integer minor units of the bill's currency. ``--since``: bills of stays that began at
or after that time.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.adapters.db import tables as t
from app.config import Settings
from app.domain.billing import BillingError, compute_bill, timeline_from_dict
from app.domain.tariffs import FieldError, tariffs_from_doc


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    """The `tariff` subcommand, added to app.cli's parser."""
    tariff = sub.add_parser("tariff", help="tariffs: preview the bill of a stay")
    common(tariff, suppress=True)
    action = tariff.add_subparsers(dest="tariff_action", metavar="ACTION", required=True)
    preview = action.add_parser("preview", help="print the itemized bill of a timeline as JSON")
    common(preview, suppress=True)
    preview.add_argument("--tariff", required=True, type=Path, metavar="TARIFF.json")
    preview.add_argument("--timeline", required=True, type=Path, metavar="TIMELINE.json")
    preview.add_argument("--tz", default=None, metavar="ZONE",
                         help="the site's time zone, e.g. Europe/Amsterdam")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise _Fail(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Fail(f"{path}: not valid JSON: {exc}") from None


class _Fail(Exception):
    pass


def preview(tariff_path: Path, timeline_path: Path, tz_name: str | None) -> dict[str, Any]:
    tariffs, file_tz = tariffs_from_doc(_load(tariff_path))
    timeline = timeline_from_dict(_load(timeline_path))
    name = tz_name or file_tz or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Fail(f"unknown time zone {name!r}") from None
    return compute_bill(timeline, tariffs, zone).to_dict()


def run(args: argparse.Namespace, settings: Settings) -> int:
    del settings  # the preview touches no database
    try:
        bill = preview(args.tariff, args.timeline, args.tz)
    except FieldError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 1
    except (_Fail, BillingError) as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 1
    except (TypeError, ValueError, ArithmeticError) as exc:  # a shape no check foresaw
        print(f"gatehouse: invalid input: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(bill, indent=2, ensure_ascii=False))
    return 0


# -- gatehouse export bills -------------------------------------------------------------------

BILL_COMPONENTS = ("parking", "energy", "charging_time", "session", "idle", "overstay",
                   "allowance", "discount", "waiver", "validation", "fee")
BILL_COLUMNS = (
    "id", "parking_session_id", "plate", "zone_id", "account_id", "opened_at", "closed_at",
    "currency", "status", "revision", *BILL_COMPONENTS, "subtotal", "vat", "total", "paid",
    "outstanding", "payment_methods", "tariff_versions", "computed_at")


PAYMENT_COLUMNS = ("id", "at", "bill_id", "parking_session_id", "plate", "method",
                   "reference", "amount", "currency", "actor")


def add_export_parser(what: Any, common: Callable[..., None]) -> None:
    """`export bills` and `export payments`, under the existing `export` subcommand
    (app.cli_chargers)."""
    from app.cli_chargers import parse_since

    for name, help_, since_help in (
            ("bills", "bills (parking + charging), as CSV or JSON",
             "only bills of stays that began at or after this time"),
            ("payments", "payments (cash, card with its terminal reference, invoice, "
                         "permit) for reconciliation, as CSV or JSON",
             "only payments taken at or after this time")):
        sub = what.add_parser(name, help=help_)
        common(sub, suppress=True)
        sub.add_argument("--format", choices=["csv", "json"], default="csv",
                         help="csv (default, with a header row) or json (a list of objects)")
        sub.add_argument("--since", type=parse_since, default=None, metavar="ISO",
                         help=f"{since_help}; local time unless it has an offset or Z")
        sub.add_argument("--output", "-o", type=Path, default=None, metavar="FILE",
                         help="write to FILE instead of the standard output")


def payment_rows(conn: Any, since: Any = None) -> list[dict[str, Any]]:
    """Every payment, oldest first, with its bill's stay, plate and currency."""
    from sqlalchemy import inspect, select

    from app.cli_chargers import _iso

    if "payments" not in set(inspect(conn).get_table_names()):
        return []
    p, b = t.payments.c, t.bills.c
    query = (select(p.id, p.at, p.bill_id, b.parking_session_id, b.plate, p.method,
                    p.reference, p.amount, b.currency, p.actor)
             .join(t.bills, t.bills.c.id == p.bill_id).order_by(p.at, p.id))
    if since is not None:
        query = query.where(p.at >= since)
    return [{**r._mapping, "at": _iso(r.at)} for r in conn.execute(query)]


def bill_rows(conn: Any, since: Any = None) -> list[dict[str, Any]]:
    from sqlalchemy import inspect, select

    from app.cli_chargers import _iso

    if "bills" not in set(inspect(conn).get_table_names()):
        return []
    query = select(t.bills).order_by(t.bills.c.opened_at, t.bills.c.id)
    if since is not None:
        query = query.where(t.bills.c.opened_at >= since)
    bills = conn.execute(query).all()
    methods: dict[int, set[str]] = {}
    for p in conn.execute(select(t.payments.c.bill_id, t.payments.c.method)):
        methods.setdefault(p.bill_id, set()).add(p.method)
    rows = []
    for b in bills:
        per = dict.fromkeys(BILL_COMPONENTS, 0)
        for line in b.lines or []:
            component = line.get("component", "")
            if component in per:
                per[component] += int(line.get("amount") or 0)
        rows.append({
            "id": b.id, "parking_session_id": b.parking_session_id, "plate": b.plate,
            "zone_id": b.zone_id, "account_id": b.account_id, "opened_at": _iso(b.opened_at),
            "closed_at": _iso(b.closed_at), "currency": b.currency, "status": b.status,
            "revision": b.revision, **per, "subtotal": b.subtotal, "vat": b.vat,
            "total": b.total, "paid": b.paid, "outstanding": max(b.total - b.paid, 0),
            "payment_methods": ";".join(sorted(methods.get(b.id, ()))),
            "tariff_versions": ";".join(b.tariff_versions or []),
            "computed_at": _iso(b.computed_at)})
    return rows


def export_bills(settings: Settings, fmt: str = "csv", *, since: Any = None,
                 output: Path | None = None, out: Any = None) -> int:
    return _export(settings, bill_rows, BILL_COLUMNS, "bill", fmt, since, output, out)


def export_payments(settings: Settings, fmt: str = "csv", *, since: Any = None,
                    output: Path | None = None, out: Any = None) -> int:
    return _export(settings, payment_rows, PAYMENT_COLUMNS, "payment", fmt, since, output,
                   out)


def _export(settings: Settings, rows_of: Callable[..., list[dict[str, Any]]],
            columns: tuple[str, ...], noun: str, fmt: str, since: Any,
            output: Path | None, out: Any) -> int:
    import io

    from app.cli_chargers import read_database, write_rows

    with read_database(settings) as conn:
        rows = rows_of(conn, since)
    if output is None or str(output) == "-":
        stream = out if out is not None else sys.stdout
        write_rows(rows, columns, fmt, stream, lineterminator="\n")
        stream.flush()
        return 0
    buffer = io.StringIO(newline="")
    write_rows(rows, columns, fmt, buffer)
    try:
        output.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    except OSError as exc:
        print(f"gatehouse: cannot write {output}: {exc}", file=sys.stderr)
        return 1
    print(f"exported {len(rows)} {noun}(s) to {output}", file=sys.stderr)
    return 0
