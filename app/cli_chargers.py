"""`gatehouse chargers` and `gatehouse export transactions`: reports read from the database.

Read-only on purpose: no migration runs and nothing is written, so both work while the
console is running (SQLite in WAL mode lets a reader in while the writer thread writes)
and never touch a database this version does not understand.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, and_, create_engine, event, func, inspect, or_, select
from sqlalchemy.engine import make_url

from app.adapters.db import tables as t
from app.adapters.db.engine import sqlite_path
from app.config import Settings

EXPORT_COLUMNS = (
    "id", "charger_id", "connector_id", "transaction_id", "id_token", "started_at",
    "stopped_at", "energy_wh", "meter_start_wh", "meter_stop_wh", "stop_reason", "orphan",
    "offline", "clock_flagged",
)
CHARGER_COLUMNS = (
    "id", "ocpp_version", "vendor", "model", "serial", "firmware", "registration",
    "configured", "approved", "online", "last_seen",
)
_NEEDED_TABLES = ("chargers", "transactions")


class DatabaseUnavailable(Exception):
    """The database is missing, or too old for these reports; the text says which."""


# -- arguments ---------------------------------------------------------------------------


def parse_since(text: str) -> datetime:
    """`--since`: an ISO 8601 date or date-time. Without an offset it is the PC's local time
    (what an attendant means by "2025-03-14"); the result is UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date or time "
            "(examples: 2025-03-14, 2025-03-14T08:00, 2025-03-14T08:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local wall-clock time
    return moment.astimezone(UTC)


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    """The `chargers` and `export` subcommands, added to app.cli's parser."""
    chargers = sub.add_parser("chargers", help="list the charger registry from the database")
    common(chargers, suppress=True)
    chargers.add_argument("--format", choices=["table", "json"], default="table",
                          help="table for people (default), json for scripts")

    export = sub.add_parser("export", help="export records from the database")
    common(export, suppress=True)
    what = export.add_subparsers(dest="export_what", metavar="WHAT", required=True)
    tx = what.add_parser("transactions", help="charging transactions, as CSV or JSON")
    common(tx, suppress=True)
    tx.add_argument("--format", choices=["csv", "json"], default="csv",
                    help="csv (default, with a header row) or json (a list of objects)")
    tx.add_argument("--since", type=parse_since, default=None, metavar="ISO",
                    help="only transactions started at or after this time (orphans: stopped); "
                         "local time unless it has an offset or Z")
    tx.add_argument("--output", "-o", type=Path, default=None, metavar="FILE",
                    help="write to FILE instead of the standard output")
    from app import cli_access  # here: cli_access imports this module

    cli_access.add_export_parser(what, common)  # export accounts
    from app import cli_billing

    cli_billing.add_export_parser(what, common)  # export bills


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.command == "chargers":
            return list_chargers(settings, args.format, sys.stdout)
        if args.command == "export" and args.export_what == "transactions":
            return export_transactions(settings, args.format, since=args.since,
                                       output=args.output, out=sys.stdout)
        if args.command == "export" and args.export_what == "bills":
            from app import cli_billing

            return cli_billing.export_bills(settings, args.format, since=args.since,
                                            output=args.output, out=sys.stdout)
        if args.command == "export" and args.export_what == "payments":
            from app import cli_billing

            return cli_billing.export_payments(settings, args.format, since=args.since,
                                               output=args.output, out=sys.stdout)
    except DatabaseUnavailable as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 1
    raise SystemExit(f"unknown command {args.command!r}")


# -- the database, read-only ---------------------------------------------------------------


def _reader_engine(url: str) -> Engine:
    path = sqlite_path(url)
    if path is None:
        return create_engine(url)
    # mode=ro: even a bug here cannot write; busy_timeout rides out a checkpoint.
    uri = path.resolve().as_uri() + "?mode=ro"
    engine = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.execute("PRAGMA busy_timeout=5000")

    return engine


def _where(url: str) -> str:
    path = sqlite_path(url)
    return str(path) if path is not None else make_url(url).render_as_string(hide_password=True)


@contextlib.contextmanager
def read_database(settings: Settings) -> Iterator[Connection]:
    url = settings.resolved_db_url
    where = _where(url)
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise DatabaseUnavailable(f"no gatehouse database at {where}")
    engine = _reader_engine(url)
    try:
        try:
            conn = engine.connect()
        except Exception as exc:
            raise DatabaseUnavailable(f"cannot open the database at {where}: {exc}") from exc
        with conn:
            names = set(inspect(conn).get_table_names())
            missing = [n for n in _NEEDED_TABLES if n not in names]
            if len(missing) == len(_NEEDED_TABLES):
                raise DatabaseUnavailable(f"no gatehouse database at {where}")
            if missing:
                raise DatabaseUnavailable(
                    f"the gatehouse database at {where} is from an older version (no "
                    f"{', '.join(missing)} table); start the console once to upgrade it")
            yield conn
    finally:
        engine.dispose()


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- gatehouse chargers --------------------------------------------------------------------


def charger_rows(conn: Connection) -> list[dict[str, Any]]:
    c = t.chargers.c
    rows = conn.execute(select(t.chargers).order_by(c.id))
    return [{
        "id": r.id,
        "ocpp_version": r.ocpp_version,
        "vendor": r.vendor,
        "model": r.model,
        "serial": r.serial,
        "firmware": r.firmware,
        "registration": r.registration,
        "configured": bool(r.configured),
        "approved": bool(r.approved),
        "online": bool(r.online),
        "last_seen": _iso(r.last_seen),
    } for r in rows]


def _local(iso: str | None) -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime(
        "%Y-%m-%d %H:%M:%S")


def format_charger_table(rows: list[dict[str, Any]]) -> str:
    head = ("Charger", "OCPP", "Vendor", "Model", "Serial", "Firmware", "Registration",
            "Approved", "Online", "Last seen (local)")
    body = [(
        r["id"], r["ocpp_version"] or "—", r["vendor"] or "—", r["model"] or "—",
        r["serial"] or "—", r["firmware"] or "—", r["registration"] or "—",
        "site" if r["configured"] else ("yes" if r["approved"] else "no"),
        "yes" if r["online"] else "no", _local(r["last_seen"]),
    ) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
             for line in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if not body:
        lines.append("(no chargers yet)")
    return "\n".join(lines) + "\n"


def list_chargers(settings: Settings, fmt: str = "table", out: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    with read_database(settings) as conn:
        rows = charger_rows(conn)
    if fmt == "json":
        out.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(format_charger_table(rows))
    return 0


# -- gatehouse export transactions -----------------------------------------------------------


def charger_facing_id(charger_tx_id: str | None, row_id: int) -> str:
    """What the charger calls the transaction: 1.6 the integer we issued, 2.0.1 its own id.

    A 1.6 stop for a transaction we never saw is stored under the key
    "stop:<id>:<time>:<meter>" (app.services.transactions); the charger's id is <id>.
    """
    key = charger_tx_id or str(row_id)
    if key.startswith("stop:"):
        return key.split(":", 2)[1]
    return key


def transaction_rows(conn: Connection, since: datetime | None = None) -> list[dict[str, Any]]:
    c = t.transactions.c
    query = select(t.transactions)
    if since is not None:
        query = query.where(or_(c.started_at >= since,
                                and_(c.started_at.is_(None), c.stopped_at >= since)))
    # Orphans (never seen starting) sit where they stopped.
    query = query.order_by(func.coalesce(c.started_at, c.stopped_at), c.id)
    return [{
        "id": r.id,
        "charger_id": r.charger_id,
        "connector_id": r.connector_id,
        "transaction_id": charger_facing_id(r.charger_tx_id, r.id),
        "id_token": r.id_token,
        "started_at": _iso(r.started_at),
        "stopped_at": _iso(r.stopped_at),
        "energy_wh": r.energy_wh,
        "meter_start_wh": r.meter_start_wh,
        "meter_stop_wh": r.meter_stop_wh,
        "stop_reason": r.stop_reason,
        "orphan": bool(r.orphan),
        "offline": bool(r.offline),
        "clock_flagged": bool(r.clock_flagged),
    } for r in conn.execute(query)]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # Tokens and reasons come from chargers: never let a spreadsheet run them.
        return "'" + value
    return value


def write_rows(rows: list[dict[str, Any]], columns: Sequence[str], fmt: str, out: TextIO,
               *, lineterminator: str = "\r\n") -> None:
    """An export as JSON (a list of objects) or CSV (`columns`, formula-safe cells)."""
    if fmt == "json":
        out.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row[k]) for k in columns])


def write_transactions(rows: list[dict[str, Any]], fmt: str, out: TextIO, *,
                       lineterminator: str = "\r\n") -> None:
    write_rows(rows, EXPORT_COLUMNS, fmt, out, lineterminator=lineterminator)


def export_transactions(settings: Settings, fmt: str = "csv", *,
                        since: datetime | None = None, output: Path | None = None,
                        out: TextIO | None = None) -> int:
    with read_database(settings) as conn:
        rows = transaction_rows(conn, since)
    if output is None or str(output) == "-":
        stream = out if out is not None else sys.stdout
        write_transactions(rows, fmt, stream, lineterminator="\n")
        stream.flush()
        return 0
    buffer = io.StringIO(newline="")
    write_transactions(rows, fmt, buffer)
    try:
        output.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    except OSError as exc:
        print(f"gatehouse: cannot write {output}: {exc}", file=sys.stderr)
        return 1
    print(f"exported {len(rows)} transaction(s) to {output}", file=sys.stderr)
    return 0
