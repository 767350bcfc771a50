"""SimCamera: a capture-like thread that keeps only the newest synthetic frame."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from app.domain.site import Camera, CameraRole
from app.sim.camera import SimCamera

LANE = Camera("CAM-ENTRY", "Entry lane camera", CameraRole.LANE, "sim:entry")
BAYS = Camera("CAM-BAY-A", "EV bays camera A", CameraRole.BAY, "sim:bay-a")
SIZE = (640, 360)


def wait_for(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.01)


@pytest.fixture
def lane():
    cam = SimCamera(LANE, fps=30, size=SIZE)
    cam.start()
    yield cam
    cam.stop()


def car_area(frame: np.ndarray) -> np.ndarray:
    """The lower middle of the picture, clear of the timestamp and name overlays."""
    h, w = frame.shape[:2]
    return frame[int(h * 0.3):int(h * 0.9), int(w * 0.2):int(w * 0.8)]


def test_frames_are_produced_by_a_named_thread(lane: SimCamera) -> None:
    wait_for(lambda: lane.frames_produced >= 3)
    frame, at = lane.latest()
    assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8
    assert not frame.flags.writeable  # shared between readers: nobody may draw on it
    assert abs(datetime.now(UTC) - at) < timedelta(seconds=1)
    assert "camera-CAM-ENTRY" in {t.name for t in threading.enumerate()}


def test_only_the_newest_frame_is_kept(lane: SimCamera) -> None:
    wait_for(lambda: lane.frames_produced >= 2)
    _, first_at = lane.latest()
    count = lane.frames_produced
    time.sleep(0.3)
    _, newest_at = lane.latest()
    # Many frames went by; latest() hands out the last one, not a backlog.
    assert lane.frames_produced >= count + 5
    assert newest_at > first_at
    assert datetime.now(UTC) - newest_at < timedelta(seconds=0.2)


def test_a_vehicle_draws_a_plate_and_leaving_clears_it(lane: SimCamera) -> None:
    wait_for(lambda: lane.latest() is not None)
    empty = car_area(lane.latest()[0]).copy()

    lane.set_vehicle("GB-123-X")
    wait_for(lambda: not np.array_equal(car_area(lane.latest()[0]), empty))
    with_car = car_area(lane.latest()[0]).copy()
    yellow = np.all(with_car == (0, 200, 250), axis=2).sum()  # the Dutch plate
    assert yellow > 500

    lane.set_vehicle("ZX-987-B")
    wait_for(lambda: not np.array_equal(car_area(lane.latest()[0]), with_car))
    other = car_area(lane.latest()[0])
    assert np.any(other != with_car)  # a different plate is a different picture

    lane.set_vehicle(None)
    wait_for(lambda: np.array_equal(car_area(lane.latest()[0]), empty))


def test_a_bay_camera_has_a_slot_per_bay() -> None:
    cam = SimCamera(BAYS, fps=30, size=SIZE, bay_labels=("EV 01", "EV 02", "EV 03"))
    assert cam.slots == 3
    with pytest.raises(ValueError):
        cam.set_vehicle("GB-123-X", slot=3)
    cam.start()
    try:
        wait_for(lambda: cam.latest() is not None)
        empty = cam.latest()[0].copy()
        cam.set_vehicle("GB-123-X", slot=2)
        wait_for(lambda: not np.array_equal(cam.latest()[0][200:], empty[200:]))
        changed = np.any(cam.latest()[0] != empty, axis=2)
        columns = np.nonzero(changed[200:].any(axis=0))[0]
        assert columns.min() > SIZE[0] * 2 // 3 - 5  # only the third bay got a car
    finally:
        cam.stop()


def test_offline_camera_stops_producing(lane: SimCamera) -> None:
    wait_for(lambda: lane.frames_produced >= 1)
    lane.set_online(False)
    time.sleep(0.1)
    count = lane.frames_produced
    time.sleep(0.2)
    assert lane.frames_produced == count
    lane.set_online(True)
    wait_for(lambda: lane.frames_produced > count)


def test_stop_joins_the_thread() -> None:
    cam = SimCamera(LANE, fps=15, size=SIZE)
    cam.start()
    wait_for(lambda: cam.frames_produced >= 1)
    cam.stop()
    assert "camera-CAM-ENTRY" not in {t.name for t in threading.enumerate()}
    count = cam.frames_produced
    time.sleep(0.15)
    assert cam.frames_produced == count
    cam.start()  # a stopped camera can be started again
    wait_for(lambda: cam.frames_produced > count)
    cam.stop()
