"""An IP camera on 127.0.0.1 for the capture tests and the capture benchmark (aiohttp).

    srv = MjpegServer(fps=25, size=(320, 240), username="admin", password="secret")
    await srv.start()          # srv.stream_url, srv.snapshot_url, srv.port
    await srv.pause()          # connections stay open, no frames (a hung camera)
    await srv.stop()           # the camera goes away (port closed, streams cut)
    await srv.start()          # ... and comes back on the same port

- `/video.mjpg`: multipart/x-mixed-replace MJPEG at `fps`, every client gets the server's
  newest frame on each tick (like a camera; a slow client skips frames).
- `/snapshot.jpg`: the newest frame as one JPEG.
- Basic (`auth="basic"`) or Digest (`auth="digest"`, MD5, qop=auth, as Hikvision and
  Axis cameras do by default) on both when a user name is given; a 401 with the matching
  `WWW-Authenticate` challenge otherwise.
- Every frame carries its index in a row of black/white blocks: `frame_index(img)` reads
  it back from a decoded frame (robust to JPEG), so tests can tell which frame they hold.

The server runs on the loop of whoever starts it (the test's); the ticker encodes one JPEG
per frame on that loop (~1 ms at 320x240).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import secrets

import cv2
import numpy as np
from aiohttp import web

BOUNDARY = "gatehouseframe"
REALM = "gatehouse-test"
BITS = 20
_BLOCK = 12  # px per bit block


def render(index: int, size: tuple[int, int]) -> np.ndarray:
    """A BGR test picture: a gradient, the index as text, and the index in bit blocks."""
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 1] = np.linspace(40, 200, w, dtype=np.uint8)[None, :]
    img[:, :, 2] = np.linspace(40, 200, h, dtype=np.uint8)[:, None]
    for bit in range(BITS):
        x0 = bit * _BLOCK
        value = 255 if index >> bit & 1 else 0
        img[0:_BLOCK, x0:x0 + _BLOCK] = value
    cv2.putText(img, str(index), (8, h - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    return img


def frame_index(img: np.ndarray) -> int:
    """The index `render` wrote into a (decoded, possibly JPEG-blurred) frame."""
    index = 0
    for bit in range(BITS):
        centre = img[_BLOCK // 2, bit * _BLOCK + _BLOCK // 2]
        if int(centre.mean()) > 127:
            index |= 1 << bit
    return index


class MjpegServer:
    def __init__(self, fps: float = 25, size: tuple[int, int] = (320, 240), *,
                 username: str = "", password: str = "", auth: str = "basic",
                 port: int = 0, quality: int = 80) -> None:
        if size[0] < BITS * _BLOCK:
            raise ValueError(f"width must be at least {BITS * _BLOCK} px")
        self.fps = fps
        self.size = size
        self.username, self.password = username, password
        if auth not in ("basic", "digest"):
            raise ValueError("auth: basic or digest")
        self.auth = auth
        self._nonce = secrets.token_hex(16)
        self.port = port
        self.quality = quality
        self.index = -1  # of the newest frame produced
        self.requests: dict[str, int] = {"stream": 0, "snapshot": 0, "unauthorized": 0}
        self._jpeg = b""
        self._tick = asyncio.Condition()
        self._paused = False
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task | None = None
        self._streams: set[asyncio.Task] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"{self.base_url}/video.mjpg"

    @property
    def snapshot_url(self) -> str:
        return f"{self.base_url}/snapshot.jpg"

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Listen (on the same port again after a stop) and start producing frames."""
        if self._runner is not None:
            return
        self._paused = False
        self._produce()  # a snapshot is available at once
        app = web.Application()
        app.router.add_get("/video.mjpg", self._stream)
        app.router.add_get("/snapshot.jpg", self._snapshot)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False,
                                     access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._ticker = asyncio.create_task(self._tick_loop(), name="mjpeg-ticker")

    async def stop(self) -> None:
        """Close the port and cut every open stream (a camera that lost power)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for task in list(self._streams):
            task.cancel()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def pause(self) -> None:
        """Keep connections open but send nothing more (a hung encoder)."""
        self._paused = True

    async def resume(self) -> None:
        self._paused = False

    # -- frames -------------------------------------------------------------------------

    def _produce(self) -> None:
        self.index += 1
        ok, buf = cv2.imencode(".jpg", render(self.index, self.size),
                               [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        assert ok
        self._jpeg = buf.tobytes()

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / self.fps
        next_at = loop.time()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if next_at < loop.time() - period:  # fell behind: skip, do not burst
                next_at = loop.time()
            if self._paused:
                continue
            self._produce()
            async with self._tick:
                self._tick.notify_all()

    # -- handlers -----------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        if not self.username:
            return True
        header = request.headers.get("Authorization", "")
        if self.auth == "basic":
            expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return header == f"Basic {expected}"
        if not header.startswith("Digest "):
            return False
        fields = {key: quoted or bare for key, quoted, bare in
                  re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]*))', header[7:])}
        if fields.get("username") != self.username or fields.get("nonce") != self._nonce:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()  # the protocol's hash

        ha1 = md5(f"{self.username}:{REALM}:{self.password}")
        ha2 = md5(f"{request.method}:{fields.get('uri', '')}")
        if fields.get("qop"):
            expected = md5(f"{ha1}:{self._nonce}:{fields.get('nc')}:{fields.get('cnonce')}:"
                           f"{fields['qop']}:{ha2}")
        else:
            expected = md5(f"{ha1}:{self._nonce}:{ha2}")
        return fields.get("response") == expected

    def _challenge(self) -> web.Response:
        self.requests["unauthorized"] += 1
        if self.auth == "basic":
            challenge = f'Basic realm="{REALM}"'
        else:
            challenge = (f'Digest realm="{REALM}", qop="auth", nonce="{self._nonce}", '
                         'algorithm=MD5')
        return web.Response(status=401, text="401 Unauthorized",
                            headers={"WWW-Authenticate": challenge})

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._challenge()
        self.requests["snapshot"] += 1
        return web.Response(body=self._jpeg, content_type="image/jpeg")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return self._challenge()
        self.requests["stream"] += 1
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        response = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-cache",
        })
        try:
            await response.prepare(request)
            sent = -1
            while True:
                if self.index == sent or self._paused:
                    async with self._tick:
                        await self._tick.wait()
                    continue
                sent, jpeg = self.index, self._jpeg
                await response.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._streams.discard(task)
        return response
