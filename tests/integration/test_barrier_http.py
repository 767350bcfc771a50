"""Camera-driven barriers against an aiohttp server on 127.0.0.1 standing in for the camera:
Hikvision ISAPI barrierGate and Axis VAPIX port.cgi, with digest auth checked server-side."""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web

from app.adapters.io.isapi_barrier import HikvisionBarrier
from app.adapters.io.vapix_barrier import AxisBarrier
from app.domain.events import BarrierStateChanged
from app.domain.site import Barrier
from tests.helpers.waiting import wait_for

USER, PASSWORD, REALM = "admin", "s3cret-Pa55", "IP Camera(C1234)"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def parse_auth(header: str) -> dict[str, str]:
    fields = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields[key.strip()] = value.strip().strip('"')
    return fields


class Camera:
    """Records requests; checks RFC 7616 digest (MD5, qop=auth) or basic auth."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []  # method, path_qs, body
        self.nonces: set[str] = set()
        self.status = 200
        self.reply = ("<ResponseStatus><statusCode>1</statusCode>"
                      "<statusString>OK</statusString></ResponseStatus>")

    def challenge(self) -> web.Response:
        nonce = secrets.token_hex(16)
        self.nonces.add(nonce)
        return web.Response(status=401, headers={
            "WWW-Authenticate": f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
                                'algorithm=MD5'})

    def authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            return base64.b64decode(header[6:]).decode() == f"{USER}:{PASSWORD}"
        if not header.startswith("Digest "):
            return False
        f = parse_auth(header[7:])
        if (f.get("username") != USER or f.get("realm") != REALM
                or f.get("nonce") not in self.nonces or f.get("qop") != "auth"
                or f.get("uri") != request.path_qs):
            return False
        ha1 = md5(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = md5(f"{request.method}:{f['uri']}")
        expected = md5(f"{ha1}:{f['nonce']}:{f['nc']}:{f['cnonce']}:auth:{ha2}")
        return secrets.compare_digest(expected, f.get("response", ""))

    async def handle(self, request: web.Request) -> web.Response:
        if not self.authorized(request):
            return self.challenge()
        self.requests.append((request.method, request.path_qs, await request.text()))
        return web.Response(status=self.status, text=self.reply,
                            content_type="application/xml")


@pytest.fixture
async def camera():
    cam = Camera()
    app = web.Application()
    app.router.add_put("/ISAPI/Parking/channels/{n}/barrierGate", cam.handle)
    app.router.add_get("/axis-cgi/io/port.cgi", cam.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    cam.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield cam
    finally:
        await runner.cleanup()


@pytest.fixture
def events():
    return []


@pytest.fixture
async def make(events):
    made = []

    def make(cls, base_url, **options):
        options = {"username": USER, "password": PASSWORD, "timeout_s": 2.0,
                   "hold_s": 0.2, **options}
        barrier = cls(Barrier("b1", "Exit barrier", "isapi"), events.append,
                      base_url=base_url, **options)
        made.append(barrier)
        return barrier

    yield make
    for barrier in made:
        await barrier.stop()


def states(events) -> list[str]:
    return [e.state for e in events if isinstance(e, BarrierStateChanged)]


async def test_isapi_open_with_digest_auth(camera, make, events):
    barrier = make(HikvisionBarrier, camera.url, channel=2)
    await barrier.open("plate permitted")
    assert barrier.state == "open", barrier.detail
    assert camera.requests == [("PUT", "/ISAPI/Parking/channels/2/barrierGate",
                                "<BarrierGate><ctrlMode>open</ctrlMode></BarrierGate>")]
    await wait_for(lambda: barrier.state == "closed")
    assert states(events) == ["open", "closed"]


async def test_isapi_wrong_password_is_a_fault(camera, make, events):
    barrier = make(HikvisionBarrier, camera.url, password="wrong")
    await barrier.open("test")
    assert barrier.state == "fault"
    assert "HTTP 401" in barrier.detail
    assert camera.requests == []


async def test_isapi_server_error_is_a_fault_and_recovers(camera, make, events, caplog):
    camera.status = 500
    camera.reply = ("<ResponseStatus><statusCode>6</statusCode>"
                    "<subStatusCode>deviceError</subStatusCode></ResponseStatus>")
    barrier = make(HikvisionBarrier, camera.url)
    await barrier.open("test")
    await barrier.open("again")
    assert barrier.state == "fault"
    assert "HTTP 500 deviceError" in barrier.detail
    assert len([r for r in caplog.records if "fault" in r.getMessage()
                and r.levelname == "WARNING"]) == 1
    camera.status = 200
    await barrier.open("repaired")
    assert barrier.state == "open"
    assert states(events) == ["fault", "open"]


async def test_camera_unreachable_is_a_fault(make):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    barrier = make(HikvisionBarrier, f"http://127.0.0.1:{port}")
    await barrier.open("test")
    assert barrier.state == "fault"
    assert "ClientConnectorError" in barrier.detail


@pytest.mark.parametrize("auth", ["digest", "basic"])
async def test_vapix_pulses_the_output_port(camera, make, auth):
    camera.reply = "OK"
    barrier = make(AxisBarrier, camera.url, port=2, pulse_ms=300, auth=auth)
    await barrier.open("test")
    assert barrier.state == "open", barrier.detail
    [(method, path_qs, _)] = camera.requests
    assert method == "GET"
    assert parse_qs(urlsplit(path_qs).query) == {"action": ["2:/300\\"]}


async def test_vapix_device_error_is_a_fault(camera, make):
    camera.reply = "Error: invalid port"
    barrier = make(AxisBarrier, camera.url, port=9)
    await barrier.open("test")
    assert barrier.state == "fault"
    assert "invalid port" in barrier.detail
