"""Tariff documents: parsing, the round trip, errors that name the field, and which
version is in force (app.domain.tariffs)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.tariffs import (
    FieldError,
    pick_tariff,
    tariff_from_dict,
    tariff_to_dict,
    tariffs_from_doc,
)

FULL: dict[str, Any] = {
    "id": "standard", "version": 3, "effective_from": "2026-03-01T00:00:00+01:00",
    "group_id": "visitor", "zone_id": "P1", "currency": "eur", "vat_rate_bp": 2100,
    "prices_include_vat": False,
    "components": {
        "parking": {"block_min": 15, "block_price": 100, "free_min": 15, "daily_max": 2000,
                    "waived_while_charging": True, "resume_after_charging_min": 30},
        "energy": {"per_kwh": 35},
        "charging_time": {"per_min": 2},
        "session_fee": {"amount": 50, "per": "visit"},
        "idle": {"per_min": 25, "grace_min": 15, "cap": 2500,
                 "hours": [{"days": ["mon", "fri"], "from": "08:00", "to": "20:00"},
                           {"days": ["sat"], "from": "22:00", "to": "24:00"}]},
        "overstay": {"max_stay_min": 240, "block_min": 60, "block_price": 500},
        "allowance": {"kwh_per_month": 100.5},
        "discounts": [{"kind": "percent", "value": 10, "applies_to": ["parking", "idle"]},
                      {"kind": "amount", "value": 200, "applies_to": ["all"]}],
    },
}


def test_full_document_parses_and_round_trips():
    t = tariff_from_dict(FULL)
    assert t.effective_from == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert t.currency == "EUR" and t.label == "standard@3"
    assert t.parking and t.parking.daily_max == 2000 and t.parking.waived_while_charging
    assert t.idle and t.idle.hours[0].days == frozenset({0, 4}) and t.idle.hours[1].end is None
    assert t.overstay and t.overstay.block_price == 500 and t.overstay.per_min is None
    assert t.session_fee and t.session_fee.per == "visit"
    assert tariff_from_dict(tariff_to_dict(t)) == t


def test_minimal_document_defaults():
    t = tariff_from_dict({"id": "x", "version": 1, "effective_from": "2026-01-01T00:00:00Z",
                          "currency": "EUR"})
    assert t.group_id == "" and t.zone_id == "" and t.vat_rate_bp == 0
    assert t.prices_include_vat and t.parking is None and t.discounts == ()


def _broken(path: list[str | int], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(FULL)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(("path", "value", "message"), [
    (["components", "parking", "block_min"], 0,
     "tariff.components.parking.block_min: must be a positive integer"),
    (["components", "parking", "block_min"], "15",
     "tariff.components.parking.block_min: must be a positive integer"),
    (["components", "parking", "block_price"], 1.5,
     "tariff.components.parking.block_price: must be a non-negative integer (minor units)"),
    (["components", "parking", "block_price"], KeyError,
     "tariff.components.parking.block_price: is required"),
    (["components", "parking", "waived_while_charging"], "yes",
     "tariff.components.parking.waived_while_charging: must be true or false"),
    (["components", "energy", "per_kwh"], -1,
     "tariff.components.energy.per_kwh: must be a non-negative integer (minor units)"),
    (["components", "idle", "hours", 0, "days", 1], "funday",
     "tariff.components.idle.hours[0].days[1]: must be one of mon..sun"),
    (["components", "idle", "hours", 1, "from"], "25:00",
     'tariff.components.idle.hours[1].from: must be "HH:MM"'),
    (["components", "overstay"], {"max_stay_min": 10},
     "tariff.components.overstay.per_min: is required (or block_min and block_price)"),
    (["components", "discounts", 0, "kind"], "half",
     'tariff.components.discounts[0].kind: must be "percent" or "amount"'),
    (["components", "discounts", 0, "value"], 150,
     "tariff.components.discounts[0].value: must be a percentage between 0 and 100"),
    (["components", "discounts", 1, "applies_to", 0], "coffee",
     "tariff.components.discounts[1].applies_to[0]: must be one of all, parking, energy, "
     "charging_time, session, idle, overstay"),
    (["components", "parkng"], {}, None),
    (["effective_from"], "2026-03-01T00:00:00",
     "tariff.effective_from: must have a UTC offset (e.g. Z or +01:00)"),
    (["effective_from"], "yesterday",
     "tariff.effective_from: must be an ISO 8601 time with an offset"),
    (["version"], KeyError, "tariff.version: is required"),
    (["currency"], "EURO", "tariff.currency: must be a 3-letter ISO 4217 code"),
    (["vat_rate_bp"], 21.0,
     "tariff.vat_rate_bp: must be a non-negative integer (basis points)"),
    (["components"], [], "tariff.components: must be an object"),
])
def test_errors_name_the_field(path, value, message):
    with pytest.raises(FieldError) as info:
        tariff_from_dict(_broken(path, value))
    if message is None:
        assert info.value.path == "tariff.components.parkng"
        assert str(info.value).startswith("tariff.components.parkng: unknown component")
    else:
        assert str(info.value) == message
        assert info.value.path == message.split(":")[0]
    assert isinstance(info.value, ValueError)


def test_file_with_several_versions_and_time_zone():
    v2 = {**FULL, "version": 4, "effective_from": "2026-06-01T00:00:00Z"}
    tariffs, tz = tariffs_from_doc({"time_zone": "Europe/Amsterdam", "tariffs": [FULL, v2]})
    assert tz == "Europe/Amsterdam" and [t.version for t in tariffs] == [3, 4]
    with pytest.raises(FieldError, match=r"^tariffs\[1\]\.version: duplicate"):
        tariffs_from_doc([FULL, FULL])
    with pytest.raises(FieldError, match=r"^tariffs\[0\]\.components\.energy\.per_kwh"):
        tariffs_from_doc([_broken(["components", "energy", "per_kwh"], "x")])


def _t(tid: str, version: int, start: str, group: str = "", zone: str = ""):
    return tariff_from_dict({"id": tid, "version": version, "effective_from": start,
                             "currency": "EUR", "group_id": group, "zone_id": zone})


def test_pick_tariff_effective_dates_and_specificity():
    generic1 = _t("g", 1, "2026-01-01T00:00:00Z")
    generic2 = _t("g", 2, "2026-06-01T00:00:00Z")
    zone_p1 = _t("z", 1, "2026-01-01T00:00:00Z", zone="P1")
    resident = _t("r", 1, "2026-03-01T00:00:00Z", group="resident")
    all_ = [generic2, resident, zone_p1, generic1]
    at = datetime(2026, 4, 1, tzinfo=UTC)
    assert pick_tariff(all_, "visitor", "P2", at) is generic1
    assert pick_tariff(all_, "visitor", "P2", datetime(2026, 6, 1, tzinfo=UTC)) is generic2
    assert pick_tariff(all_, "visitor", "P1", at) is zone_p1
    assert pick_tariff(all_, "resident", "P1", at) is resident  # group beats zone
    assert pick_tariff(all_, "resident", "P1", datetime(2026, 2, 1, tzinfo=UTC)) is zone_p1
    assert pick_tariff(all_, "visitor", "P2", datetime(2025, 1, 1, tzinfo=UTC)) is None


def test_penalties_are_the_fee_dialogs_proposals_and_round_trip():
    doc = {"id": "p", "version": 1, "effective_from": "2026-01-01T00:00:00Z",
           "currency": "EUR", "components": {"penalties": {"idle": 1500, "ice": 5000}}}
    tariff = tariff_from_dict(doc)
    assert (tariff.penalty("idle"), tariff.penalty("ice"), tariff.penalty("overstay")) == (
        1500, 5000, None)
    assert tariff_from_dict(tariff_to_dict(tariff)) == tariff
    hash(tariff)  # still usable as a key
    for bad, where in (({"parking": 100}, "penalties.parking"), ({"idle": -5}, "penalties.idle"),
                       ({"ice": "lots"}, "penalties.ice"), ([], "components.penalties")):
        doc["components"]["penalties"] = bad
        with pytest.raises(FieldError, match=where):
            tariff_from_dict(doc)
