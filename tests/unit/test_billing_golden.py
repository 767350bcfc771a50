"""Golden bills: each rule of app.domain.billing and their overlaps, with the expected
amounts written out by hand (the arithmetic is in the comments). Money in cents."""

from __future__ import annotations

import random
from typing import Any

import pytest

from app.domain.billing import BillingError, compute_bill, timeline_from_dict
from app.domain.tariffs import FieldError, tariff_from_dict

AMS = "Europe/Amsterdam"


def tariff(version: int = 1, effective_from: str = "2026-01-01T00:00:00Z", *,
           vat_rate_bp: int = 0, gross: bool = True, **components: Any) -> dict[str, Any]:
    return {"id": "std", "version": version, "effective_from": effective_from,
            "currency": "EUR", "vat_rate_bp": vat_rate_bp, "prices_include_vat": gross,
            "components": components}


def bill(tariffs: list[dict[str, Any]] | dict[str, Any], timeline: dict[str, Any],
         tz: str = AMS):
    docs = tariffs if isinstance(tariffs, list) else [tariffs]
    return compute_bill(timeline_from_dict(timeline), [tariff_from_dict(d) for d in docs], tz)


def amounts(b, component: str | None = None) -> list[int]:
    return [ln.amount for ln in b.lines if component is None or ln.component == component]


def stay(entry: str, exit_: str, **extra: Any) -> dict[str, Any]:
    return {"entry_at": entry, "exit_at": exit_, **extra}


PARK_15 = {"block_min": 15, "block_price": 100}


# --- parking -----------------------------------------------------------------------------

def test_parking_blocks_after_free_minutes():
    # 10:00-11:20 = 80 min; first 15 free -> 65 min -> ceil(65/15) = 5 blocks * 100 = 500
    b = bill(tariff(parking={**PARK_15, "free_min": 15}),
             stay("2026-01-05T10:00:00Z", "2026-01-05T11:20:00Z"))
    assert amounts(b) == [500]
    assert b.lines[0].quantity == 5 and b.total == 500


def test_stay_within_free_minutes_costs_nothing():
    b = bill(tariff(parking={**PARK_15, "free_min": 15}),
             stay("2026-01-05T10:00:00Z", "2026-01-05T10:14:59Z"))
    assert b.lines == () and b.total == 0


def test_started_minute_counts():
    # 10:00:00-10:15:01 = 15 min 1 s -> 16 started minutes -> 2 blocks = 200
    b = bill(tariff(parking=PARK_15), stay("2026-01-05T10:00:00Z", "2026-01-05T10:15:01Z"))
    assert amounts(b) == [200]


def test_daily_maximum_per_local_day_across_midnight():
    # Amsterdam winter = UTC+1. 10 Jan 20:00 local -> 12 Jan 09:00 local, 60 min @ 300,
    # daily max 2000:
    #   10 Jan 20:00-24:00 = 240 min -> 4 blocks = 1200 (under the cap)
    #   11 Jan whole day   = 1440 min -> 24 blocks = 7200, cap -> -5200
    #   12 Jan 00:00-09:00 = 540 min -> 9 blocks = 2700, cap -> -700
    # total 1200 + 2000 + 2000 = 5200
    b = bill(tariff(parking={"block_min": 60, "block_price": 300, "daily_max": 2000}),
             stay("2026-01-10T19:00:00Z", "2026-01-12T08:00:00Z"))
    assert amounts(b) == [1200, 7200, -5200, 2700, -700]
    assert b.total == 5200
    cap = b.lines[2]
    assert (cap.description, cap.quantity, cap.unit, cap.unit_price, cap.amount) == (
        "daily maximum 20.00 reached on 2026-01-11", 1, "day", 2000, -5200)
    assert b.lines[4].description == "daily maximum 20.00 reached on 2026-01-12"


def test_daily_maximum_on_spring_forward_day_has_23_hours():
    # 29 Mar 2026 (last Sunday of March): 02:00 CET -> 03:00 CEST.
    # 28 Mar 22:00 local (21:00Z) -> 29 Mar 22:00 local (20:00Z): 23 real hours.
    #   28 Mar 22:00-24:00        = 120 min -> 2 blocks * 100 = 200
    #   29 Mar 00:00-22:00 local  = 21 real hours = 1260 min -> 21 blocks = 2100
    # total 2300 (wall clock would say 24 blocks)
    b = bill(tariff(parking={"block_min": 60, "block_price": 100}),
             stay("2026-03-28T21:00:00Z", "2026-03-29T20:00:00Z"))
    assert amounts(b) == [200, 2100]
    # with a daily max of 1500: 200 + (2100 - 600) = 1700
    b = bill(tariff(parking={"block_min": 60, "block_price": 100, "daily_max": 1500}),
             stay("2026-03-28T21:00:00Z", "2026-03-29T20:00:00Z"))
    assert amounts(b) == [200, 2100, -600] and b.total == 1700
    assert b.lines[2].description == "daily maximum 15.00 reached on 2026-03-29"


def test_fall_back_day_has_25_hours():
    # 25 Oct 2026 (last Sunday of October): 03:00 CEST -> 02:00 CET.
    # 25 Oct 00:00 local (24 Oct 22:00Z) -> 26 Oct 00:00 local (25 Oct 23:00Z) = 25 h
    #   -> one local day of 1500 min -> 25 blocks * 100 = 2500
    b = bill(tariff(parking={"block_min": 60, "block_price": 100}),
             stay("2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"))
    assert amounts(b) == [2500]
    assert b.lines[0].description == "parking 2026-10-25: 1500 min"


def test_parking_waived_while_charging_resumes_after_n_minutes():
    # stay 08:00-13:00; charging 08:10-12:00 but energy stops rising at 10:00
    # waived 08:10 -> 10:00 + 30 = 10:30; free 08:00-08:15
    # charged 10:30-13:00 = 150 min -> 10 blocks = 1000
    tl = stay("2026-03-02T08:00:00Z", "2026-03-02T13:00:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-03-02T08:10:00Z",
        "end": "2026-03-02T12:00:00Z",
        "samples": [{"at": "2026-03-02T08:10:00Z", "wh": 100000},
                    {"at": "2026-03-02T09:00:00Z", "wh": 110000},
                    {"at": "2026-03-02T10:00:00Z", "wh": 120500},
                    {"at": "2026-03-02T11:00:00Z", "wh": 120500}]}])
    b = bill(tariff(parking={**PARK_15, "free_min": 15, "waived_while_charging": True,
                             "resume_after_charging_min": 30}), tl)
    assert amounts(b) == [1000]
    assert b.lines[0].description == "parking 2026-03-02: 150 min"


def test_parking_not_waived_when_rule_off():
    # same stay, no waiver: 08:15-13:00 = 285 min -> 19 blocks = 1900
    tl = stay("2026-03-02T08:00:00Z", "2026-03-02T13:00:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-03-02T08:10:00Z",
        "end": "2026-03-02T12:00:00Z"}])
    b = bill(tariff(parking={**PARK_15, "free_min": 15}), tl)
    assert amounts(b) == [1900]


# --- energy ------------------------------------------------------------------------------

def test_energy_with_register_reset_and_half_up_rounding():
    # register 1000 -> 5000 (+4000), reset -> 300 (+300 from zero), -> 2300 (+2000)
    # = 6300 Wh = 6.3 kWh * 35 = 220.5 -> 221 (half up); a duplicated sample is ignored
    samples = [{"at": "2026-02-02T10:00:00Z", "wh": 1000},
               {"at": "2026-02-02T10:30:00Z", "wh": 5000},
               {"at": "2026-02-02T10:30:00Z", "wh": 5000},
               {"at": "2026-02-02T11:00:00Z", "wh": 300},
               {"at": "2026-02-02T11:30:00Z", "wh": "2300"}]
    tl = stay("2026-02-02T09:55:00Z", "2026-02-02T12:00:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-02-02T10:00:00Z",
        "end": "2026-02-02T11:30:00Z", "samples": samples}])
    b = bill(tariff(energy={"per_kwh": 35}), tl)
    assert amounts(b) == [221]
    assert str(b.lines[0].quantity) == "6.3"


def test_energy_never_negative():
    # only falling readings: each drop is a reset: 900 -> 100 (+100) -> 50 (+50) = 150 Wh
    # 0.15 kWh * 30 = 4.5 -> 5
    samples = [{"at": f"2026-02-02T10:0{i}:00Z", "wh": wh} for i, wh in enumerate([900, 100, 50])]
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T11:00:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-02-02T10:00:00Z",
        "end": "2026-02-02T10:05:00Z", "samples": samples}])
    b = bill(tariff(energy={"per_kwh": 30}), tl)
    assert amounts(b) == [5]


def test_allowance_covers_the_rest_of_the_month():
    # 10 kWh charged @ 35 = 350; allowance 100 kWh/month, 95.5 used -> 4.5 kWh covered
    # -> -4.5 * 35 = -157.5 -> -158 (half up away from zero); total 192
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T12:00:00Z",
              allowance_used_kwh_this_month=95.5, charging=[{
                  "transaction_id": "T1", "start": "2026-02-02T10:00:00Z",
                  "end": "2026-02-02T11:00:00Z", "energy_wh": 10000}])
    b = bill(tariff(energy={"per_kwh": 35}, allowance={"kwh_per_month": 100}), tl)
    assert amounts(b) == [350, -158]
    assert b.total == 192 and str(b.allowance_kwh_used) == "4.5"


# --- charging time, session fee, idle ----------------------------------------------------

def test_charging_time_until_suspended_ev_and_session_fee():
    # charging 10:00 -> SuspendedEV at 10:45 (unplug 11:00): 45 min * 2 = 90; fee 50
    tl = stay("2026-02-02T09:50:00Z", "2026-02-02T11:10:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-02-02T10:00:00Z",
        "end": "2026-02-02T11:00:00Z",
        "status": [{"at": "2026-02-02T10:00:00Z", "status": "Charging"},
                   {"at": "2026-02-02T10:45:00Z", "status": "SuspendedEV"}]}])
    b = bill(tariff(charging_time={"per_min": 2}, session_fee={"amount": 50}), tl)
    assert amounts(b) == [90, 50]


def test_session_fee_per_visit_once():
    tl = stay("2026-02-02T09:00:00Z", "2026-02-02T12:00:00Z", charging=[
        {"transaction_id": "A", "start": "2026-02-02T09:10:00Z", "end": "2026-02-02T09:40:00Z"},
        {"transaction_id": "B", "start": "2026-02-02T10:10:00Z", "end": "2026-02-02T10:40:00Z"}])
    assert amounts(bill(tariff(session_fee={"amount": 75, "per": "visit"}), tl)) == [75]
    assert amounts(bill(tariff(session_fee={"amount": 75}), tl)) == [75, 75]


def test_idle_after_grace_with_cap():
    # charging ended 10:00 (explicit), grace 15, unplug 12:00 -> 105 min * 25 = 2625,
    # cap 2500 -> -125
    tl = stay("2026-02-02T09:00:00Z", "2026-02-02T12:30:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-02-02T09:05:00Z",
        "end": "2026-02-02T12:00:00Z", "charging_ended_at": "2026-02-02T10:00:00Z"}])
    b = bill(tariff(idle={"per_min": 25, "grace_min": 15, "cap": 2500}), tl)
    assert amounts(b) == [2625, -125] and b.total == 2500


def test_idle_only_inside_scheduled_hours():
    # Mon 2 Feb 2026, hours 08:00-20:00 local (07:00-19:00Z). Charging ended 18:00Z,
    # grace 0, unplug 20:00Z -> only 18:00-19:00Z counts = 60 min * 10 = 600
    tl = stay("2026-02-02T17:00:00Z", "2026-02-02T20:30:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-02-02T17:00:00Z",
        "end": "2026-02-02T20:00:00Z", "charging_ended_at": "2026-02-02T18:00:00Z"}])
    hours = [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "20:00"}]
    b = bill(tariff(idle={"per_min": 10, "hours": hours}), tl)
    assert amounts(b) == [600]
    # Saturday 7 Feb, same times: outside the weekday hours -> no idle line
    tl_sat = {**tl, "entry_at": "2026-02-07T17:00:00Z", "exit_at": "2026-02-07T20:30:00Z",
              "charging": [{"transaction_id": "T1", "start": "2026-02-07T17:00:00Z",
                            "end": "2026-02-07T20:00:00Z",
                            "charging_ended_at": "2026-02-07T18:00:00Z"}]}
    assert amounts(bill(tariff(idle={"per_min": 10, "hours": hours}), tl_sat)) == []


def test_idle_hours_on_spring_forward_night():
    # hours 00:00-06:00 local on Sunday 29 Mar 2026 = 28 Mar 23:00Z .. 29 Mar 04:00Z
    # (the 02:00-03:00 hour does not exist): 5 real hours = 300 min * 1 = 300
    tl = stay("2026-03-28T22:00:00Z", "2026-03-29T07:00:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-03-28T22:00:00Z",
        "end": "2026-03-29T06:00:00Z", "charging_ended_at": "2026-03-28T23:00:00Z"}])
    hours = [{"days": ["sun"], "from": "00:00", "to": "06:00"}]
    assert amounts(bill(tariff(idle={"per_min": 1, "hours": hours}), tl)) == [300]


# --- overstay ----------------------------------------------------------------------------

def test_overstay_per_minute_even_while_charging():
    # max stay 120 min: entry 10:00, exit 13:30 -> 12:00-13:30 = 90 min * 10 = 900,
    # parking waived (charging the whole time): 0
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T13:30:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-02-02T10:00:00Z",
        "end": "2026-02-02T13:30:00Z"}])
    b = bill(tariff(parking={**PARK_15, "waived_while_charging": True},
                    overstay={"max_stay_min": 120, "per_min": 10}), tl)
    assert [(ln.component, ln.amount) for ln in b.lines] == [("overstay", 900)]


def test_overstay_blocks_and_group_max_stay():
    # group max stay 60 (timeline) beats the tariff's 120: 11:00-13:30 = 150 min
    # -> ceil(150/60) = 3 blocks * 500 = 1500
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T13:30:00Z", max_stay_min=60)
    b = bill(tariff(overstay={"max_stay_min": 120, "block_min": 60, "block_price": 500}), tl)
    assert amounts(b) == [1500]


# --- tariff versions ---------------------------------------------------------------------

def test_tariff_change_splits_the_session():
    # v1 until 1 Jun 12:00Z: 60 min @ 100, 30/kWh; v2 after: 60 min @ 200, 40/kWh
    # parking 10:00-12:00 under v1 = 2 blocks = 200; 12:00-14:30 under v2 = 3 blocks = 600
    # energy: +5 kWh at 11:00 (v1) = 150; +5 kWh at 13:00 (v2) = 200
    v1 = tariff(1, parking={"block_min": 60, "block_price": 100}, energy={"per_kwh": 30})
    v2 = tariff(2, "2026-06-01T12:00:00Z", parking={"block_min": 60, "block_price": 200},
                energy={"per_kwh": 40})
    tl = stay("2026-06-01T10:00:00Z", "2026-06-01T14:30:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-06-01T10:00:00Z",
        "end": "2026-06-01T13:30:00Z",
        "samples": [{"at": "2026-06-01T10:00:00Z", "wh": 0},
                    {"at": "2026-06-01T11:00:00Z", "wh": 5000},
                    {"at": "2026-06-01T13:00:00Z", "wh": 10000}]}])
    b = bill([v1, v2], tl)
    assert [(ln.component, ln.tariff, ln.amount) for ln in b.lines] == [
        ("parking", "std@1", 200), ("parking", "std@2", 600),
        ("energy", "std@1", 150), ("energy", "std@2", 200)]
    assert b.tariff_versions == ("std@1", "std@2") and b.total == 1150


def test_group_specific_tariff_wins():
    generic = tariff(parking={"block_min": 60, "block_price": 100})
    resident = {**tariff(parking={"block_min": 60, "block_price": 10}), "id": "res",
                "group_id": "resident"}
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T12:00:00Z", group="resident")
    assert amounts(bill([generic, resident], tl)) == [20]
    assert amounts(bill([generic, resident], {**tl, "group": "visitor"})) == [200]


def test_no_tariff_in_force_is_an_error():
    with pytest.raises(BillingError):
        bill(tariff(effective_from="2027-01-01T00:00:00Z", parking=PARK_15),
             stay("2026-02-02T10:00:00Z", "2026-02-02T12:00:00Z"))


# --- clock flagged -----------------------------------------------------------------------

def test_clock_flagged_uses_receive_times():
    # the charger's clock says 2000-01-01; receive times: start 10:00, samples
    # 10:00 (0) / 10:40 (8000 Wh), end 11:00. Energy 8 kWh * 30 = 240;
    # charging ended 10:40 (flat after? no later sample -> transaction end 11:00)
    # charging time 10:00-11:00 = 60 min * 1 = 60
    tl = stay("2026-02-02T09:30:00Z", "2026-02-02T11:30:00Z", charging=[{
        "transaction_id": "T1", "clock_flagged": True,
        "start": "2000-01-01T00:00:00Z", "start_received": "2026-02-02T10:00:00Z",
        "end": "2000-01-01T01:00:00Z", "end_received": "2026-02-02T11:00:00Z",
        "samples": [{"at": "2000-01-01T00:00:00Z", "received_at": "2026-02-02T10:00:00Z",
                     "wh": 0},
                    {"at": "2000-01-01T00:40:00Z", "received_at": "2026-02-02T10:40:00Z",
                     "wh": 8000}]}])
    b = bill(tariff(energy={"per_kwh": 30}, charging_time={"per_min": 1}), tl)
    assert amounts(b) == [240, 60]


# --- discounts, waivers, VAT, idempotence ------------------------------------------------

def test_discount_then_waiver_then_validation():
    # parking 10:00-12:00 = 8 blocks = 800; energy 10 kWh * 30 = 300
    # tariff discount 10 % of parking: -80 (parking left 720)
    # validation V1 amount 200 on parking: -200 (parking left 520)
    # waiver W1 energy (no amount = all): -300
    # total 800 + 300 - 80 - 200 - 300 = 520
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T12:00:00Z",
              charging=[{"transaction_id": "T1", "start": "2026-02-02T10:00:00Z",
                         "end": "2026-02-02T10:30:00Z", "energy_wh": 10000}],
              adjustments=[{"id": "W1", "type": "waiver", "component": "energy",
                            "reason": "charger fault"},
                           {"id": "V1", "type": "validation", "component": ["parking"],
                            "amount": 200}])
    t = tariff(parking=PARK_15, energy={"per_kwh": 30},
               discounts=[{"kind": "percent", "value": 10, "applies_to": ["parking"]}])
    b = bill(t, tl)
    assert [(ln.component, ln.amount) for ln in b.lines] == [
        ("parking", 800), ("energy", 300), ("discount", -80), ("validation", -200),
        ("waiver", -300)]
    assert b.total == 520


def test_adjustment_never_below_zero():
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T10:30:00Z",
              adjustments=[{"id": "V1", "type": "validation", "amount": 5000}])
    b = bill(tariff(parking=PARK_15), tl)  # 2 blocks = 200, validation capped at -200
    assert amounts(b) == [200, -200] and b.total == 0


def test_vat_gross_and_net():
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T12:30:00Z")  # 10 blocks = 1000
    # gross: VAT inside = 1000 * 21/121 = 173.55 -> 174; net part 826; total 1000
    g = bill(tariff(vat_rate_bp=2100, parking=PARK_15), tl)
    assert (g.subtotal, g.vat, g.total) == (826, 174, 1000)
    # net: VAT on top = 1000 * 21 % = 210; total 1210
    n = bill(tariff(vat_rate_bp=2100, gross=False, parking=PARK_15), tl)
    assert (n.subtotal, n.vat, n.total) == (1000, 210, 1210)
    assert n.vat_by_rate == ((2100, 1000, 210),)


def full_timeline() -> dict[str, Any]:
    return stay("2026-03-28T20:00:00Z", "2026-03-29T09:00:00Z", charging=[
        {"transaction_id": "T1", "start": "2026-03-28T20:05:00Z",
         "end": "2026-03-29T02:00:00Z",
         "samples": [{"id": f"s{i}", "at": f"2026-03-28T2{i}:00:00Z", "wh": 1000 * i * i}
                     for i in range(4)]}],
        adjustments=[{"id": "V2", "type": "validation", "percent": 50, "component": "parking"},
                     {"id": "V1", "type": "validation", "amount": 100}])


FULL_TARIFF = tariff(vat_rate_bp=2100,
                     parking={"block_min": 30, "block_price": 150, "daily_max": 1200,
                              "waived_while_charging": True, "resume_after_charging_min": 20},
                     energy={"per_kwh": 39}, session_fee={"amount": 50},
                     idle={"per_min": 20, "grace_min": 30, "cap": 2000},
                     overstay={"max_stay_min": 600, "per_min": 5})


def test_replay_of_the_same_events_changes_nothing():
    base = bill(FULL_TARIFF, full_timeline())
    doubled = full_timeline()
    doubled["charging"] = doubled["charging"] * 2
    doubled["charging"][0]["samples"] = doubled["charging"][0]["samples"] * 2
    doubled["adjustments"] = doubled["adjustments"] * 2
    assert bill(FULL_TARIFF, doubled) == base
    shuffled = full_timeline()
    random.Random(7).shuffle(shuffled["charging"][0]["samples"])
    shuffled["adjustments"].reverse()
    assert bill(FULL_TARIFF, shuffled) == base
    assert base.total > 0


def test_late_offline_transaction_recomputes():
    # without the transaction: 10:00-13:00 = 12 blocks = 1200
    # the late transaction 10:00-12:00 waives parking until 12:00 -> 4 blocks = 400
    # plus 6 kWh * 35 = 210
    t = tariff(parking={**PARK_15, "waived_while_charging": True}, energy={"per_kwh": 35})
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T13:00:00Z")
    assert bill(t, tl).total == 1200
    tl["charging"] = [{"transaction_id": "OFF-1", "start": "2026-02-02T10:00:00Z",
                       "end": "2026-02-02T12:00:00Z", "energy_wh": 6000}]
    assert amounts(bill(t, tl)) == [400, 210]


def test_car_still_inside_is_billed_up_to_now():
    b = bill(tariff(parking=PARK_15), {"entry_at": "2026-02-02T10:00:00Z",
                                        "now": "2026-02-02T10:40:00Z"})
    assert amounts(b) == [300] and b.warnings


def test_overlap_overnight_charge_daily_max_overstay_and_validations():
    # Site-local: entry Sat 28 Mar 21:00 (20:00Z), exit Sun 29 Mar 11:00 CEST (09:00Z),
    # across the spring-forward night. Charging 20:05Z-02:00Z; the register rises at every
    # sample (0, 1000, 4000, 9000 Wh), none flat after -> charging ends at the transaction
    # end 02:00Z; parking waived 20:05Z -> 02:20Z (+20 min).
    #   parking 28 Mar: 20:00-20:05Z = 5 min -> 1 block * 150 = 150
    #   parking 29 Mar: 02:20-09:00Z = 400 min -> ceil(400/30) = 14 blocks = 2100,
    #                   daily max 1200 -> -900
    #   energy 9 kWh * 39 = 351; session fee 50
    #   idle: from 02:00 + 30 grace = 02:30Z, after the unplug at 02:00Z -> none
    #   overstay: after 600 min = 06:00Z -> 09:00Z = 180 min * 5 = 900
    #   V1 100 on all: taken from parking first (parking left 1350 - 100 = 1250)
    #   V2 50 % of parking left: 625
    # total 150 + 2100 - 900 + 351 + 50 + 900 - 100 - 625 = 1926
    # VAT inside (21 %): 1926 * 21/121 = 334.26 -> 334; subtotal 1592
    b = bill(FULL_TARIFF, full_timeline())
    assert [(ln.component, ln.amount) for ln in b.lines] == [
        ("parking", 150), ("parking", 2100), ("parking", -900), ("energy", 351),
        ("session", 50), ("overstay", 900), ("validation", -100), ("validation", -625)]
    assert (b.subtotal, b.vat, b.total) == (1592, 334, 1926)
    assert b.lines[2].description == "daily maximum 12.00 reached on 2026-03-29"


def test_waiver_after_the_bill_recomputes():
    t = tariff(parking=PARK_15, idle={"per_min": 10})
    tl = stay("2026-02-02T10:00:00Z", "2026-02-02T11:00:00Z", charging=[{
        "transaction_id": "T1", "start": "2026-02-02T10:00:00Z",
        "end": "2026-02-02T10:50:00Z", "charging_ended_at": "2026-02-02T10:20:00Z"}])
    # parking 4 blocks = 400; idle 10:20-10:50 = 30 min * 10 = 300
    assert bill(t, tl).total == 700
    tl["adjustments"] = [{"id": "W-7", "type": "waiver", "component": "idle",
                          "reason": "charger reported a fault"}]
    assert amounts(bill(t, tl)) == [400, 300, -300]


def test_charging_lines_name_the_bay_when_the_timeline_says_where():
    charging = {"transaction_id": "12", "start": "2026-01-05T10:00:00Z",
                "end": "2026-01-05T11:00:00Z", "energy_wh": 10000}
    t = tariff(energy={"per_kwh": 30})
    named = bill(t, stay("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z",
                         charging=[{**charging, "where": "EV 01"}]))
    plain = bill(t, stay("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z",
                         charging=[charging]))
    assert [ln.description for ln in named.lines] == ["energy at EV 01 (session 12)"]
    assert [ln.description for ln in plain.lines] == ["energy 12"]
    assert named.total == plain.total == 300
    with pytest.raises(FieldError, match=r"charging\[0\]\.where"):
        bill(t, stay("2026-01-05T10:00:00Z", "2026-01-05T11:00:00Z",
                     charging=[{**charging, "where": 7}]))
