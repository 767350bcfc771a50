"""app.domain.plates: country formats and position-aware look-alike fixes."""

from __future__ import annotations

import pytest

from app.domain.access import DEFAULT_PLATE_PATTERNS, plate_country
from app.domain.plates import FORMATS, fit_plate, plate_like


@pytest.mark.parametrize(("text", "countries", "plate"), [
    # NL sidecodes, with the separators the OCR saw
    ("GX-512-K", ("NL",), "GX-512-K"),
    ("GX-5I2-K", ("NL",), "GX-512-K"),  # I where a digit belongs
    ("6X-512-K", ("NL",), "GX-512-K"),  # 6 where a letter belongs
    ("12-BDF-3", ("NL",), "12-BDF-3"),
    ("1Z-BDF-3", ("NL",), "12-BDF-3"),
    ("NL GX-512-K", ("NL",), "GX-512-K"),  # the EU band's letters read too
    # DE: district, letters, digits (and the E of an electric car)
    ("B-AB 1234", ("DE",), "B-AB 1234"),
    ("B-AB 12\u04174", ("DE",), "B-AB 124"),  # a Cyrillic look-alike is no digit
    ("M-XY 8O", ("DE",), "M-XY 80"),
    ("D-UV 4", ("DE",), "D-UV 4"),  # Düsseldorf's D is no EU band
    ("HH-AB 123E", ("DE",), "HH-AB 123E"),
    # BE, FR, GB
    ("1-ABC-123", ("BE",), "1-ABC-123"),
    ("I-ABC-I23", ("BE",), "1-ABC-123"),
    ("AB-123-CD", ("FR",), "AB-123-CD"),
    ("A8-I23-CD", ("FR",), "AB-123-CD"),
    ("AB12 CDE", ("GB",), "AB12 CDE"),
    ("AB1Z CDE", ("GB",), "AB12 CDE"),
    ("A812 C0E", ("GB",), "AB12 COE"),
    ("SS55 ABC", ("GB",), "SS55 ABC"),
])
def test_fit_fixes_look_alikes_by_position(text, countries, plate):
    match = fit_plate(text, countries)
    assert match is not None
    assert match.plate == plate
    assert match.normalized == "".join(c for c in plate if c.isalnum())


def test_fixes_are_counted_and_cost():
    exact = fit_plate("GX-512-K", ("NL",))
    fixed = fit_plate("GX-5I2-K", ("NL",))
    assert exact.fixes == 0 and fixed.fixes == 1
    assert fixed.cost > exact.cost


def test_confident_characters_cost_more_to_fix():
    doubtful = fit_plate("GX-5I2-K", ("NL",), [0.9, 0.9, 0.9, 0.1, 0.9, 0.9])
    sure = fit_plate("GX-5I2-K", ("NL",), [0.9, 0.9, 0.9, 0.99, 0.9, 0.9])
    assert doubtful.plate == sure.plate == "GX-512-K"
    assert doubtful.cost < sure.cost


def test_country_is_found_among_all():
    assert fit_plate("AB-123-CD").country == "FR"
    assert fit_plate("1-ABC-123").country == "BE"
    assert fit_plate("AB12 CDE").country == "GB"


def test_grouping_breaks_ties():
    # "12-BDF-3" and "12BD-F3" have the same characters; the read's dashes choose
    assert fit_plate("12-BDF-3", ("NL",)).plate == "12-BDF-3"


@pytest.mark.parametrize("text", ["", "---", "AUTO CENTER", "1234567890123", "ABCDEFG", "中文"])
def test_not_a_plate(text):
    assert fit_plate(text) is None


def test_plate_like():
    assert plate_like("GX-512-K")
    assert not plate_like("AUTO")
    assert not plate_like("AUTOCENTER")
    assert not plate_like("12")
    assert plate_like("MF4")


def test_formats_agree_with_the_access_patterns():
    """Every plate a format makes is one the access rules' default patterns accept."""
    samples = {"L": "B", "D": "7"}
    for country, formats in FORMATS.items():
        for fmt in formats:
            plate = "".join(samples.get(c, "") for c in fmt)
            assert plate_country(plate, DEFAULT_PLATE_PATTERNS), (country, fmt)


def test_home_country_wins_a_close_call():
    # "I-RPU-130" fits DE ("IR-PU 130") as read, BE ("1-RPU-130") with one fix
    assert fit_plate("I-RPU-130").country == "DE"
    assert fit_plate("I-RPU-130", home="BE").plate == "1-RPU-130"
    # but a clear foreign plate stays foreign
    assert fit_plate("AB-123-CD", home="NL").plate == "AB-123-CD"
