"""RecognitionWorker: one 'recognizer' thread, round-robin, rate limit, newest frame only."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from app.domain.site import Camera, CameraRole
from app.services.recognition import RecognitionWorker, recognizer_on


@dataclass
class Cand:
    plate: str
    confidence: float
    box: tuple[int, int, int, int] = (10, 20, 100, 25)


class FakeFeed:
    def __init__(self, cam_id: str, **settings):
        self.camera = Camera(cam_id, cam_id, CameraRole.LANE, settings=settings)
        self.frame = np.zeros((72, 128, 3), np.uint8)
        self.at = datetime(2026, 1, 1, tzinfo=UTC)
        self.calls = 0

    def new_frame(self, seconds: int = 1) -> None:
        self.frame = np.zeros((72, 128, 3), np.uint8)
        self.at = datetime(2026, 1, 1, 0, 0, seconds, tzinfo=UTC)

    def latest(self):
        self.calls += 1
        return (self.frame, self.at)


class FakeReader:
    def __init__(self, country, plates=None):
        self.country = country
        self.plates = list(plates or [Cand("GX-512-K", 0.9)])
        self.calls: list[tuple[str, object]] = []
        self.threads: set[str] = set()
        self.fail = False

    def read(self, image, roi=None):
        self.threads.add(threading.current_thread().name)
        self.calls.append((self.country, roi))
        if self.fail:
            raise RuntimeError("boom")
        return self.plates


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def _worker(feeds, submits, readers, clock=None, **kw):
    def make_reader(country):
        readers[country] = FakeReader(country)
        return readers[country]

    def submit(camera_id, plate, confidence, **kwargs):
        submits.append((camera_id, plate, confidence, kwargs))

    return RecognitionWorker(lambda: feeds, submit, make_reader=make_reader,
                             clock=clock or Clock(), **kw)


def test_recognizer_on_setting():
    assert recognizer_on({"recognizer": "on"}) and recognizer_on({"recognizer": True})
    assert not recognizer_on({}) and not recognizer_on({"recognizer": "off"})
    assert not recognizer_on(None)


def test_only_cameras_with_the_recognizer_on_round_robin():
    a = FakeFeed("a", recognizer="on", roi=[0.1, 0.2, 0.5, 0.5], country="nl")
    b = FakeFeed("b", recognizer="on")
    off = FakeFeed("c", recognizer="off")
    submits, readers = [], {}
    w = _worker([a, b, off], submits, readers)
    assert w.step() and w.step()
    assert not w.step()  # both read; their frames are not new
    assert [s[0] for s in submits] == ["a", "b"]
    assert off.calls == 0
    _cam, plate, conf, kw = submits[0]
    assert (plate, conf, kw["source"]) == ("GX-512-K", 0.9, "recognizer")
    assert kw["at"] == a.at and kw["image"] is a.frame
    assert kw["box"] == (10, 20, 100, 25) and kw["frame_size"] == (128, 72)
    assert readers["NL"].calls == [("NL", [0.1, 0.2, 0.5, 0.5])]  # country, roi per camera
    assert readers[None].calls == [(None, None)]


def test_rate_limit_per_camera_and_newest_frame_only():
    clock = Clock()
    a = FakeFeed("a", recognizer="on", recognizer_fps=2)
    submits, readers = [], {}
    w = _worker([a], submits, readers, clock=clock)
    assert w.step()
    a.new_frame(1)
    assert not w.step()  # a new frame, but within 1/2 s of the last read
    clock.t += 0.5
    assert w.step()
    clock.t += 5
    assert not w.step()  # due, but the same frame as last time
    assert len(submits) == 2


def test_low_confidence_is_dropped_and_all_plates_of_a_frame_go():
    a = FakeFeed("a", recognizer="on")
    submits, readers = [], {}
    w = _worker([a], submits, readers, min_confidence=0.5)
    w._readers[None] = FakeReader(None, [Cand("AB-123-CD", 0.8, (1, 2, 3, 4)),
                                         Cand("1-ABC-123", 0.7, (50, 2, 3, 4)),
                                         Cand("XX", 0.2)])
    assert w.step()
    assert [(s[1], s[3]["box"]) for s in submits] == [("AB-123-CD", (1, 2, 3, 4)),
                                                     ("1-ABC-123", (50, 2, 3, 4))]


def test_a_failing_reader_is_logged_once_and_recovery_once(caplog):
    clock = Clock()
    a = FakeFeed("a", recognizer="on")
    submits, readers = [], {}
    w = _worker([a], submits, readers, clock=clock)
    reader = FakeReader(None)
    reader.fail = True
    w._readers[None] = reader
    for i in range(3):
        a.new_frame(i)
        clock.t += 1
        assert w.step()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "boom" in warnings[0].getMessage()
    reader.fail = False
    a.new_frame(9)
    clock.t += 1
    w.step()
    assert any("works again" in r.getMessage() for r in caplog.records)
    assert len(submits) == 1


def test_thread_named_recognizer_reads_and_stops():
    feeds = [FakeFeed("a", recognizer="on", recognizer_fps=20),
             FakeFeed("b", recognizer="on", recognizer_fps=20)]
    submits, readers = [], {}

    def make_reader(country):
        readers[country] = FakeReader(country)
        return readers[country]

    done = threading.Event()

    def submit(camera_id, plate, confidence, **kw):
        submits.append(camera_id)
        if len(submits) >= 6:
            done.set()

    w = RecognitionWorker(feeds, submit, make_reader=make_reader, idle_s=0.005)
    w.start()
    try:
        n = 0
        while not done.is_set() and n < 400:
            for i, f in enumerate(feeds):
                f.new_frame(n * 2 + i)
            time.sleep(0.01)
            n += 1
        assert done.is_set()
    finally:
        w.stop()
    assert not w.running
    assert readers[None].threads == {"recognizer"}
    assert {"a", "b"} <= set(submits)
    assert w.stats()["a"].frames >= 1
