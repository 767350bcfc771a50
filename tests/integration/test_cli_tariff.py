"""`gatehouse tariff preview` through app.cli.main on files in tmp_path: a good preview
(the itemized bill as JSON on stdout), a bad field (one line naming it, exit 1, no
traceback), an unreadable file and a file that is not JSON."""

from __future__ import annotations

import json

import pytest

from app.cli import main as cli_main

TARIFF = {
    "time_zone": "Europe/Amsterdam",
    "tariffs": [{
        "id": "standard", "version": 1, "effective_from": "2026-01-01T00:00:00Z",
        "currency": "EUR", "vat_rate_bp": 2100, "prices_include_vat": True,
        "components": {
            "parking": {"block_min": 15, "block_price": 100, "free_min": 15,
                        "daily_max": 2000, "waived_while_charging": True,
                        "resume_after_charging_min": 30},
            "energy": {"per_kwh": 35},
            "session_fee": {"amount": 50},
            "idle": {"per_min": 25, "grace_min": 15, "cap": 2500,
                     "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"],
                                "from": "08:00", "to": "20:00"}]},
        },
    }],
}

TIMELINE = {
    "session_id": "P-1", "entry_at": "2026-03-02T08:00:00Z", "exit_at": "2026-03-02T13:00:00Z",
    "zone": "P1", "group": "visitor", "plate": "AB123C",
    "charging": [{
        "transaction_id": "T1", "start": "2026-03-02T08:10:00Z", "end": "2026-03-02T12:00:00Z",
        "samples": [{"at": "2026-03-02T08:10:00Z", "wh": 100000},
                    {"at": "2026-03-02T09:00:00Z", "wh": 110000},
                    {"at": "2026-03-02T10:00:00Z", "wh": 120500},
                    {"at": "2026-03-02T11:00:00Z", "wh": 120500}]}],
    "adjustments": [{"id": "V1", "type": "validation", "component": "parking", "amount": 100,
                     "reason": "shop"}],
}


def _run(tmp_path, tariff, timeline, *extra):
    tf, tl = tmp_path / "tariff.json", tmp_path / "timeline.json"
    tf.write_text(tariff if isinstance(tariff, str) else json.dumps(tariff), encoding="utf-8")
    tl.write_text(json.dumps(timeline), encoding="utf-8")
    return cli_main(["tariff", "preview", "--tariff", str(tf), "--timeline", str(tl),
                     "--data-dir", str(tmp_path / "data"), *extra])


def test_preview_prints_the_itemized_bill(tmp_path, capsys):
    assert _run(tmp_path, TARIFF, TIMELINE) == 0
    out = capsys.readouterr().out
    bill = json.loads(out)
    # parking 10:30-13:00 (free 15 min; waived 08:10 until charging stopped at 10:00 + 30)
    #   = 150 min = 10 blocks = 1000; energy 20.5 kWh * 35 = 717.5 -> 718; fee 50;
    # idle 10:15-12:00 = 105 min * 25 = 2625, cap 2500 -> -125; validation -100
    # total 4168, VAT inside 4168 * 21/121 = 723.37 -> 723
    assert [(ln["component"], ln["amount"]) for ln in bill["lines"]] == [
        ("parking", 1000), ("energy", 718), ("session", 50), ("idle", 2625), ("idle", -125),
        ("validation", -100)]
    assert bill["lines"][1]["quantity"] == "20.5"
    assert (bill["subtotal"], bill["vat"], bill["total"]) == (3445, 723, 4168)
    assert bill["currency"] == "EUR" and bill["tariff_versions"] == ["standard@1"]


def test_tz_option_overrides_the_file(tmp_path, capsys):
    # idle hours 08:00-20:00 in Asia/Tokyo (UTC+9) = 23:00-11:00Z: idle 10:15-11:00 only
    assert _run(tmp_path, TARIFF, TIMELINE, "--tz", "Asia/Tokyo") == 0
    bill = json.loads(capsys.readouterr().out)
    assert [ln["amount"] for ln in bill["lines"] if ln["component"] == "idle"] == [45 * 25]


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda t, tl: t["tariffs"][0]["components"]["parking"].update(block_min=0),
     "gatehouse: tariffs[0].components.parking.block_min: must be a positive integer"),
    (lambda t, tl: tl["charging"][0]["samples"][2].update(wh="lots"),
     "gatehouse: timeline.charging[0].samples[2].wh: must be a number"),
    (lambda t, tl: tl.pop("entry_at"), "gatehouse: timeline.entry_at: is required"),
])
def test_bad_field_is_named_exit_1(tmp_path, capsys, mutate, message):
    tariff, timeline = json.loads(json.dumps(TARIFF)), json.loads(json.dumps(TIMELINE))
    mutate(tariff, timeline)
    assert _run(tmp_path, tariff, timeline) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines()[-1] == message
    assert "Traceback" not in captured.err


def test_single_tariff_object_names_tariff(tmp_path, capsys):
    one = json.loads(json.dumps(TARIFF["tariffs"][0]))
    one["components"]["parking"]["block_min"] = -5
    assert _run(tmp_path, one, TIMELINE) == 1
    assert ("tariff.components.parking.block_min: must be a positive integer"
            in capsys.readouterr().err)


def test_not_json_and_missing_file(tmp_path, capsys):
    assert _run(tmp_path, "{not json", TIMELINE) == 1
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "Traceback" not in err
    assert cli_main(["tariff", "preview", "--tariff", str(tmp_path / "nope.json"),
                     "--timeline", str(tmp_path / "nope2.json"),
                     "--data-dir", str(tmp_path / "data")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_no_tariff_in_force(tmp_path, capsys):
    late = json.loads(json.dumps(TARIFF))
    late["tariffs"][0]["effective_from"] = "2027-01-01T00:00:00Z"
    assert _run(tmp_path, late, TIMELINE) == 1
    assert "no tariff in force" in capsys.readouterr().err
