"""Import a site's chargers and bays (and optionally RFID tags) from CSV files.

Made for installers with a spreadsheet: the first row names the columns (any order,
case and spaces ignored), the delimiter may be `,` `;` or a tab (what Excel writes in
most of Europe), UTF-8 with or without a BOM. Every bad row is reported with its file
and line; nothing is imported unless every row is good.

chargers.csv   id*, ocpp_version (1.6 | 2.0.1, default 1.6), connectors (default 2),
               label, max_power_w (watts, or "22 kW"; default 22000)
bays.csv       id*, label (default: id), zone (default EV), charger_id, connector_id
               (needed when the charger has more than one connector), x, y (position
               on the map in bay widths; default: rows of 6 in file order)
tags.csv       id_token*, label, status (Accepted | Blocked | Expired | Invalid;
               default Accepted)                                     (* required)

`read_site_csv` only reads and checks (Qt-free, no database); `save_import` writes
the result on a database Connection in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import Connection, delete, insert

from app.adapters.db import site_repo
from app.adapters.db import tables as t
from app.domain.site import Bay, ChargerConfig, OcppVersion, Site, Zone

CHARGER_COLUMNS = ("id", "ocpp_version", "connectors", "label", "max_power_w")
BAY_COLUMNS = ("id", "label", "zone", "charger_id", "connector_id", "x", "y")
TAG_COLUMNS = ("id_token", "label", "status")
TAG_STATUSES = ("Accepted", "Blocked", "Expired", "Invalid")
DEFAULT_ZONE = "EV"
BAYS_PER_ROW = 6

# Other spellings a spreadsheet may use for a column.
_ALIASES = {
    "charger": "charger_id", "chargepoint": "charger_id", "charge_point": "charger_id",
    "charge_point_id": "charger_id", "chargebox_id": "charger_id",
    "connector": "connector_id", "evse": "connector_id", "evse_id": "connector_id",
    "zone_id": "zone", "version": "ocpp_version", "ocpp": "ocpp_version",
    "power_w": "max_power_w", "max_power": "max_power_w", "name": "label",
    "tag": "id_token", "idtag": "id_token", "id_tag": "id_token", "rfid": "id_token",
}
_CHARGER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:*+@-]{0,47}$")
_SIMPLE_ID = re.compile(r"^[^\s/\\?#%]{1,64}$")

Source = str | Path | TextIO


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int  # 1 is the header row
    message: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.message}"


class SiteImportError(ValueError):
    """One or more rows are bad; `errors` lists every one of them."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass(frozen=True, slots=True)
class SiteImport:
    site: Site
    tags: tuple[tuple[str, str, str], ...] = ()  # (id_token, label, status)

    def summary(self) -> str:
        s = self.site
        text = (f"{len(s.chargers)} charger(s), {len(s.bays)} bay(s) in "
                f"{len(s.zones)} zone(s)")
        return text + (f", {len(self.tags)} tag(s)" if self.tags else "")


@dataclass
class _Table:
    name: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def _open(source: Source) -> tuple[str, str]:
    if isinstance(source, str | Path):
        path = Path(source)
        return path.name, path.read_text(encoding="utf-8-sig")
    text = source.read()
    return getattr(source, "name", "csv"), text.removeprefix("\ufeff")


def _column(name: str) -> str:
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return _ALIASES.get(key, key)


def _read(source: Source, columns: tuple[str, ...], required: str,
          errors: list[RowError]) -> _Table:
    try:
        name, text = _open(source)
    except (OSError, UnicodeDecodeError) as exc:
        label = Path(source).name if isinstance(source, str | Path) else "csv"
        errors.append(RowError(label, 0, f"cannot read the file: {exc}"))
        return _Table(label)
    table = _Table(Path(name).name)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [_column(c) for c in row]
            unknown = [c for c in header if c and c not in columns]
            if unknown:
                errors.append(RowError(table.name, line, (
                    f"unknown column(s) {', '.join(unknown)}; the columns are "
                    f"{', '.join(columns)}")))
            if required not in header:
                errors.append(RowError(table.name, line,
                                       f"the column {required!r} is missing"))
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            errors.append(RowError(table.name, line,
                                   f"{len(row)} values but only {len(header)} columns"))
            continue
        values = {col: (row[i].strip() if i < len(row) else "")
                  for i, col in enumerate(header) if col}
        table.rows.append((line, values))
    if header is None:
        errors.append(RowError(table.name, 1, "the file is empty (no header row)"))
    return table


def _int(text: str, what: str, low: int, high: int) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not low <= value <= high or float(text) != value:
        raise ValueError(f"{what} {text!r} must be a whole number from {low} to {high}")
    return value


def _power(text: str) -> int:
    value = text.strip().lower().replace(" ", "")
    factor = 1.0
    for suffix, f in (("kw", 1000.0), ("w", 1.0)):
        if value.endswith(suffix):
            value, factor = value[: -len(suffix)], f
            break
    try:
        watts = float(value.replace(",", ".")) * factor
    except ValueError:
        raise ValueError(f"max_power_w {text!r} is not a power (e.g. 22000 or 22 kW)") from None
    if not 1000 <= watts <= 1_000_000:
        raise ValueError(f"max_power_w {text!r} is outside 1 kW .. 1000 kW")
    return round(watts)


def _version(text: str) -> OcppVersion:
    key = text.strip().lower().removeprefix("ocpp").strip().rstrip("js")
    key = {"16": "1.6", "1.6": "1.6", "201": "2.0.1", "2.0.1": "2.0.1", "2.0": "2.0.1"}.get(key)
    if key is None:
        raise ValueError(f"ocpp_version {text!r} is not 1.6 or 2.0.1")
    return OcppVersion(key)


def _float(text: str, what: str) -> float:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None


def _chargers(table: _Table, errors: list[RowError]) -> dict[str, tuple[int, ChargerConfig]]:
    found: dict[str, tuple[int, ChargerConfig]] = {}
    for line, v in table.rows:
        cid = v.get("id", "")
        try:
            if not _CHARGER_ID.match(cid):
                raise ValueError(
                    f"charger id {cid!r} must be 1-48 letters, digits or . _ - : without "
                    "spaces (it is the last part of the charger's OCPP URL)" if cid
                    else "the charger id is empty")
            if cid in found:
                raise ValueError(f"charger {cid} is listed twice (first on line "
                                 f"{found[cid][0]})")
            charger = ChargerConfig(
                id=cid,
                ocpp_version=_version(v["ocpp_version"]) if v.get("ocpp_version")
                else OcppVersion.V16,
                connectors=_int(v["connectors"], "connectors", 1, 32) if v.get("connectors")
                else 2,
                label=v.get("label", "")[:200],
                max_power_w=_power(v["max_power_w"]) if v.get("max_power_w") else 22_000,
            )
        except ValueError as exc:
            errors.append(RowError(table.name, line, str(exc)))
            continue
        found[cid] = (line, charger)
    return found


def _bays(table: _Table, chargers: dict[str, ChargerConfig],
          errors: list[RowError]) -> list[Bay]:
    bays: list[Bay] = []
    seen: dict[str, int] = {}
    bound: dict[tuple[str, int], str] = {}
    placed = any(v.get("x") or v.get("y") for _, v in table.rows)
    for index, (line, v) in enumerate(table.rows):
        bid = v.get("id", "")
        try:
            if not _SIMPLE_ID.match(bid):
                raise ValueError(f"bay id {bid!r} must be 1-64 characters without spaces"
                                 if bid else "the bay id is empty")
            if bid in seen:
                raise ValueError(f"bay {bid} is listed twice (first on line {seen[bid]})")
            zone = v.get("zone") or DEFAULT_ZONE
            if not _SIMPLE_ID.match(zone):
                raise ValueError(f"zone {zone!r} must be 1-64 characters without spaces")
            charger_id = v.get("charger_id") or None
            connector_id: int | None = None
            if charger_id is not None:
                charger = chargers.get(charger_id)
                if charger is None:
                    raise ValueError(f"charger {charger_id} is not in the chargers file")
                if v.get("connector_id"):
                    connector_id = _int(v["connector_id"], "connector_id", 1, 32)
                elif charger.connectors == 1:
                    connector_id = 1
                else:
                    raise ValueError(f"charger {charger_id} has {charger.connectors} "
                                     "connectors: say which one (connector_id)")
                if connector_id > charger.connectors:
                    raise ValueError(f"charger {charger_id} has no connector {connector_id} "
                                     f"(it has {charger.connectors})")
                other = bound.get((charger_id, connector_id))
                if other is not None:
                    raise ValueError(f"connector {charger_id}/{connector_id} is already "
                                     f"bound to bay {other}")
            elif v.get("connector_id"):
                raise ValueError("connector_id without a charger_id")
            if placed:
                x = _float(v["x"], "x") if v.get("x") else 0.0
                y = _float(v["y"], "y") if v.get("y") else 0.0
            else:  # rows of six with an aisle between them, like the demo map
                x, y = float(index % BAYS_PER_ROW), float(index // BAYS_PER_ROW * 2)
        except ValueError as exc:
            errors.append(RowError(table.name, line, str(exc)))
            continue
        seen[bid] = line
        if charger_id is not None and connector_id is not None:
            bound[(charger_id, connector_id)] = bid
        bays.append(Bay(id=bid, label=(v.get("label") or bid)[:64], zone_id=zone,
                        charger_id=charger_id, connector_id=connector_id, x=x, y=y))
    return bays


def _tags(table: _Table, errors: list[RowError]) -> list[tuple[str, str, str]]:
    tags: list[tuple[str, str, str]] = []
    seen: dict[str, int] = {}
    statuses = {s.lower(): s for s in TAG_STATUSES}
    for line, v in table.rows:
        token = v.get("id_token", "")
        status = statuses.get((v.get("status") or "Accepted").lower())
        if not token or len(token) > 64:
            errors.append(RowError(table.name, line, "id_token must be 1-64 characters"))
        elif token in seen:
            errors.append(RowError(table.name, line,
                                   f"tag {token} is listed twice (first on line {seen[token]})"))
        elif status is None:
            errors.append(RowError(table.name, line, (
                f"status {v.get('status')!r} is not one of {', '.join(TAG_STATUSES)}")))
        else:
            seen[token] = line
            tags.append((token, v.get("label", "")[:200], status))
    return tags


def read_site_csv(chargers: Source, bays: Source, *, name: str,
                  tags: Source | None = None, base: Site | None = None) -> SiteImport:
    """Read and check the files. Raises SiteImportError listing every bad row.

    `base` keeps what CSV does not carry (currency, time zone, cameras, barriers, lanes
    and their zones) from an existing site; its chargers and bays are replaced.
    """
    errors: list[RowError] = []
    charger_table = _read(chargers, CHARGER_COLUMNS, "id", errors)
    bay_table = _read(bays, BAY_COLUMNS, "id", errors)
    tag_table = _read(tags, TAG_COLUMNS, "id_token", errors) if tags is not None else None
    if errors:  # a file-level problem: the rows cannot be trusted
        raise SiteImportError(errors)
    found = _chargers(charger_table, errors)
    configs = {cid: c for cid, (_, c) in found.items()}
    bay_list = _bays(bay_table, configs, errors)
    tag_list = _tags(tag_table, errors) if tag_table is not None else []
    if not name.strip():
        errors.append(RowError("setup", 0, "the site needs a name"))
    if errors:
        raise SiteImportError(errors)
    zones: dict[str, Zone] = {}
    if base is not None:
        lane_zones = {ln.zone_id for ln in base.lanes}
        zones = {z.id: z for z in base.zones if z.id in lane_zones}
    counts: dict[str, int] = {}
    for bay in bay_list:
        counts[bay.zone_id] = counts.get(bay.zone_id, 0) + 1
    for zone_id, count in counts.items():
        old = zones.get(zone_id)
        zones[zone_id] = Zone(zone_id, old.name if old else zone_id,
                              max(count, old.capacity if old else 0))
    site = Site(
        name=name.strip()[:200],
        currency=base.currency if base else "EUR",
        timezone=base.timezone if base else "UTC",
        zones=tuple(zones.values()),
        chargers=tuple(configs.values()),
        cameras=base.cameras if base else (),
        barriers=base.barriers if base else (),
        bays=tuple(bay_list),
        lanes=base.lanes if base else (),
    )
    problems = site.validate()
    if problems:  # what the row checks above cannot see
        raise SiteImportError([RowError("site", 0, p) for p in problems])
    return SiteImport(site=site, tags=tuple(tag_list))


def save_import(conn: Connection, imported: SiteImport) -> None:
    """Write the site (replacing the configured one) and the tags, on one Connection."""
    site_repo.save_site(conn, imported.site)
    if imported.tags:
        tokens = [token for token, _, _ in imported.tags]
        conn.execute(delete(t.id_tags).where(t.id_tags.c.id_token.in_(tokens)))
        conn.execute(insert(t.id_tags), [
            {"id_token": token, "label": label, "status": status}
            for token, label, status in imported.tags])


def example_files() -> Iterator[tuple[str, str]]:
    """(file name, text) of small example files, for the docs and the setup dialog."""
    yield "chargers.csv", ("id,ocpp_version,connectors,label,max_power_w\n"
                           "CP-01,1.6,2,Entrance wallbox,22000\n"
                           "CP-02,2.0.1,1,Level 2 DC,50 kW\n")
    yield "bays.csv", ("id,label,zone,charger_id,connector_id\n"
                       "EV-01,EV 01,P1-EV,CP-01,1\n"
                       "EV-02,EV 02,P1-EV,CP-01,2\n"
                       "EV-03,EV 03,P1-EV,CP-02,1\n")
    yield "tags.csv", "id_token,label,status\n04A1B2C3,Staff card 1,Accepted\n"
