"""The ANPR push receiver on 127.0.0.1: recorded camera bodies posted by a real aiohttp
client arrive at a real ReadService writing to a real SQLite file, with evidence JPEGs."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path

import aiohttp
import pytest

from app.adapters.camera.push_server import PushServer
from app.adapters.db.database import database
from app.adapters.db.read_repo import SqlReadStore
from app.adapters.evidence import EvidenceStore
from app.domain.events import PlateRead
from app.domain.site import Camera, CameraRole, Site
from app.services.bus import EventBus
from app.services.reads import ReadService
from tests.helpers.waiting import wait_for

FIXTURES = Path(__file__).parents[1] / "fixtures" / "anpr"
MULTIPART = "multipart/form-data; boundary=boundary"

SITE = Site(name="Test", cameras=(
    Camera("lane-in", "Entry", CameraRole.LANE, "rtsp://10.0.0.21/stream",
           settings={"push_token": "s3cret"}),
    Camera("its-cam", "Exit", CameraRole.LANE, "rtsp://10.0.0.22/stream",
           settings={"push_token": "tok2", "device_id": "7J0D2F4PAZ12345"}),
    Camera("open-cam", "Loopback, no token", CameraRole.BAY, "sim:",
           settings={"ip": "127.0.0.1", "device_id": "OPEN-CAM-1"}),
    Camera("locked-cam", "No token, elsewhere", CameraRole.BAY, "rtsp://10.9.9.9/s"),
))


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def basic(password: str, user: str = "admin") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
async def rig(tmp_path):
    async with database(f"sqlite:///{(tmp_path / 'reads.db').as_posix()}") as writer:
        bus = EventBus()
        events: list[PlateRead] = []
        bus.subscribe(events.append, PlateRead)
        store = SqlReadStore(writer)
        evidence = EvidenceStore(tmp_path)
        reads = ReadService(bus, store, evidence, retention_days=None)
        await reads.start()
        server = PushServer(reads.submit, SITE, "127.0.0.1", 0, max_body=256 * 1024)
        await server.start()
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as http:
                yield http, events, store, evidence, server
        finally:
            await server.stop()
            await reads.stop()


async def test_isapi_multipart_read_stored_with_evidence(rig):
    http, events, store, evidence, _ = rig
    async with http.post("/anpr/isapi/lane-in?token=s3cret", data=body("isapi_anpr_multipart.bin"),
                         headers={"Content-Type": MULTIPART}) as resp:
        assert resp.status == 200
    await wait_for(lambda: events)
    ev = events[0]
    assert (ev.camera_id, ev.plate, ev.source) == ("lane-in", "AB123CD", "isapi")
    assert ev.confidence == pytest.approx(0.98)
    assert ev.box == (430, 275, 106, 65) and ev.frame_size == (640, 480)
    rows = await store.latest("lane-in")
    assert len(rows) == 1 and rows[0]["id"] == ev.read_id
    assert rows[0]["plate"] == "AB123CD" and rows[0]["snapshot"] == ev.snapshot
    path = evidence.resolve(ev.snapshot)
    await wait_for(path.exists)
    assert path.read_bytes()[:3] == b"\xff\xd8\xff"


async def test_isapi_basic_auth_json_and_heartbeat(rig):
    http, events, *_ = rig
    async with http.post("/anpr/isapi/lane-in", data=body("isapi_anpr.json"),
                         headers={"Content-Type": "application/json", **basic("s3cret")}) as r:
        assert r.status == 200
    async with http.post("/anpr/isapi/lane-in", data=body("isapi_heartbeat.xml"),
                         headers={"Content-Type": "application/xml", **basic("s3cret")}) as r:
        assert r.status == 200
    async with http.post("/anpr/isapi/lane-in", data=body("isapi_vmd.xml"),
                         headers={"Content-Type": "application/xml", **basic("s3cret")}) as r:
        assert r.status == 200
    await wait_for(lambda: events)
    await asyncio.sleep(0.1)
    assert [e.plate for e in events] == ["WX1234A"]


async def test_itsapi_by_device_id_and_keepalive(rig):
    http, events, store, evidence, _ = rig
    async with http.post("/NotificationInfo/TollgateInfo", data=body("itsapi_tollgate.json"),
                         headers={"Content-Type": "application/json", **basic("tok2")}) as r:
        assert r.status == 200
        assert (await r.json())["Result"] is True
    await wait_for(lambda: events)
    assert (events[0].camera_id, events[0].plate, events[0].source) == ("its-cam", "ITS123",
                                                                        "itsapi")
    await wait_for(lambda: evidence.resolve(events[0].snapshot).exists())
    for path in ("/NotificationInfo/KeepAlive",
                 "/anpr/itsapi/its-cam/NotificationInfo/KeepAlive"):
        async with http.post(path, data=body("itsapi_keepalive.json"),
                             headers={"Content-Type": "application/json", **basic("tok2")}) as r:
            assert r.status == 200
            assert await r.json() == {"Result": True, "Message": "OK"}
    assert len(await store.latest()) == 1


async def test_webhook_bearer(rig):
    http, events, *_ = rig
    async with http.post("/anpr/webhook/lane-in", data=body("webhook.json"),
                         headers={"Authorization": "Bearer s3cret"}) as r:
        assert r.status == 200
        assert await r.json() == {"ok": True, "plate": "AB123C"}
    await wait_for(lambda: events)
    assert events[0].plate == "AB-123-C" and events[0].source == "webhook"


async def test_token_less_camera_only_from_its_own_address(rig):
    http, events, *_ = rig
    async with http.post("/anpr/webhook/open-cam", json={"plate": "OPEN1"}) as r:
        assert r.status == 200
    async with http.post("/anpr/webhook/locked-cam", json={"plate": "LOCK1"}) as r:
        assert r.status == 401
    await wait_for(lambda: events)
    assert [e.plate for e in events] == ["OPEN1"]


async def test_refusals(rig, caplog):
    http, events, store, _, server = rig
    cases = [
        ("/anpr/webhook/lane-in?token=wrong", {"plate": "A1"}, 401),
        ("/anpr/webhook/lane-in", {"plate": "A1"}, 401),
        ("/anpr/webhook/nope?token=s3cret", {"plate": "A1"}, 404),
        ("/anpr/webhook/lane-in?token=s3cret", {"plate": ""}, 400),
    ]
    for path, doc, status in cases:
        async with http.post(path, json=doc) as r:
            assert r.status == status, path
            assert (await r.json())["ok"] is False
    async with http.post("/anpr/webhook/lane-in?token=s3cret", data=b"{broken") as r:
        assert r.status == 400
        assert "not valid JSON" in (await r.json())["error"]
    async with http.post("/anpr/isapi/lane-in?token=s3cret", data=b"<EventNotificationAlert>",
                         headers={"Content-Type": "text/xml"}) as r:
        assert r.status == 400
    async with http.post("/NotificationInfo/TollgateInfo", data=body("itsapi_tollgate.json")
                         .replace(b"7J0D2F4PAZ12345", b"SOMEONE-ELSE")) as r:
        assert r.status == 404
    big = json.dumps({"plate": "A1", "image": "A" * (300 * 1024)}).encode()
    async with http.post("/anpr/webhook/lane-in?token=s3cret", data=big) as r:
        assert r.status == 413
    # The same refusal again within the minute: no second WARNING.
    async with http.post("/anpr/webhook/lane-in?token=wrong", json={"plate": "A1"}) as r:
        assert r.status == 401
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("401 bad or missing token for lane-in" in w for w in warnings) == 1
    await asyncio.sleep(0.1)
    assert events == [] and await store.latest() == []
    assert server.rejected == 9


async def test_ping_and_free_port(rig):
    http, *_, server = rig
    assert server.port > 0
    async with http.get("/anpr/ping") as r:
        assert r.status == 200


async def test_port_in_use_is_a_warning_unless_required(rig, caplog):
    *_, server = rig
    second = PushServer(lambda *a, **k: None, SITE, "127.0.0.1", server.port)
    await second.start()
    assert not second.listening
    assert any("not started" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)
    strict = PushServer(lambda *a, **k: None, SITE, "127.0.0.1", server.port, required=True)
    with pytest.raises(OSError):
        await strict.start()
    await second.stop()
