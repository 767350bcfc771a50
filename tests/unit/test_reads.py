"""ReadService: merging of one vehicle's reads, the confidence threshold, thread hand-off,
evidence and retention. Fakes for the store and the evidence (no database)."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from app.adapters.evidence import EvidenceStore
from app.domain.events import PlateRead
from app.services.reads import ReadService
from tests.helpers.fakes import FakeClock
from tests.helpers.waiting import wait_for


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeStore:
    """Rows in a dict; insert answers at once unless `hold` (then `release()`)."""

    def __init__(self, hold: bool = False) -> None:
        self.rows: dict[int, dict] = {}
        self.hold = hold
        self.held: list[tuple[Future, int]] = []
        self.updates = 0
        self.cleared_before: datetime | None = None

    def insert(self, values, on_id=None):
        new_id = len(self.rows) + 1
        self.rows[new_id] = dict(values)
        fut: Future = Future()
        if self.hold:  # the writer is busy: the job has not run yet
            self.held.append((fut, new_id, on_id))
        else:
            if on_id is not None:
                on_id(new_id)
            fut.set_result(new_id)
        return fut

    def release(self) -> None:
        for fut, new_id, on_id in self.held:
            if on_id is not None:
                on_id(new_id)
            fut.set_result(new_id)
        self.held.clear()

    def update(self, read_id, values):
        rid, row = read_id(), values()
        self.updates += 1
        if rid is not None and row:
            self.rows[rid].update(row)

    async def clear_snapshots(self, before):
        self.cleared_before = before
        return 0


class FakeEvidence:
    def __init__(self, fail: bool = False) -> None:
        self.written: dict[str, object] = {}
        self.fail = fail
        self.n = 0

    def allocate(self, camera_id, plate, at):
        self.n += 1
        return f"evidence/{camera_id}_{plate}_{self.n}.jpg"

    def write(self, rel, image):
        if self.fail:
            raise ValueError("not an image")
        self.written[rel] = image

    def prune(self, before):
        return 0


class Bus:
    def __init__(self) -> None:
        self.events: list[PlateRead] = []
        self.threads: list[int] = []

    def publish(self, event) -> None:
        self.events.append(event)
        self.threads.append(threading.get_ident())


@pytest.fixture
async def parts():
    bus, store, evidence, tick = Bus(), FakeStore(), FakeEvidence(), Tick()
    clock = FakeClock(datetime.now(UTC))
    reads = ReadService(bus, store, evidence, clock, monotonic=tick, retention_days=None)
    await reads.start()
    yield reads, bus, store, evidence, tick, clock
    await reads.stop()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_first_read_published_at_once_repeats_merged(parts):
    reads, bus, store, evidence, tick, _ = parts
    reads.submit("lane-in", "ab-12 cd", 0.7, source="recognizer", image=b"\xff\xd8\xff1")
    await settle()
    assert len(bus.events) == 1
    ev = bus.events[0]
    assert (ev.camera_id, ev.plate, ev.confidence, ev.source) == ("lane-in", "ab-12 cd", 0.7,
                                                                  "recognizer")
    assert ev.read_id == 1 and ev.snapshot == "evidence/lane-in_AB12CD_1.jpg"
    for conf, dt in ((0.9, 1.0), (0.8, 1.5), (0.95, 3.9)):
        tick.now += dt - (tick.now - 1000.0)
        reads.submit("lane-in", "AB12CD", conf, source="recognizer", image=b"\xff\xd8\xff2")
    await wait_for(lambda: len(evidence.written) == 1 and store.updates)
    await settle()
    assert len(bus.events) == 1  # repeats of one passage are not published again
    row = store.rows[1]
    assert row["plate"] == "AB12CD" and row["merged"] == 4
    assert row["confidence"] == 0.95 and row["raw"] == "AB12CD"
    assert reads.recent("lane-in").confidence == 0.95


async def test_window_is_fixed_from_the_first_read(parts):
    reads, bus, _, _, tick, _ = parts
    reads.submit("lane-in", "AB12CD", 0.9, source="sim")
    tick.now += 3.0
    reads.submit("lane-in", "AB12CD", 0.9, source="sim")
    tick.now += 3.0  # 6 s after the first: a new passage, published
    reads.submit("lane-in", "AB12CD", 0.9, source="sim")
    await settle()
    assert [e.read_id for e in bus.events] == [1, 2]


async def test_other_plate_or_camera_is_another_passage(parts):
    reads, bus, store, *_ = parts
    reads.submit("lane-in", "AB12CD", 0.9, source="sim")
    reads.submit("lane-in", "XY99ZZ", 0.9, source="sim")
    reads.submit("lane-out", "AB12CD", 0.9, source="sim")
    reads.submit("lane-in", "--", 0.9, source="sim")  # no plate at all: dropped
    await settle()
    assert [(e.camera_id, e.plate) for e in bus.events] == [
        ("lane-in", "AB12CD"), ("lane-in", "XY99ZZ"), ("lane-out", "AB12CD")]
    assert len(store.rows) == 3


async def test_low_read_published_then_a_sure_one_once(parts):
    reads, bus, *_ = parts
    reads.submit("lane-in", "AB12CD", 0.4, source="isapi")
    await settle()
    reads.submit("lane-in", "AB12CD", 0.5, source="isapi")  # still unsure: nothing new
    reads.submit("lane-in", "AB12CD", 0.8, source="isapi")  # crosses the threshold
    reads.submit("lane-in", "AB12CD", 0.9, source="isapi")  # already told
    await settle()
    assert [e.confidence for e in bus.events] == [0.4, 0.8]
    assert bus.events[0].read_id == bus.events[1].read_id == 1


async def test_percent_confidence_and_camera_time(parts):
    reads, bus, _, _, _, clock = parts
    good = clock.now - timedelta(seconds=2)
    reads.submit("lane-in", "AB12CD", 87, source="itsapi", at=good)
    reads.submit("lane-in", "XY99ZZ", 0.9, source="itsapi", at=clock.now - timedelta(days=3))
    await settle()
    assert bus.events[0].confidence == 0.87 and bus.events[0].at == good
    assert bus.events[1].at == clock.now  # a camera clock days off: ours


async def test_reads_from_another_thread_are_published_on_the_loop(parts):
    reads, bus, *_ = parts
    loop_thread = threading.get_ident()
    frame = np.zeros((48, 64, 3), np.uint8)

    def camera_thread() -> None:
        for i in range(20):
            reads.submit("bay-cam", f"PL{i:03d}", 0.9, source="recognizer", image=frame,
                         box=(1, 2, 30, 10), frame_size=(64, 48))

    worker = threading.Thread(target=camera_thread, name="camera-bay-cam")
    worker.start()
    await asyncio.to_thread(worker.join)
    await wait_for(lambda: len(bus.events) == 20)
    assert set(bus.threads) == {loop_thread}
    assert bus.events[0].box == (1, 2, 30, 10) and bus.events[0].frame_size == (64, 48)
    assert [e.plate for e in bus.events] == [f"PL{i:03d}" for i in range(20)]


async def test_slow_database_publishes_without_read_id():
    bus, store, tick = Bus(), FakeStore(hold=True), Tick()
    reads = ReadService(bus, store, None, monotonic=tick, retention_days=None,
                        publish_wait_s=0.05)
    await reads.start()
    try:
        reads.submit("lane-in", "AB12CD", 0.9, source="sim")
        await settle()
        assert bus.events == []  # waits for the row id...
        await wait_for(lambda: bus.events, within=2)  # ...but not for ever
        assert bus.events[0].read_id is None
        store.release()
        await settle()
        assert len(bus.events) == 1
    finally:
        await reads.stop()


async def test_bad_image_loses_the_snapshot_not_the_read(caplog):
    bus, store, evidence = Bus(), FakeStore(), FakeEvidence(fail=True)
    reads = ReadService(bus, store, evidence, retention_days=None)
    await reads.start()
    try:
        reads.submit("lane-in", "AB12CD", 0.9, source="webhook", image=b"garbage")
        await wait_for(lambda: bus.events and store.rows[1]["snapshot"] == "")
        assert any(r.levelno == logging.WARNING and "not saved" in r.getMessage()
                   for r in caplog.records)
    finally:
        await reads.stop()


async def test_submit_before_start_off_loop_is_dropped_quietly():
    reads = ReadService(Bus(), FakeStore(), None, retention_days=None)
    await asyncio.to_thread(reads.submit, "lane-in", "AB12CD", 0.9, source="sim")
    assert reads.submitted == 0


async def test_evidence_store_writes_and_prunes(tmp_path):
    store = EvidenceStore(tmp_path)
    at = datetime(2026, 11, 21, 18, 5, 12, tzinfo=UTC)
    rel = store.allocate("lane in/1", "AB12CD", at)
    assert rel == "evidence/2026/11/21/lane-in-1_180512_AB12CD.jpg"
    assert store.allocate("lane in/1", "AB12CD", at).endswith("_AB12CD_2.jpg")
    store.write(rel, np.zeros((20, 30, 3), np.uint8))
    assert store.resolve(rel).read_bytes()[:3] == b"\xff\xd8\xff"
    old = store.allocate("cam", "OLD1", at - timedelta(days=100))
    store.write(old, b"\xff\xd8\xff\xe0old")
    with pytest.raises(ValueError):
        store.write(store.allocate("cam", "X1", at), b"not an image")
    with pytest.raises(ValueError):
        store.resolve("../outside.jpg")
    assert store.prune(at - timedelta(days=90)) == 1
    assert not store.resolve(old).exists() and store.resolve(rel).exists()


async def test_start_prunes_in_the_background(tmp_path):
    store, clock = FakeStore(), FakeClock(datetime(2026, 11, 21, tzinfo=UTC))
    evidence = EvidenceStore(tmp_path)
    old = evidence.allocate("cam", "OLD1", clock.now - timedelta(days=91))
    evidence.write(old, b"\xff\xd8\xff\xe0old")
    reads = ReadService(Bus(), store, evidence, clock, retention_days=90)
    await reads.start()
    try:
        await wait_for(lambda: store.cleared_before is not None)
        assert store.cleared_before == clock.now - timedelta(days=90)
        assert not evidence.resolve(old).exists()
    finally:
        await reads.stop()


async def test_sim_traffic_reads_go_through_submit():
    from app.domain.site import Lane, LaneDirection, Site, Zone
    from app.sim.traffic import SimTraffic

    frame = np.zeros((36, 64, 3), np.uint8)

    class Cam:
        def set_vehicle(self, plate, slot=0):
            pass

        def latest(self):
            return (frame, datetime.now(UTC))

    lane = Lane("in", "Entry", "z", LaneDirection.ENTRY, camera_id="cam-in")
    site = Site(name="t", zones=(Zone("z", "Z"),), lanes=(lane,))
    calls: list[tuple] = []
    published: list = []
    traffic = SimTraffic(site, {"cam-in": Cam()}, {}, published.append, seed=1,
                         read_gap_s=(0.0, 0.0), reads=(2, 2), pass_s=(0.0, 0.0),
                         submit=lambda *a, **k: calls.append((a, k)))
    assert await traffic._at_lane(lane, "AB12CD", 0.1)
    assert published == [] and len(calls) == 2
    args, kwargs = calls[0]
    assert args[0] == "cam-in" and kwargs["source"] == "sim" and kwargs["image"] is frame


async def test_after_stop_reads_are_dropped():
    bus = Bus()
    reads = ReadService(bus, FakeStore(), None, retention_days=None)
    await reads.start()
    await reads.stop()
    reads.submit("lane-in", "AB12CD", 0.9, source="sim")
    await settle()
    assert bus.events == [] and reads.submitted == 0
