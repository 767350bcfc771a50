"""The pure binding rules: which bay a read belongs to, and which plate a session gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.binding import (
    CREDENTIAL_CONFIDENCE,
    CREDENTIAL_INSIDE_CONFIDENCE,
    BayLocator,
    BayRead,
    Bind,
    IssueKind,
    Method,
    Raise,
    Wait,
    charging_elsewhere,
    equal_slots,
    ice_due,
    match,
    parse_slots,
    read_score,
    slot_index,
)
from app.domain.site import Bay, Camera, CameraRole, ChargerConfig, Lane, LaneDirection, Site

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
FRAME = (1280, 720)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def box_at(cx_fraction: float, width: int = 100) -> tuple[int, int, int, int]:
    x = int(FRAME[0] * cx_fraction) - width // 2
    return (x, 500, width, 24)


def site(**camera_settings) -> Site:
    return Site(
        name="t",
        chargers=(ChargerConfig("CP-1", connectors=2), ChargerConfig("CP-2", connectors=2)),
        cameras=(Camera("CAM-ROW", "row", CameraRole.BAY, settings=camera_settings),
                 Camera("CAM-ONE", "single", CameraRole.BAY),
                 Camera("CAM-IN", "entry", CameraRole.LANE),
                 Camera("CAM-SPARE", "spare", CameraRole.BAY)),
        bays=(Bay("B1", "EV 1", "Z", "CP-1", 1, "CAM-ROW"),
              Bay("B2", "EV 2", "Z", "CP-1", 2, "CAM-ROW"),
              Bay("B3", "EV 3", "Z", "CP-2", 1, "CAM-ROW"),
              Bay("B4", "EV 4", "Z", "CP-2", 2, "CAM-ONE")),
        lanes=(Lane("IN", "Entry", "Z", LaneDirection.ENTRY, "CAM-IN"),),
    )


# ---- which bay ----------------------------------------------------------------------------

def test_bays_of_a_camera_are_equal_slots_left_to_right_in_site_order() -> None:
    locator = BayLocator(site())
    assert [b.id for b in locator.bays_of["CAM-ROW"]] == ["B1", "B2", "B3"]
    assert locator.locate("CAM-ROW", box_at(0.1), FRAME).id == "B1"
    assert locator.locate("CAM-ROW", box_at(0.5), FRAME).id == "B2"
    assert locator.locate("CAM-ROW", box_at(0.9), FRAME).id == "B3"
    assert not locator.problems


def test_a_multi_bay_camera_needs_the_box_a_one_bay_camera_does_not() -> None:
    locator = BayLocator(site())
    assert locator.locate("CAM-ROW") is None
    assert locator.locate("CAM-ROW", box_at(0.5), None) is None
    assert locator.locate("CAM-ONE").id == "B4"


def test_lane_cameras_are_not_bay_cameras_and_a_bare_bay_camera_covers_nothing() -> None:
    locator = BayLocator(site())
    assert "CAM-IN" not in locator.cameras
    assert "CAM-SPARE" in locator.cameras
    assert locator.locate("CAM-SPARE", box_at(0.5), FRAME) is None
    assert locator.locate("CAM-IN", box_at(0.5), FRAME) is None


def test_configured_slots_decide_and_a_gap_belongs_to_no_bay() -> None:
    locator = BayLocator(site(slots=[[0.0, 0.2], [0.2, 0.5], [0.7, 1.0]]))
    assert locator.locate("CAM-ROW", box_at(0.15), FRAME).id == "B1"
    assert locator.locate("CAM-ROW", box_at(0.3), FRAME).id == "B2"
    assert locator.locate("CAM-ROW", box_at(0.6), FRAME) is None
    assert locator.locate("CAM-ROW", box_at(0.8), FRAME).id == "B3"


def test_slots_by_bay_id() -> None:
    locator = BayLocator(site(slots={"B1": [0.6, 1.0], "B2": [0.3, 0.6], "B3": [0.0, 0.3]}))
    assert locator.locate("CAM-ROW", box_at(0.1), FRAME).id == "B3"
    assert locator.locate("CAM-ROW", box_at(0.9), FRAME).id == "B1"


@pytest.mark.parametrize("bad", [
    [[0.0, 0.5], [0.5, 1.0]],  # two for three bays
    [[0.0, 0.5], [0.5, 0.4], [0.6, 1.0]],  # x1 before x0
    [[0.0, 0.5], "wide", [0.6, 1.0]],
    {"B1": [0, 0.3]},  # bays missing
    "left to right",
])
def test_bad_slots_fall_back_to_equal_slots_with_a_problem(bad) -> None:
    locator = BayLocator(site(slots=bad))
    assert locator.slots["CAM-ROW"] == equal_slots(3)
    assert locator.problems and "CAM-ROW" in locator.problems[0]
    with pytest.raises(ValueError):
        parse_slots(bad, locator.bays_of["CAM-ROW"])


def test_overlapping_slots_pick_the_nearest_centre() -> None:
    slots = [(0.0, 0.6), (0.4, 1.0)]
    assert slot_index(slots, box_at(0.45), FRAME) == 0
    assert slot_index(slots, box_at(0.55), FRAME) == 1
    assert slot_index(slots, (1180, 0, 100, 10), FRAME) == 1  # centre exactly at the right edge


# ---- the matching rule ----------------------------------------------------------------------

def test_one_plate_in_the_window_binds_with_a_confidence_lowered_by_distance() -> None:
    reads = [BayRead("GX512K", at(-10), 0.9, read_id=7)]
    outcome = match([T0], reads, now=at(1), window_s=120)
    assert isinstance(outcome, Bind)
    assert (outcome.plate, outcome.method, outcome.read_id) == ("GX512K", Method.BAY_ANPR, 7)
    assert outcome.confidence == pytest.approx(0.9 * (1 - 0.5 * 10 / 120), abs=1e-3)
    assert read_score(BayRead("X", at(120), 1.0), [T0], 120) == 0.5
    assert read_score(BayRead("X", at(121), 1.0), [T0], 120) is None


def test_repeated_reads_of_one_plate_are_one_plate() -> None:
    reads = [BayRead("GX512K", at(-30), 0.7), BayRead("GX512K", at(-2), 0.95, read_id=2)]
    outcome = match([T0], reads, now=T0)
    assert isinstance(outcome, Bind) and outcome.read_id == 2


def test_two_different_plates_are_a_conflict() -> None:
    reads = [BayRead("GX512K", at(-10), 0.9), BayRead("KL093T", at(-5), 0.8)]
    outcome = match([T0], reads, now=T0)
    assert isinstance(outcome, Raise) and outcome.kind is IssueKind.CONFLICT
    assert set(outcome.plates) == {"GX512K", "KL093T"}
    assert "GX512K" in outcome.detail


def test_reads_outside_the_window_do_not_count() -> None:
    reads = [BayRead("OLDCAR", at(-300), 0.99)]
    assert match([T0], reads, now=T0, window_s=120) == Wait(at(120))


def test_no_read_waits_until_the_window_closes_then_a_late_read_binds() -> None:
    assert match([T0], [], now=at(30), window_s=120) == Wait(at(120))
    late = [BayRead("GX512K", at(30), 0.9)]
    outcome = match([T0], late, now=at(30), window_s=120)
    assert isinstance(outcome, Bind) and outcome.plate == "GX512K"


def test_several_moments_widen_the_window() -> None:
    # Plugged in at T0, the card tapped three minutes later: a read near either counts.
    moments = [T0, at(180)]
    outcome = match(moments, [BayRead("GX512K", at(250), 0.9)], now=at(250), window_s=120)
    assert isinstance(outcome, Bind)
    assert match(moments, [], now=at(250), window_s=120) == Wait(at(300))


def test_without_a_transaction_there_is_nothing_to_fall_back_on() -> None:
    assert match([T0], [], now=at(500), has_transaction=False, account_plates=["A1"]) is None


def test_fallback_to_the_accounts_only_plate() -> None:
    outcome = match([T0], [], now=at(500), account_plates=["GX512K"])
    assert outcome == Bind("GX512K", Method.CREDENTIAL, CREDENTIAL_CONFIDENCE, None,
                           "the account's plate")


def test_fallback_with_several_plates_takes_the_one_inside() -> None:
    outcome = match([T0], [], now=at(500), account_plates=["V384BG", "V385BG"],
                    inside={"V385BG", "ZZ111Z"})
    assert isinstance(outcome, Bind)
    assert (outcome.plate, outcome.confidence) == ("V385BG", CREDENTIAL_INSIDE_CONFIDENCE)


@pytest.mark.parametrize("inside", [set(), {"V384BG", "V385BG"}])
def test_fallback_with_several_plates_and_not_exactly_one_inside_is_an_issue(inside) -> None:
    outcome = match([T0], [], now=at(500), account_plates=["V384BG", "V385BG"], inside=inside)
    assert isinstance(outcome, Raise) and outcome.kind is IssueKind.NO_PLATE
    assert outcome.plates == ("V384BG", "V385BG")


@pytest.mark.parametrize("plates", [None, []])
def test_no_account_or_no_plate_is_an_issue(plates) -> None:
    outcome = match([T0], [], now=at(500), account_plates=plates)
    assert isinstance(outcome, Raise) and outcome.kind is IssueKind.NO_PLATE


def test_the_cards_plate_read_at_another_bay_is_the_wrong_bay() -> None:
    outcome = match([T0], [], now=at(500), account_plates=["GX512K"],
                    seen_elsewhere={"GX512K": "EV 3"})
    assert isinstance(outcome, Raise) and outcome.kind is IssueKind.WRONG_BAY
    assert outcome.plates == ("GX512K",) and "EV 3" in outcome.detail


def test_charging_elsewhere() -> None:
    # Anna's car read at B1 while her card charges at B2, unbound or bound to her plate.
    assert charging_elsewhere("B1", {"B2": None}, "GX512K") == "B2"
    assert charging_elsewhere("B1", {"B2": "GX512K"}, "GX512K") == "B2"
    # ... a session here too: the car is where it should be.
    assert charging_elsewhere("B1", {"B1": None, "B2": None}, "GX512K") is None
    # A fleet's other car charges at B2: that session has its own car.
    assert charging_elsewhere("B1", {"B2": "V384BG"}, "V385BG") is None
    assert charging_elsewhere("B1", {}, "GX512K") is None


def test_ice_due_after_the_grace() -> None:
    assert not ice_due(T0, at(599), 600)
    assert ice_due(T0, at(600), 600)


def test_one_sure_read_outweighs_unsure_misreads_of_the_same_car():
    from datetime import UTC, datetime, timedelta

    from app.domain.binding import BayRead, Bind, Raise, match

    t0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    reads = [BayRead("GX512K", t0 - timedelta(seconds=5), 0.93, 1),
             BayRead("GX5I2K", t0 - timedelta(seconds=4), 0.41, 2)]
    bound = match([t0], reads, now=t0)
    assert isinstance(bound, Bind) and bound.plate == "GX512K"
    reads.append(BayRead("HN447D", t0 - timedelta(seconds=3), 0.88, 3))
    assert isinstance(match([t0], reads, now=t0), Raise)  # two sure plates: a conflict
