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
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
