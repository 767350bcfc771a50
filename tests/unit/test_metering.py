from app.domain.energy import session_energy_wh, to_number
from app.domain.metering import readings


def sv(value, measurand=None, **kw):
    d = {"value": value, **kw}
    if measurand:
        d["measurand"] = measurand
    return d


def test_default_measurand_is_the_energy_register():
    (r,) = readings([{"timestamp": "2026-11-21T10:00:00Z", "sampled_value": [sv("1234")]}])
    assert r.energy_wh == 1234 and r.at.year == 2026


def test_kwh_and_kw_are_scaled_and_201_multiplier_applies():
    (r,) = readings([{"timestamp": "2026-11-21T10:00:00Z", "sampled_value": [
        sv("12.5", "Energy.Active.Import.Register", unit="kWh"),
        sv(7.4, "Power.Active.Import", unit_of_measure={"unit": "kW"}),
        sv(3, "Current.Import", unit_of_measure={"unit": "A", "multiplier": 1}),
    ]}])
    assert r.energy_wh == 12_500 and r.power_w == 7_400 and r.current_a == 30


def test_phases_combine_and_totals_win():
    (r,) = readings([{"timestamp": "2026-11-21T10:00:00Z", "sampled_value": [
        sv("2300", "Power.Active.Import", phase="L1"), sv("2300", "Power.Active.Import",
                                                          phase="L2"),
        sv("16", "Current.Import", phase="L1"), sv("15", "Current.Import", phase="L2"),
        sv("0.5", "Current.Import", phase="N"),
        sv("230", "Voltage", phase="L1-N"), sv("400", "Voltage", phase="L1-L2"),
    ]}])
    assert r.power_w == 4600 and r.current_a == 16 and r.voltage_v == 230


def test_unreadable_and_signed_values_are_skipped_not_fatal():
    (r,) = readings([{"timestamp": "garbage", "sampled_value": [
        sv("abc"), sv("SIGNED", format="SignedData"), "not a dict"]}, "not a dict either"])
    assert r.energy_wh is None and r.at is None


def test_ev_side_values_are_not_billed_but_soc_is_kept():
    (r,) = readings([{"timestamp": "2026-11-21T10:00:00Z", "sampled_value": [
        sv("999", location="EV"), sv("64", "SoC", location="EV", unit="Percent")]}])
    assert r.energy_wh is None and r.soc_pct == 64


def test_session_energy_for_lifetime_and_per_session_registers():
    assert session_energy_wh(1_000_000, 1_012_500) == 12_500
    assert session_energy_wh(1_000_000, 4_100) == 4_100  # per-session register
    assert session_energy_wh(None, 800) == 800
    assert session_energy_wh(5, None) is None
    assert to_number("1,5") == 1.5 and to_number(True) is None
