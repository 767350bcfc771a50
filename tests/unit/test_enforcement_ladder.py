"""The repeat-offender ladder (pure): steps by offences in the window, waived ones do not
count, the site setting with errors naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.enforcement import (
    DEFAULT_STEPS,
    Ladder,
    Offence,
    Step,
    StepKind,
    Violation,
    ViolationKind,
    ViolationStatus,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def offence(days_ago: float, status=ViolationStatus.ISSUED, step=StepKind.WARNING):
    return Offence(NOW - timedelta(days=days_ago), step, status)


def test_defaults_warning_fee_ban() -> None:
    ladder = Ladder()
    assert ladder.window_days == 90
    assert ladder.next_step([], NOW) == Step(StepKind.WARNING)
    assert ladder.next_step([offence(1)], NOW) == Step(StepKind.FEE, amount=2500)
    ban = ladder.next_step([offence(1), offence(2)], NOW)
    assert (ban.kind, ban.amount, ban.ban_days) == (StepKind.BAN, 5000, 30)
    assert ladder.next_step([offence(1)] * 7, NOW) == ban  # the last step repeats


def test_only_the_window_and_not_waived_count() -> None:
    ladder = Ladder(window_days=30)
    old, waived = offence(31), offence(1, ViolationStatus.WAIVED)
    assert ladder.count([old, waived], NOW) == 0
    assert ladder.next_step([old, waived], NOW).kind is StepKind.WARNING
    adjusted = offence(1, ViolationStatus.ADJUSTED, StepKind.FEE)
    assert ladder.next_step([adjusted], NOW).kind is StepKind.FEE


def test_level_is_count_and_last_step() -> None:
    ladder = Ladder()
    assert ladder.level([], NOW).clean
    level = ladder.level([offence(5, step=StepKind.WARNING), offence(1, step=StepKind.FEE),
                          offence(200, step=StepKind.BAN)], NOW)
    assert (level.count, level.last_step) == (2, StepKind.FEE)


def test_from_dict_round_trip_and_defaults() -> None:
    assert Ladder.from_dict(None) == Ladder()
    assert Ladder.from_dict({}) == Ladder(DEFAULT_STEPS, 90)
    custom = {"window_days": 30, "steps": [{"kind": "warning"}, {"kind": "warning"},
                                           {"kind": "ban", "ban_days": 7}]}
    ladder = Ladder.from_dict(custom)
    assert ladder.steps[2] == Step(StepKind.BAN, 0, 7)
    assert Ladder.from_dict(ladder.to_dict()) == ladder


@pytest.mark.parametrize(("data", "field"), [
    ({"window_days": 0}, "ladder.window_days"),
    ({"window_days": "90"}, "ladder.window_days"),
    ({"steps": []}, "ladder.steps"),
    ({"steps": [{"kind": "jail"}]}, "ladder.steps[0].kind"),
    ({"steps": [{"kind": "warning"}, {"kind": "fee"}]}, "ladder.steps[1].amount"),
    ({"steps": [{"kind": "fee", "amount": -5}]}, "ladder.steps[0].amount"),
    ({"steps": [{"kind": "fee", "amount": 12.5}]}, "ladder.steps[0].amount"),
    ({"steps": [{"kind": "ban"}]}, "ladder.steps[0].ban_days"),
    ({"steps": [{"kind": "fee", "amount": 1, "ban_days": 3}]}, "ladder.steps[0].ban_days"),
    ({"steps": [{"kind": "warning", "colour": "red"}]}, "ladder.steps[0]"),
    ({"window": 3}, "ladder"),
    ([1, 2], "ladder"),
])
def test_bad_settings_name_the_field(data, field) -> None:
    with pytest.raises(ValueError) as caught:
        Ladder.from_dict(data)
    assert str(caught.value).startswith(field + ":")


def test_violation_of_plate_or_account_and_billable() -> None:
    v = Violation(id=1, kind=ViolationKind.OVERSTAY, at=NOW, step=StepKind.FEE,
                  status=ViolationStatus.ISSUED, plate="AB123", account_id=7, amount=100)
    assert v.of("AB123", None) and v.of("ZZ1", 7) and not v.of("ZZ1", 8)
    assert not v.of("", None)
    assert v.billable
    v.status = ViolationStatus.WAIVED
    assert not v.billable
