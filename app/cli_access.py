"""`gatehouse import accounts FILE.csv` and `gatehouse export accounts [--output FILE]`.

Import checks every row first and writes nothing unless all of them are good (exit 1
and a list of every bad row otherwise); it migrates the database and writes through the
writer thread in one transaction, so it also works while the console runs, and every
running console reloads (the access revision moves). Export is read-only, like
`export transactions`. The columns are described in app.access_csv.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from app.access_csv import COLUMNS, format_accounts_csv, plan_import
from app.adapters.db.access_import import ImportResult, export_data, import_accounts
from app.adapters.db.database import database
from app.cli_chargers import DatabaseUnavailable, read_database
from app.config import Settings
from app.domain.access import (
    DEFAULT_PLATE_PATTERNS,
    AccessData,
    PlatePattern,
    plate_patterns_from,
)
from app.domain.timeutil import utc_now

_FORMAT_HELP = (
    "one row per credential, a header row naming the columns (any order): "
    + ", ".join(COLUMNS) + ". UTF-8, comma or semicolon. A whole number in `account` is "
    "the account number (as exported); any other text ties the rows of a new account "
    "together and is matched to an existing account by name and e-mail. Dates are ISO "
    "8601 (2026-01-31 or 2026-01-31T08:00); a time without an offset is UTC; "
    "permit_until is the last valid day.")


def add_import_parser(what: Any, common: Callable[..., None]) -> None:
    """`import accounts`, under the existing `import` subcommand (app.cli_users)."""
    accounts = what.add_parser(
        "accounts", help="accounts, credentials and permits from CSV (nothing is written "
        "unless every row is good)", description=_FORMAT_HELP)
    common(accounts, suppress=True)
    accounts.add_argument("csv_file", type=Path, metavar="FILE.csv",
                          help="the file to import ('-' reads the standard input)")
    accounts.add_argument("--dry-run", action="store_true",
                          help="check the file and say what would change; write nothing")


def add_export_parser(what: Any, common: Callable[..., None]) -> None:
    """`export accounts`, under the existing `export` subcommand (app.cli_chargers)."""
    accounts = what.add_parser(
        "accounts", help="accounts, credentials and permits as CSV (the format `import "
        "accounts` reads)", description=_FORMAT_HELP)
    common(accounts, suppress=True)
    accounts.add_argument("--output", "-o", type=Path, default=None, metavar="FILE",
                          help="write to FILE instead of the standard output")


def handles(args: argparse.Namespace) -> bool:
    what = {"import": getattr(args, "import_what", None),
            "export": getattr(args, "export_what", None)}.get(args.command)
    return what == "accounts"


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "import":
        try:
            text = _read_text(args.csv_file)
        except (OSError, UnicodeDecodeError) as exc:
            print(f"gatehouse: nothing imported: cannot read {args.csv_file}: {exc}"
                  + (" (save it as \"CSV UTF-8\")" if isinstance(exc, UnicodeDecodeError)
                     else ""), file=sys.stderr)
            return 1
        return asyncio.run(import_file(settings, text, source=_source(args.csv_file),
                                       dry_run=args.dry_run))
    try:
        return export_file(settings, args.output)
    except DatabaseUnavailable as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 1


# -- import ----------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    if str(path) == "-":
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else \
            sys.stdin.read().encode("utf-8")
    else:
        data = path.read_bytes()
    return data.decode("utf-8-sig")


def _source(path: Path) -> str:
    return "stdin" if str(path) == "-" else path.name


def os_user() -> str:
    """Who ran the command, for the audit log."""
    with contextlib.suppress(Exception):
        return getpass.getuser() or "cli"
    return "cli"


def site_plate_patterns(data: AccessData) -> tuple[PlatePattern, ...]:
    """The site's own plate patterns (access settings), else the defaults; a broken
    stored pattern falls back to the defaults rather than stopping the import."""
    try:
        return plate_patterns_from(data.extra.get("policy", {}).get("plate_patterns"))
    except ValueError:
        return DEFAULT_PLATE_PATTERNS


async def import_file(settings: Settings, text: str, *, source: str, dry_run: bool = False,
                      err: TextIO | None = None) -> int:
    err = err if err is not None else sys.stderr
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    actor, now = os_user(), utc_now()
    try:
        async with database(settings.resolved_db_url) as writer:
            result: ImportResult = await writer.run(lambda conn: import_accounts(
                conn, lambda data: plan_import(text, data,
                                               plate_patterns=site_plate_patterns(data)),
                actor=actor, source=source, now=now, dry_run=dry_run))
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        print(f"gatehouse: nothing imported from {source}: the database refused the "
              f"changes ({reason})", file=err)
        return 1
    plan = result.plan
    if not plan.ok:
        print(f"gatehouse: nothing imported from {source}: {len(plan.errors)} error(s)",
              file=err)
        for problem in plan.problems:
            print(f"  {'warning: ' if problem.warning else ''}{problem}", file=err)
        return 1
    for problem in plan.warnings:
        print(f"gatehouse: warning: {problem}", file=err)
    if dry_run:
        print(f"checked {source}, nothing written (dry run); it would make: {plan.summary()}",
              file=err)
    elif not result.written:
        print(f"imported {source}: nothing to change ({plan.summary()})", file=err)
    else:
        print(f"imported {source}: {plan.summary()}", file=err)
    return 0


# -- export ----------------------------------------------------------------------------------


def export_file(settings: Settings, output: Path | None, out: TextIO | None = None) -> int:
    to_stream = output is None or str(output) == "-"
    with read_database(settings) as conn:
        if "accounts" not in inspect(conn).get_table_names():
            raise DatabaseUnavailable(
                "the gatehouse database has no accounts yet (it is from an older version); "
                "start the console once to upgrade it")
        data = export_data(conn)
    text = format_accounts_csv(data, lineterminator="\n" if to_stream else "\r\n")
    count = len(data.accounts)
    if to_stream:
        stream = out if out is not None else sys.stdout
        stream.write(text)
        stream.flush()
        return 0
    assert output is not None
    try:
        output.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        print(f"gatehouse: cannot write {output}: {exc}", file=sys.stderr)
        return 1
    print(f"exported {count} account(s) to {output}", file=sys.stderr)
    return 0
