"""Billing engine benchmark: bills per second for a month of a 50-bay site.

    .venv/bin/python tests/bench/bench_billing.py --bays 50 --days 31 --seed 1

Generates realistic timelines (site time zone Europe/Amsterdam, March 2026 by default, so
the month holds the spring daylight-saving change): each bay turns over 2-5 stays a day
(short visits, office days, some overnight), about 60 % of the cars charge (one or two
transactions, meter samples every 60 s with a lifetime register, 7-11 kW, some register
resets, SuspendedEV when the battery is full), some stay plugged in idle, some overstay,
a few carry a validation or waiver, a few transactions come from a charger whose clock
is flagged bad. Tariffs: a generic tariff with every component, a second version taking
effect mid-month (sessions are split) and a resident tariff with an allowance.

Prints: the number of stays, samples, and bills/s for compute_bill alone (timelines
already parsed) and for parse + compute (what `gatehouse tariff preview` does per file),
with the median and p99 time per bill.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.domain.billing import compute_bill, timeline_from_dict
from app.domain.tariffs import tariff_from_dict

TZ = ZoneInfo("Europe/Amsterdam")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def tariffs(month_start: datetime) -> list[dict[str, Any]]:
    comps = {
        "parking": {"block_min": 15, "block_price": 100, "free_min": 15, "daily_max": 2500,
                    "waived_while_charging": True, "resume_after_charging_min": 30},
        "energy": {"per_kwh": 39}, "charging_time": {"per_min": 1},
        "session_fee": {"amount": 50},
        "idle": {"per_min": 25, "grace_min": 15, "cap": 3000,
                 "hours": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat"],
                            "from": "07:00", "to": "22:00"}]},
        "overstay": {"max_stay_min": 600, "per_min": 5},
        "discounts": [{"kind": "percent", "value": 5, "applies_to": ["energy"]}],
    }
    v1 = {"id": "std", "version": 1, "effective_from": "2026-01-01T00:00:00Z",
          "currency": "EUR", "vat_rate_bp": 2100, "prices_include_vat": True,
          "components": comps}
    v2 = {**v1, "version": 2, "effective_from": _iso(month_start + timedelta(days=14)),
          "components": {**comps, "energy": {"per_kwh": 42}}}
    res = {**v1, "id": "resident", "group_id": "resident",
           "components": {**comps, "allowance": {"kwh_per_month": 150},
                          "parking": {**comps["parking"], "block_price": 25}}}
    return [v1, v2, res]


def charging(rng: random.Random, tid: str, start: datetime, leave: datetime,
             register: list[float]) -> dict[str, Any]:
    kw = rng.uniform(7.0, 11.0)
    need_kwh = rng.uniform(5, 45)
    full_at = start + timedelta(hours=need_kwh / kw)
    end = min(leave - timedelta(minutes=rng.randint(1, 10)),
              full_at + timedelta(minutes=rng.choice([0, 5, 30, 90, 180])))
    end = max(end, start + timedelta(minutes=5))
    flagged = rng.random() < 0.03
    skew = timedelta(days=-rng.randint(400, 4000)) if flagged else timedelta(0)
    samples, statuses = [], []
    if rng.random() < 0.02:
        register[0] = 0.0  # a register reset (firmware update)
    t = start
    while t <= end:
        samples.append({"at": _iso(t + skew), "received_at": _iso(t + timedelta(seconds=1)),
                        "wh": round(register[0], 1)})
        if t < full_at:
            register[0] += kw * 1000 / 60
        t += timedelta(seconds=60)
    if full_at < end:
        statuses.append({"at": _iso(full_at + skew), "received_at": _iso(full_at),
                         "status": "SuspendedEV"})
    return {"transaction_id": tid, "start": _iso(start + skew), "end": _iso(end + skew),
            "start_received": _iso(start), "end_received": _iso(end),
            "clock_flagged": flagged, "samples": samples, "status": statuses}


def generate(bays: int, days: int, seed: int, month_start: datetime) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    registers = [[rng.uniform(1e6, 5e7)] for _ in range(bays)]
    for bay in range(bays):
        t = month_start + timedelta(hours=rng.uniform(6, 9))
        end_of_month = month_start + timedelta(days=days)
        n = 0
        while t < end_of_month:
            kind = rng.choices(["short", "office", "overnight", "long"], [45, 35, 15, 5])[0]
            minutes = {"short": rng.randint(5, 150), "office": rng.randint(300, 600),
                       "overnight": rng.randint(600, 900),
                       "long": rng.randint(900, 3000)}[kind]
            entry, leave = t, t + timedelta(minutes=minutes)
            doc: dict[str, Any] = {
                "session_id": f"B{bay}-{n}", "entry_at": _iso(entry), "exit_at": _iso(leave),
                "zone": "P1", "group": "resident" if rng.random() < 0.2 else "visitor",
                "plate": f"XX{bay:02d}{n:03d}",
                "allowance_used_kwh_this_month": rng.choice([0, 40, 120, 160]),
                "charging": [], "adjustments": []}
            if rng.random() < 0.6 and minutes > 20:
                start = entry + timedelta(minutes=rng.randint(2, 10))
                doc["charging"].append(charging(rng, f"T{bay}-{n}-1", start, leave,
                                                registers[bay]))
                if rng.random() < 0.1 and minutes > 200:
                    s2 = leave - timedelta(minutes=rng.randint(40, 120))
                    first_end = datetime.fromisoformat(
                        doc["charging"][0]["end_received"].replace("Z", "+00:00"))
                    if s2 > first_end + timedelta(minutes=5):
                        doc["charging"].append(charging(rng, f"T{bay}-{n}-2", s2, leave,
                                                        registers[bay]))
            if rng.random() < 0.05:
                doc["adjustments"].append({"id": f"V{bay}-{n}", "type": "validation",
                                           "component": "parking", "amount": 300})
            if rng.random() < 0.01:
                doc["adjustments"].append({"id": f"W{bay}-{n}", "type": "waiver",
                                           "component": "idle", "reason": "charger fault"})
            out.append(doc)
            n += 1
            t = leave + timedelta(minutes=rng.randint(2, 240))
            if t.astimezone(TZ).hour >= 22 and kind == "short":
                t += timedelta(hours=8)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bays", type=int, default=50)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--month", default="2026-03-01", help="first day (site-local)")
    args = parser.parse_args()
    month_start = datetime.fromisoformat(args.month).replace(tzinfo=TZ).astimezone(UTC)

    t0 = time.perf_counter()
    docs = generate(args.bays, args.days, args.seed, month_start)
    gen_s = time.perf_counter() - t0
    tariff_list = [tariff_from_dict(d) for d in tariffs(month_start)]
    n_tx = sum(len(d["charging"]) for d in docs)
    n_samples = sum(len(c["samples"]) for d in docs for c in d["charging"])
    print(f"site: {args.bays} bays, {args.days} days from {args.month} (Europe/Amsterdam)")
    print(f"generated {len(docs)} stays, {n_tx} charging transactions, "
          f"{n_samples} meter samples in {gen_s:.1f} s")

    t0 = time.perf_counter()
    timelines = [timeline_from_dict(d) for d in docs]
    parse_s = time.perf_counter() - t0

    per_bill: list[float] = []
    totals = 0
    t0 = time.perf_counter()
    for tl in timelines:
        s = time.perf_counter()
        totals += compute_bill(tl, tariff_list, TZ).total
        per_bill.append(time.perf_counter() - s)
    compute_s = time.perf_counter() - t0
    per_bill.sort()
    p99 = per_bill[int(len(per_bill) * 0.99) - 1]

    # determinism: recomputing gives the same bills
    again = sum(compute_bill(tl, tariff_list, TZ).total for tl in timelines[:200])
    first = sum(compute_bill(tl, tariff_list, TZ).total for tl in timelines[:200])
    assert again == first

    print(f"compute_bill only : {len(timelines) / compute_s:9.0f} bills/s "
          f"(median {statistics.median(per_bill) * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us)")
    print(f"parse + compute   : {len(timelines) / (compute_s + parse_s):9.0f} bills/s "
          f"(parsing {parse_s / len(timelines) * 1e6:.0f} us per timeline)")
    print(f"month revenue     : {totals / 100:,.2f} EUR over {len(timelines)} bills")
    return 0


if __name__ == "__main__":
    sys.exit(main())
