"""Accounts and their credentials and permits as CSV: read, check, plan, write.

Pure: no database. `plan_import` checks a file against a snapshot of the access data
(`AccessData`) and returns what to change; app.adapters.db.access_import loads the
snapshot and applies the plan in one transaction. `format_accounts_csv` writes exactly
the format `plan_import` reads (export -> import into an empty database -> export gives
the same file).

The file
--------
The first row names the columns: any order, any case; spaces and dashes count as `_`.
UTF-8 with or without a BOM, `,` `;` or tab between cells (what Excel writes in most of
Europe). One row per credential: an account with three cards and a plate spans four
rows, an account without credentials has one row with empty credential cells.

account            who the row belongs to. A whole number is the account's number in
                   the database (what `gatehouse export accounts` writes): that account
                   is updated, or, on a database without it, created with that number
                   (moving a site keeps its account numbers). Any other text
                   ("A-1001") is a label that ties rows of one account together inside
                   this file; such an account is matched to an existing one with the
                   same name and e-mail (ignoring case), else created. Labels are not
                   stored: the database has no column for them (and the schema stays
                   as it is). Without an account cell, rows with the same name and
                   e-mail are one account, matched the same way.
name*              the account's name.
kind               driver | tenant | fleet (default driver).
group              a group id or name: resident, staff, visitor, fleet or a site's own
                   (default visitor).
email, phone       free text; an e-mail needs an @.
credential_kind    rfid, plate, app, ISO14443, ISO15693, KeyCode, eMAID, Central, Local,
                   MacAddress (any case).
credential_value   the card UID (hex, any separators), plate (stored upper case without
                   spaces or dashes) or token.
credential_label   free text, e.g. "blue Tesla".
credential_status  active | suspended | revoked (default active).
permit_from        the permit's start: an ISO 8601 date (2026-01-01, from midnight) or
                   date-time (2026-01-01T08:00, 2026-01-01T08:00+01:00). Times without
                   an offset are UTC.
permit_until       empty (open-ended), the permit's last day (a date: valid through
                   that day) or the moment it ends (a date-time).
permit_zone        a zone id; empty = every zone the group allows.
permit_status      active | suspended | revoked | expired (default active).
                                                                         (* required)

Account cells (name, kind, group, email, phone) may be repeated on every row of an
account or left empty after its first row; when repeated they must agree. Permits are
the account's: a permit repeated on several rows of the account is one permit.

Import adds and updates, it never deletes: a credential or permit in the database that
the file does not list is kept. A column the file does not have leaves that field alone;
an empty email, phone or credential_label cell clears it. Nothing is written unless
every row is good; warnings (a plate that fits no known country pattern, an odd number
of hex digits, a blocked credential, renaming an account) do not stop the import.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.domain.access import (
    DEFAULT_PLATE_PATTERNS,
    AccessData,
    Account,
    AccountKind,
    CredentialKind,
    CredentialStatus,
    Permit,
    PermitStatus,
    PlatePattern,
    normalize_credential,
    plate_country,
    reversed_uid,
)

COLUMNS = (
    "account", "name", "kind", "group", "email", "phone",
    "credential_kind", "credential_value", "credential_label", "credential_status",
    "permit_from", "permit_until", "permit_zone", "permit_status",
)
ACCOUNT_COLUMNS = ("name", "kind", "group", "email", "phone")
REQUIRED = ("name",)
DEFAULT_GROUP = "visitor"

# Other spellings a spreadsheet may use for a column.
_ALIASES = {
    "account_id": "account", "account_no": "account", "account_ref": "account",
    "reference": "account", "ref": "account", "group_id": "group", "account_kind": "kind",
    "e_mail": "email", "mail": "email", "telephone": "phone", "phone_number": "phone",
    "valid_from": "permit_from", "valid_until": "permit_until", "zone": "permit_zone",
    "zone_id": "permit_zone", "permit_zone_id": "permit_zone",
}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_HEX = re.compile(r"^[0-9A-F]+$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX = {"name": 200, "email": 200, "phone": 64, "credential_value": 128,
        "credential_label": 200, "permit_zone": 64, "account": 200}


# ---- problems ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the file. `row` counts as a spreadsheet does: the header is
    row 1. Row 0 is the file itself (it cannot be read)."""

    row: int
    column: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        if self.column:
            where += f", {self.column}"
        return f"{where}: {self.message}"


class _RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


# ---- reading ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CsvRow:
    number: int  # spreadsheet row (header = 1)
    cells: dict[str, str]  # only the columns the file has


@dataclass(frozen=True, slots=True)
class CsvFile:
    columns: tuple[str, ...]
    rows: tuple[CsvRow, ...]
    problems: tuple[Problem, ...] = ()


def column_key(name: str) -> str:
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return _ALIASES.get(key, key)


def _uncell(text: str) -> str:
    """Undo the export's guard against spreadsheet formulas ('=..., '+31...)."""
    value = text.strip()
    if value.startswith("'") and value[1:2] and value[1] in _FORMULA_START:
        return value[1:]
    return value


def read_csv(text: str) -> CsvFile:
    """Split a file into rows of named cells; header problems are errors on row 1."""
    text = text.removeprefix("\ufeff")
    problems: list[Problem] = []
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    header_row = 0
    rows: list[CsvRow] = []
    try:
        for number, record in enumerate(reader, start=1):
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header, header_row = [column_key(c) for c in record], number
                problems.extend(_check_header(header, number))
                continue
            if len(record) > len(header) and any(c.strip() for c in record[len(header):]):
                problems.append(Problem(number, "", f"{len(record)} cells but only "
                                        f"{len(header)} columns in the header"))
                continue
            cells = {col: _uncell(record[i]) if i < len(record) else ""
                     for i, col in enumerate(header) if col in COLUMNS}
            rows.append(CsvRow(number, cells))
    except csv.Error as exc:
        problems.append(Problem(reader.line_num, "", f"not readable as CSV: {exc}"))
    if header is None:
        problems.append(Problem(1, "", "the file is empty (no header row)"))
        return CsvFile((), (), tuple(problems))
    columns = tuple(c for c in header if c in COLUMNS)
    if not rows and not problems:
        problems.append(Problem(header_row, "", "no rows after the header", warning=True))
    return CsvFile(columns, tuple(rows), tuple(problems))


def _check_header(header: list[str], row: int) -> Iterable[Problem]:
    seen: set[str] = set()
    for col in header:
        if not col:
            continue
        if col not in COLUMNS:
            yield Problem(row, col, f"unknown column (the columns are {', '.join(COLUMNS)})")
        elif col in seen:
            yield Problem(row, col, "the column is there twice")
        seen.add(col)
    for col in REQUIRED:
        if col not in header:
            yield Problem(row, col, "the column is missing (it is required)")
    if "credential_value" in header and "credential_kind" not in header:
        yield Problem(row, "credential_kind", "the column is missing (credential_value "
                      "needs it)")
    if ({"permit_until", "permit_zone", "permit_status"} & set(header)
            and "permit_from" not in header):
        yield Problem(row, "permit_from", "the column is missing (the other permit columns "
                      "need it)")


# ---- values -----------------------------------------------------------------------------

def parse_moment(text: str, *, end: bool = False) -> datetime:
    """An ISO 8601 date or date-time as UTC. A date is its midnight (UTC); as the end of a
    permit (`end`) it is the following midnight: the permit is valid through that day.
    A time without an offset is UTC."""
    value = text.strip()
    if _DATE_ONLY.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{text!r} is not a date") from None
        moment = datetime.combine(day, time(), tzinfo=UTC)
        return moment + timedelta(days=1) if end else moment
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date or date-time (examples: "
                         "2026-01-31, 2026-01-31T08:00, 2026-01-31T08:00+01:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_moment(moment: datetime | None, *, end: bool = False) -> str:
    """The inverse of parse_moment: midnight UTC is written as a date."""
    if moment is None:
        return ""
    utc = moment.astimezone(UTC)
    if utc.time() == time():
        day = utc.date() - timedelta(days=1) if end else utc.date()
        return day.isoformat()
    return utc.isoformat(timespec="seconds").replace("+00:00", "Z")


def _choice(enum: Any, text: str, column: str) -> Any:
    wanted = text.strip().lower()
    for member in enum:
        if member.value.lower() == wanted:
            return member
    raise _RowError(column, f"unknown {column.replace('_', ' ')} {text!r} "
                    f"(one of {', '.join(m.value for m in enum)})")


def _moment(text: str, column: str, *, end: bool = False) -> datetime:
    try:
        return parse_moment(text, end=end)
    except ValueError as exc:
        raise _RowError(column, str(exc)) from None


def _credential_kind(text: str) -> CredentialKind:
    try:
        return CredentialKind.parse(text)
    except ValueError:
        raise _RowError("credential_kind", f"unknown kind {text!r} (one of "
                        f"{', '.join(k.value for k in CredentialKind)})") from None


def credential_key(kind: CredentialKind, value: str) -> tuple[str, str]:
    """Two credentials with one key are one credential to the decisions: card UIDs in
    either byte order and under any card kind are the same card."""
    if kind.is_uid and _HEX.match(value):
        other = reversed_uid(value)
        return ("card", min(value, other) if other else value)
    return (kind.value, value)


# ---- the plan ---------------------------------------------------------------------------

@dataclass
class CredentialChange:
    row: int
    kind: CredentialKind
    value: str  # normalized
    label: str | None = None  # None: keep (existing) / "" (new)
    status: CredentialStatus | None = None  # None: keep (existing) / active (new)
    existing_id: int | None = None  # update this credential; None: add


@dataclass
class PermitChange:
    row: int
    valid_from: datetime
    valid_until: datetime | None
    zone_id: str
    status: PermitStatus | None = None  # None: keep (existing) / active (new)
    existing_id: int | None = None


@dataclass
class AccountChange:
    ref: str  # the account cell as in the file ("" when empty)
    row: int  # its first row
    account_id: int | None = None  # an existing account
    new_id: int | None = None  # a new account with this number; None: the next one
    fields: dict[str, str] = field(default_factory=dict)  # name, kind, group_id, email, phone
    changed: bool = False  # an existing account whose fields change
    created: bool = False  # a new account (account_id is set once it is written)
    credentials: list[CredentialChange] = field(default_factory=list)
    permits: list[PermitChange] = field(default_factory=list)


@dataclass
class ImportPlan:
    accounts: list[AccountChange] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.warning]

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        accounts = self.accounts
        creds = [c for a in accounts for c in a.credentials]
        permits = [p for a in accounts for p in a.permits]
        return {
            "accounts_created": sum(a.created for a in accounts),
            "accounts_updated": sum(a.changed for a in accounts),
            "accounts_unchanged": sum(not a.created and not a.changed for a in accounts),
            "credentials_added": sum(c.existing_id is None for c in creds),
            "credentials_updated": sum(c.existing_id is not None for c in creds),
            "permits_added": sum(p.existing_id is None for p in permits),
            "permits_updated": sum(p.existing_id is not None for p in permits),
        }

    @property
    def has_changes(self) -> bool:
        c = self.counts()
        return any(v for k, v in c.items() if k != "accounts_unchanged")

    def summary(self) -> str:
        c = self.counts()
        return (f"{c['accounts_created']} account(s) created, {c['accounts_updated']} "
                f"updated, {c['accounts_unchanged']} unchanged; "
                f"{c['credentials_added']} credential(s) added, {c['credentials_updated']} "
                f"updated; {c['permits_added']} permit(s) added, {c['permits_updated']} "
                "updated")


@dataclass
class _Draft:
    """One account of the file while its rows are read."""

    change: AccountChange
    cells: dict[str, tuple[str, int]] = field(default_factory=dict)  # column -> (value, row)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def plan_import(source: str | CsvFile, current: AccessData | None = None, *,
                plate_patterns: tuple[PlatePattern, ...] = DEFAULT_PLATE_PATTERNS
                ) -> ImportPlan:
    """Check every row against the file and the database snapshot `current`; the plan
    lists every problem (errors and warnings) and, when there is no error, the changes."""
    current = current if current is not None else AccessData()
    parsed = read_csv(source) if isinstance(source, str) else source
    plan = ImportPlan(problems=list(parsed.problems))
    if plan.errors:  # the header is wrong: the rows cannot be trusted
        return plan
    ctx = _Context(current, parsed.columns, plate_patterns, plan.problems)
    drafts: dict[str, _Draft] = {}
    order: list[_Draft] = []
    for row in parsed.rows:
        key = ctx.row_key(row)
        draft = drafts.get(key)
        if draft is None:
            draft = drafts[key] = _Draft(AccountChange(ref=row.cells.get("account", ""),
                                                       row=row.number))
            order.append(draft)
        ctx.read_row(draft, row)
    for draft in order:
        ctx.finish_account(draft)
    plan.accounts = [d.change for d in order]
    plan.problems.sort(key=_problem_order)
    return plan


def _problem_order(problem: Problem) -> tuple[int, int, bool]:
    column = COLUMNS.index(problem.column) if problem.column in COLUMNS else -1
    return (problem.row, column, problem.warning)


class _Context:
    def __init__(self, data: AccessData, columns: tuple[str, ...],
                 patterns: tuple[PlatePattern, ...], problems: list[Problem]) -> None:
        self.data = data
        self.columns = set(columns)
        self.patterns = patterns
        self.problems = problems
        self.accounts = {a.id: a for a in data.accounts}
        self.groups: dict[str, str] = {}
        for g in data.groups:
            self.groups[g.id.casefold()] = g.id
            self.groups.setdefault(_fold(g.name), g.id)
        self.creds = {(c.kind, c.value): c for c in data.credentials}
        self.cred_keys: dict[tuple[str, str], list] = {}
        for c in data.credentials:
            self.cred_keys.setdefault(credential_key(c.kind, c.value), []).append(c)
        self.blocked = {credential_key(b.kind, normalize_credential(b.kind, b.value)): b
                        for b in data.blocklist}
        self.permits: dict[int, list[Permit]] = {}
        for p in data.permits:
            self.permits.setdefault(p.account_id, []).append(p)
        self.file_creds: dict[tuple[str, str], tuple[int, str, str]] = {}  # key -> row, ref
        self.targets: dict[int, int] = {}  # existing account id -> first row naming it

    def error(self, row: int, column: str, message: str) -> None:
        self.problems.append(Problem(row, column, message))

    def warn(self, row: int, column: str, message: str) -> None:
        self.problems.append(Problem(row, column, message, warning=True))

    # -- rows -----------------------------------------------------------------------

    def row_key(self, row: CsvRow) -> str:
        ref = row.cells.get("account", "")
        if ref.isdigit():
            return f"#{int(ref)}"
        if ref:
            return f"label:{_fold(ref)}"
        return f"name:{_fold(row.cells.get('name', ''))}|{_fold(row.cells.get('email', ''))}"

    def read_row(self, draft: _Draft, row: CsvRow) -> None:
        cells = row.cells
        for col in ACCOUNT_COLUMNS:
            if col not in self.columns:
                continue
            value = cells.get(col, "")
            if len(value) > _MAX.get(col, 1000):
                self.error(row.number, col, f"longer than {_MAX[col]} characters")
                continue
            first = draft.cells.get(col)
            if first is None:
                if value or row.number == draft.change.row:
                    draft.cells[col] = (value, row.number)
            elif value and _fold(value) != _fold(first[0]):
                if not first[0] and first[1] == draft.change.row:
                    draft.cells[col] = (value, row.number)
                else:
                    self.error(row.number, col, f"{value!r} differs from {first[0]!r} on row "
                               f"{first[1]} of the same account")
        if "account" in cells and len(cells["account"]) > _MAX["account"]:
            self.error(row.number, "account", f"longer than {_MAX['account']} characters")
        try:
            cred = self.read_credential(row)
        except _RowError as exc:
            self.error(row.number, exc.column, str(exc))
            cred = None
        if cred is not None:
            draft.change.credentials.append(cred)
        try:
            permit = self.read_permit(row)
        except _RowError as exc:
            self.error(row.number, exc.column, str(exc))
            permit = None
        if permit is not None:
            same = next((p for p in draft.change.permits if
                         (p.valid_from, p.valid_until, p.zone_id) ==
                         (permit.valid_from, permit.valid_until, permit.zone_id)), None)
            if same is None:
                draft.change.permits.append(permit)
            elif permit.status is not None and same.status is not None \
                    and permit.status is not same.status:
                self.error(row.number, "permit_status", f"{permit.status} but the same "
                           f"permit is {same.status} on row {same.row}")

    def _check(self, row: CsvRow, fn: Any, failed: list[bool]) -> Any:
        """Run one cell's check; an error is reported and marks the row `failed`, so every
        bad cell of a row is reported at once."""
        try:
            return fn()
        except _RowError as exc:
            self.error(row.number, exc.column, str(exc))
            failed.append(True)
            return None

    def read_credential(self, row: CsvRow) -> CredentialChange | None:
        kind_text = row.cells.get("credential_kind", "")
        raw = row.cells.get("credential_value", "")
        extra = [c for c in ("credential_label", "credential_status") if row.cells.get(c)]
        if not kind_text and not raw:
            if extra:
                raise _RowError(extra[0], "given without a credential_kind and "
                                "credential_value")
            return None
        failed: list[bool] = []
        found = self._check(row, lambda: self._credential_value(row, kind_text, raw), failed)
        label = row.cells.get("credential_label")
        if label is not None and len(label) > _MAX["credential_label"]:
            self.error(row.number, "credential_label",
                       f"longer than {_MAX['credential_label']} characters")
            failed.append(True)
        status_text = row.cells.get("credential_status", "")
        status = self._check(row, lambda: _choice(CredentialStatus, status_text,
                                                  "credential_status"), failed) \
            if status_text else None
        if failed:
            return None
        kind, value = found
        return CredentialChange(row.number, kind, value, label, status)

    def _credential_value(self, row: CsvRow, kind_text: str,
                          raw: str) -> tuple[CredentialKind, str]:
        if not kind_text:
            raise _RowError("credential_kind", "empty (the row has a credential_value)")
        kind = _credential_kind(kind_text)
        if not raw:
            raise _RowError("credential_value", "empty (the row has a credential_kind)")
        value = normalize_credential(kind, raw)
        if not value:
            raise _RowError("credential_value", f"{raw!r} has no letters or digits")
        if len(value) > _MAX["credential_value"]:
            raise _RowError("credential_value", f"longer than {_MAX['credential_value']} "
                            "characters")
        if (kind.is_uid or kind is CredentialKind.MAC_ADDRESS) and not _HEX.match(value):
            raise _RowError("credential_value", f"{kind.value} {raw!r} is not hexadecimal "
                            "(a card UID is 0-9 and A-F, e.g. 04A1B2C3)")
        if kind.is_uid and len(value) % 2:
            self.warn(row.number, "credential_value", f"{kind.value} {value} has an odd "
                      "number of hex digits (card UIDs are whole bytes)")
        if kind is CredentialKind.PLATE and not plate_country(value, self.patterns):
            self.warn(row.number, "credential_value", f"plate {value} fits no known "
                      f"country pattern ({', '.join(p.country for p in self.patterns)})")
        return kind, value

    def read_permit(self, row: CsvRow) -> PermitChange | None:
        start = row.cells.get("permit_from", "")
        extra = [c for c in ("permit_until", "permit_zone", "permit_status")
                 if row.cells.get(c)]
        if not start:
            if extra:
                raise _RowError("permit_from", f"empty (the row has a {extra[0]}; a permit "
                                "needs a start)")
            return None
        failed: list[bool] = []
        valid_from = self._check(row, lambda: _moment(start, "permit_from"), failed)
        until_text = row.cells.get("permit_until", "")
        valid_until = self._check(row, lambda: _moment(until_text, "permit_until", end=True),
                                  failed) if until_text else None
        if valid_from is not None and valid_until is not None and valid_until <= valid_from:
            self.error(row.number, "permit_until",
                       f"{until_text} is before permit_from {start}")
            failed.append(True)
        zone = row.cells.get("permit_zone", "")
        if len(zone) > _MAX["permit_zone"] or any(ch.isspace() for ch in zone):
            self.error(row.number, "permit_zone",
                       f"{zone!r} is not a zone id (1-64 characters, no spaces)")
            failed.append(True)
        status_text = row.cells.get("permit_status", "")
        status = self._check(row, lambda: _choice(PermitStatus, status_text, "permit_status"),
                             failed) if status_text else None
        if failed:
            return None
        return PermitChange(row.number, valid_from, valid_until, zone, status)

    # -- accounts -------------------------------------------------------------------

    def finish_account(self, draft: _Draft) -> None:
        change = draft.change
        first = change.row
        cells = {col: value for col, (value, _row) in draft.cells.items()}
        name = cells.get("name", "")
        if not name:
            self.error(first, "name", "empty (every account needs a name)")
        fields: dict[str, str] = {}
        if name:
            fields["name"] = name
        if cells.get("kind"):
            try:
                fields["kind"] = _choice(AccountKind, cells["kind"], "kind").value
            except _RowError as exc:
                self.error(draft.cells["kind"][1], "kind", str(exc))
        if cells.get("group"):
            group_id = self.groups.get(cells["group"].casefold()) or self.groups.get(
                _fold(cells["group"]))
            if group_id is None:
                self.error(draft.cells["group"][1], "group", f"unknown group "
                           f"{cells['group']!r} (one of "
                           f"{', '.join(g.id for g in self.data.groups)})")
            else:
                fields["group_id"] = group_id
        for col in ("email", "phone"):
            if col in self.columns:
                fields[col] = cells.get(col, "")
        email = fields.get("email", "")
        if email and not _EMAIL.match(email):
            self.error(draft.cells["email"][1], "email", f"{email!r} is not an e-mail address")

        existing = self.find_account(change, name, cells.get("email", ""))
        if existing is not None:
            change.account_id = existing.id
            seen = self.targets.get(existing.id)
            if seen is not None:
                self.error(first, "account", f"{change.ref or name!r} is account "
                           f"{existing.id}, which row {seen} names already")
            self.targets[existing.id] = first
            if name and _fold(name) != _fold(existing.name):
                self.warn(first, "name", f"renames account {existing.id} from "
                          f"{existing.name!r} to {name!r}")
            change.fields = {k: v for k, v in fields.items()
                             if v != _account_value(existing, k)}
            change.changed = bool(change.fields)
        else:
            change.created = True
            fields.setdefault("kind", AccountKind.DRIVER.value)
            fields.setdefault("group_id", self._default_group())
            fields.setdefault("email", "")
            fields.setdefault("phone", "")
            change.fields = fields
        self.finish_credentials(change, existing)
        self.finish_permits(change, existing)

    def _default_group(self) -> str:
        ids = [g.id for g in self.data.groups]
        return DEFAULT_GROUP if DEFAULT_GROUP in ids or not ids else ids[0]

    def find_account(self, change: AccountChange, name: str, email: str) -> Account | None:
        ref = change.ref
        if ref.isdigit():
            number = int(ref)
            if number < 1 or number > 2**31 - 1:
                self.error(change.row, "account", f"{ref} is not an account number "
                           "(1 to 2147483647)")
                return None
            found = self.accounts.get(number)
            if found is None:
                change.new_id = number
            return found
        if not name:
            return None
        matches = [a for a in self.data.accounts
                   if _fold(a.name) == _fold(name) and _fold(a.email) == _fold(email)]
        if len(matches) > 1:
            self.error(change.row, "account", f"{len(matches)} accounts are named {name!r} "
                       f"with this e-mail ({', '.join(str(a.id) for a in matches)}): put "
                       "the account number in the account column")
            return None
        return matches[0] if matches else None

    def finish_credentials(self, change: AccountChange, existing: Account | None) -> None:
        owner_id = existing.id if existing is not None else None
        kept: list[CredentialChange] = []
        for cred in change.credentials:
            key = credential_key(cred.kind, cred.value)
            seen = self.file_creds.get(key)
            if seen is not None:
                same = "the same card as" if key[0] == "card" and seen[1:] != (
                    cred.kind.value, cred.value) else "listed already on"
                self.error(cred.row, "credential_value",
                           f"{cred.kind.value} {cred.value} is {same} row {seen[0]}")
                continue
            self.file_creds[key] = (cred.row, cred.kind.value, cred.value)
            blocked = self.blocked.get(key)
            if blocked is not None:
                self.warn(cred.row, "credential_value", f"{cred.kind.value} {cred.value} is "
                          f"on the blocklist ({blocked.reason})")
            exact = self.creds.get((cred.kind, cred.value))
            if exact is not None:
                if exact.account_id != owner_id:
                    self.error(cred.row, "credential_value", f"{cred.kind.value} {cred.value} "
                               f"belongs to {self._account_name(exact.account_id)}")
                    continue
                cred.existing_id = exact.id
                if cred.label is not None and cred.label == exact.label:
                    cred.label = None
                if cred.status is exact.status:
                    cred.status = None
                if cred.label is not None or cred.status is not None:
                    kept.append(cred)
                continue
            others = self.cred_keys.get(key, [])
            foreign = [c for c in others if c.account_id != owner_id]
            if foreign:
                c = foreign[0]
                self.error(cred.row, "credential_value", f"{cred.kind.value} {cred.value} is "
                           f"the same card as {c.kind.value} {c.value} of "
                           f"{self._account_name(c.account_id)}")
                continue
            if others:
                c = others[0]
                self.warn(cred.row, "credential_value", f"{cred.kind.value} {cred.value} is "
                          f"the same card as this account's {c.kind.value} {c.value}; added "
                          "as a second credential")
            kept.append(cred)
        change.credentials = kept

    def finish_permits(self, change: AccountChange, existing: Account | None) -> None:
        current = self.permits.get(existing.id, []) if existing is not None else []
        kept: list[PermitChange] = []
        for permit in change.permits:
            same = next((p for p in current
                         if (p.valid_from, p.valid_until, p.zone_id)
                         == (permit.valid_from, permit.valid_until, permit.zone_id)), None)
            if same is None:
                kept.append(permit)
            elif permit.status is not None and permit.status is not same.status:
                permit.existing_id = same.id
                kept.append(permit)
        change.permits = kept

    def _account_name(self, account_id: int) -> str:
        account = self.accounts.get(account_id)
        return f"account {account_id}" + (f" ({account.name})" if account else "")


def _account_value(account: Account, key: str) -> str:
    return str({"name": account.name, "kind": account.kind.value,
                "group_id": account.group_id, "email": account.email,
                "phone": account.phone}[key])


# ---- writing ----------------------------------------------------------------------------

def _cell(value: str) -> str:
    if value.startswith(_FORMULA_START):
        return "'" + value  # never let a spreadsheet run a cell as a formula
    return value


def export_rows(data: AccessData) -> list[dict[str, str]]:
    """One row per credential (an account's permits ride along on its rows, one permit a
    row, with more rows when it has more permits than credentials), accounts by number."""
    creds: dict[int, list] = {}
    for c in sorted(data.credentials, key=lambda c: c.id):
        creds.setdefault(c.account_id, []).append(c)
    permits: dict[int, list[Permit]] = {}
    for p in sorted(data.permits, key=lambda p: p.id):
        permits.setdefault(p.account_id, []).append(p)
    rows: list[dict[str, str]] = []
    for account in sorted(data.accounts, key=lambda a: a.id):
        mine, theirs = creds.get(account.id, []), permits.get(account.id, [])
        for i in range(max(1, len(mine), len(theirs))):
            row = {"account": str(account.id), "name": account.name,
                   "kind": account.kind.value, "group": account.group_id,
                   "email": account.email, "phone": account.phone}
            row.update(dict.fromkeys(COLUMNS[6:], ""))
            if i < len(mine):
                c = mine[i]
                row.update(credential_kind=c.kind.value, credential_value=c.value,
                           credential_label=c.label, credential_status=c.status.value)
            if i < len(theirs):
                p = theirs[i]
                row.update(permit_from=format_moment(p.valid_from),
                           permit_until=format_moment(p.valid_until, end=True),
                           permit_zone=p.zone_id, permit_status=p.status.value)
            rows.append(row)
    return rows


def format_accounts_csv(data: AccessData, *, lineterminator: str = "\r\n") -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=lineterminator)
    writer.writerow(COLUMNS)
    for row in export_rows(data):
        writer.writerow([_cell(row[col]) for col in COLUMNS])
    return buffer.getvalue()
