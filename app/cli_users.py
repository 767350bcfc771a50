"""Installer commands that write to the database: `gatehouse user ...` and
`gatehouse import site ...`.

They migrate the database first (a fresh data folder is fine) and write through the same
writer thread, repositories and audit log as the console, so they also work while the
console runs (SQLite in WAL mode, with a busy timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from app.adapters.db import site_repo, staff_repo
from app.adapters.db.audit_repo import SqlAuditLog
from app.adapters.db.database import database
from app.adapters.db.writer import DbWriter
from app.config import Settings
from app.domain.timeutil import utc_now
from app.services.staff import Role, StaffError, StaffService, password_problems
from app.site_import import SiteImportError, read_site_csv, save_import

CLI_ACTOR = "cli"


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    """The `user` and `import` subcommands, added to app.cli's parser."""
    user = sub.add_parser("user", help="staff accounts: add, list")
    common(user, suppress=True)
    action = user.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    add = action.add_parser("add", help="create a staff account (asks for the password)")
    common(add, suppress=True)
    add.add_argument("username", metavar="NAME")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.ATTENDANT.value,
                     help="admin, supervisor or attendant (default)")
    add.add_argument("--display-name", default="", metavar="TEXT",
                     help="the name shown in the console (default: NAME)")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of the standard input "
                          "(scripts) instead of asking twice")
    listing = action.add_parser("list", help="list the staff accounts")
    common(listing, suppress=True)
    listing.add_argument("--format", choices=["table", "json"], default="table")

    imp = sub.add_parser("import", help="import the site's chargers and bays, or accounts, "
                         "from CSV")
    common(imp, suppress=True)
    what = imp.add_subparsers(dest="import_what", metavar="WHAT", required=True)
    site = what.add_parser("site", help="chargers and bays (and RFID tags) from CSV files; "
                           "see the README for the columns")
    common(site, suppress=True)
    site.add_argument("chargers_csv", type=Path, metavar="CHARGERS.csv")
    site.add_argument("bays_csv", type=Path, metavar="BAYS.csv")
    site.add_argument("--tags", type=Path, default=None, metavar="TAGS.csv",
                      help="RFID tags (id_token,label,status)")
    site.add_argument("--name", default=None, help="the site's name (default: keep it)")
    site.add_argument("--replace", action="store_true",
                      help="replace the chargers and bays of an already configured site")
    from app import cli_access  # here: cli_access imports the export helpers

    cli_access.add_import_parser(what, common)  # import accounts


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[DbWriter]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with database(settings.resolved_db_url) as writer:
        yield writer


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    while True:
        first = getpass.getpass("Password: ")
        problems = password_problems(first, getpass.getpass("Password again: "))
        if not problems:
            return first
        print(f"gatehouse: {'; '.join(problems)}; try again", file=sys.stderr)


async def _add_user(settings: Settings, args: argparse.Namespace) -> int:
    password = _read_password(args.password_stdin)
    async with _database(settings) as writer:
        staff = StaffService(staff_repo.SqlStaffStore(writer),
                             SqlAuditLog(writer, utc_now).audit, utc_now)
        user = await staff.create(CLI_ACTOR, args.username, password, args.role,
                                  args.display_name)
    print(f"created {user.role} {user.username}", file=sys.stderr)
    return 0


async def _list_users(settings: Settings, fmt: str) -> int:
    async with _database(settings) as writer:
        users = await writer.run(staff_repo.list_users)
    rows = [{"username": u.username, "display_name": u.display_name, "role": str(u.role),
             "created_at": u.created_at.isoformat(timespec="seconds"),
             "disabled": u.disabled} for u in users]
    if fmt == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no staff accounts yet (gatehouse user add NAME --role admin)")
        return 0
    head = ("Username", "Name", "Role", "Created (UTC)", "Disabled")
    body = [(r["username"], r["display_name"], r["role"], r["created_at"][:19],
             "yes" if r["disabled"] else "") for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    for row in (head, *body):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    return 0


async def _import_site(settings: Settings, args: argparse.Namespace) -> int:
    async with _database(settings) as writer:
        current = await writer.run(site_repo.load_site)
        if current is not None and not args.replace:
            print(f"gatehouse: the site {current.name!r} is configured already; add --replace "
                  "to replace its chargers and bays", file=sys.stderr)
            return 1
        name = args.name or (current.name if current else None)
        if not name:
            print("gatehouse: give the new site a name with --name", file=sys.stderr)
            return 2
        try:
            imported = read_site_csv(args.chargers_csv, args.bays_csv, name=name,
                                     tags=args.tags, base=current)
        except SiteImportError as exc:
            print(f"gatehouse: nothing imported, {len(exc.errors)} problem(s):",
                  file=sys.stderr)
            for error in exc.errors:
                print(f"  {error}", file=sys.stderr)
            return 1
        await writer.run(lambda conn: save_import(conn, imported))
        SqlAuditLog(writer, utc_now).audit(CLI_ACTOR, "site.import", name, {
            "chargers": len(imported.site.chargers), "bays": len(imported.site.bays),
            "tags": len(imported.tags), "replaced": current is not None})
    print(f"imported {imported.summary()} into {name!r}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.command == "user" and args.user_action == "add":
            return asyncio.run(_add_user(settings, args))
        if args.command == "user" and args.user_action == "list":
            return asyncio.run(_list_users(settings, args.format))
        if args.command == "import" and args.import_what == "site":
            return asyncio.run(_import_site(settings, args))
    except StaffError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\ngatehouse: cancelled", file=sys.stderr)
        return 130
    raise SystemExit(f"unknown command {args.command!r}")
