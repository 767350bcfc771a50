"""The HTTP server inside the app that cameras push their plate reads to (aiohttp).

Routes (POST unless said):

- `/anpr/isapi/<camera_id>`: Hikvision ISAPI EventNotificationAlert (push_isapi);
  `/anpr/isapi` without an id finds the camera by the alert's deviceID / IP / MAC.
- `/anpr/itsapi/<camera_id>/NotificationInfo/<kind>` and, for cameras that cannot be given
  a path, `/NotificationInfo/<kind>` found by DeviceID or the sender's IP (push_itsapi).
- `/anpr/webhook/<camera_id>`: the generic JSON webhook (push_webhook documents it).
- GET `/anpr/ping`: 200, for installers checking the port is reachable (no auth).

Camera lookup, for a route without an id: a camera whose settings say `device_id` (the
push's deviceID / DeviceID / MAC) or `ip` (else the host of its `source` URL) matches; a
`channel` setting narrows an NVR's cameras. None found: 404 and a WARNING.

Authentication: the camera's `push_token` setting (else the site token given to the
server) as `?token=`, `Authorization: Bearer <token>`, or HTTP Basic with the token as
the password (any user name; cameras can only send Basic). With no token configured for
the camera nor the site, only the camera's own IP (settings `ip` or the host of its
source) is let in: a push opens barriers, so an open endpoint is never the default.
Failures: 401, a WARNING at most once a minute per sender and cause.

Bodies over `max_body` (8 MB) get 413; malformed ones 400 with a short reason; both log
one WARNING (rate-limited). Heartbeats are answered 200 and not logged. Parsing (base64,
XML) runs off the loop thread; reads go to `submit` (ReadService.submit).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from app.adapters.camera import push_isapi, push_itsapi, push_webhook
from app.adapters.camera.push_common import HEARTBEAT, READ, Push, PushError
from app.domain.site import Camera

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 8 * 1024 * 1024
_WARN_EVERY_S = 60.0

Submit = Callable[..., None]


class PushServer:
    """`cameras`: the Site (its .cameras are read on every request, so edits apply), or a
    callable returning the cameras."""

    def __init__(self, submit: Submit, cameras: Any, host: str = "0.0.0.0",
                 port: int = 8088, *, token: str | None = None,
                 max_body: int = DEFAULT_MAX_BODY, required: bool = False) -> None:
        self._submit = submit
        self._cameras = cameras
        self.host = host
        self._port = int(port)
        self.token = token or None
        self.max_body = int(max_body)
        # False: a port already in use is a WARNING and the app runs on without pushes.
        self.required = required
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._warned: dict[tuple[str, str], float] = {}
        self.accepted = 0
        self.rejected = 0

    # -- life cycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def listening(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body)
        app.router.add_get("/anpr/ping", self._ping)
        app.router.add_post("/anpr/isapi", self._isapi)
        app.router.add_post("/anpr/isapi/{camera_id}", self._isapi)
        app.router.add_post("/anpr/itsapi/{camera_id}/NotificationInfo/{kind}", self._itsapi)
        app.router.add_post("/NotificationInfo/{kind}", self._itsapi)
        app.router.add_post("/anpr/webhook/{camera_id}", self._webhook)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except OSError as exc:  # port taken: the console runs on, without pushes
            await runner.cleanup()
            if self.required:
                raise
            log.warning("ANPR push receiver not started on %s:%d: %s", self.host, self._port,
                        exc, extra={"event": "anpr_push_unavailable", "port": self._port})
            return
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._site = runner, site
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self._port = sockets[0].getsockname()[1]
        log.info("ANPR push receiver listening on %s:%d", self.host, self._port,
                 extra={"event": "anpr_push_listening", "port": self._port})

    async def stop(self) -> None:
        runner, self._runner, self._site = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    # -- handlers -------------------------------------------------------------------------

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "service": "gatehouse-anpr"})

    async def _isapi(self, request: web.Request) -> web.Response:
        ctype = request.headers.get("Content-Type", "")
        return await self._handle(request, "isapi",
                                  lambda body: push_isapi.parse(body, ctype),
                                  ok=lambda: web.Response(text="OK"))

    async def _itsapi(self, request: web.Request) -> web.Response:
        kind = request.match_info.get("kind", "")
        return await self._handle(request, "itsapi", lambda body: push_itsapi.parse(kind, body),
                                  ok=lambda: web.json_response(push_itsapi.ACK))

    async def _webhook(self, request: web.Request) -> web.Response:
        return await self._handle(request, "webhook", push_webhook.parse, ok=None,
                                  json_errors=True)

    async def _handle(self, request: web.Request, source: str,
                      parse: Callable[[bytes], Push], *,
                      ok: Callable[[], web.Response] | None,
                      json_errors: bool = False) -> web.Response:
        remote = request.remote or "?"
        try:
            named = request.match_info.get("camera_id")
            camera = self._camera(named) if named else None
            if named and camera is None:
                return self._reject(404, remote, f"unknown camera {named!r}", json_errors,
                                    source)
            if camera is not None and not self._authorized(request, camera):
                return self._reject(401, remote, f"bad or missing token for {camera.id}",
                                    json_errors, source)
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return self._reject(413, remote, f"body over {self.max_body} bytes",
                                    json_errors, source)
            try:
                push = await asyncio.to_thread(parse, body)
            except PushError as exc:
                return self._reject(400, remote, str(exc), json_errors, source)
            if camera is None:
                camera = self._find(push, remote)
                if camera is None:
                    if push.kind == HEARTBEAT:  # an unconfigured camera's heartbeat
                        return ok() if ok else web.json_response({"ok": True})
                    return self._reject(404, remote, "no camera configured for device "
                                        f"{push.device_id or push.ip or remote}",
                                        json_errors, source)
                if not self._authorized(request, camera):
                    return self._reject(401, remote, f"bad or missing token for {camera.id}",
                                        json_errors, source)
            if push.kind == READ:
                self._submit(camera.id, push.plate, push.confidence, source=source,
                             at=push.at, image=push.image, box=push.box,
                             frame_size=push.frame_size)
                self.accepted += 1
                log.debug("ANPR push %s from %s: %s (%.0f%%)", source, camera.id, push.plate,
                          push.confidence * 100)
            elif push.detail:
                log.debug("ANPR push %s from %s ignored: %s", source, camera.id, push.detail)
            if ok is not None:
                return ok()
            from app.domain.access import normalize_plate

            return web.json_response({"ok": True, "plate": normalize_plate(push.plate)}
                                     if push.kind == READ else {"ok": True})
        except Exception as exc:  # nothing escapes to aiohttp's error log
            self._warn((remote, "crash"), "ANPR push %s from %s failed: %s: %s", source,
                       remote, type(exc).__name__, exc)
            return web.json_response({"ok": False, "error": "internal error"}, status=500)

    def _reject(self, status: int, remote: str, reason: str, as_json: bool,
                source: str) -> web.Response:
        self.rejected += 1
        self._warn((remote, f"{status}:{reason}"), "ANPR push (%s) from %s refused: %d %s",
                   source, remote, status, reason)
        if as_json:
            return web.json_response({"ok": False, "error": reason}, status=status)
        return web.Response(status=status, text=reason)

    # -- cameras and auth -----------------------------------------------------------------

    def _all(self) -> Iterable[Camera]:
        source = self._cameras
        if callable(source):
            return tuple(source())
        return tuple(getattr(source, "cameras", source) or ())

    def _camera(self, camera_id: str) -> Camera | None:
        return next((c for c in self._all() if c.id == camera_id), None)

    def _find(self, push: Push, remote: str) -> Camera | None:
        cameras = self._all()
        ids = {v.lower() for v in (push.device_id, push.mac) if v}
        if ids:
            for c in cameras:
                if str(c.settings.get("device_id", "")).lower() in ids and _channel_ok(c, push):
                    return c
        for ip in (push.ip, remote):
            if not ip:
                continue
            # A camera configured with another device id is not this sender.
            found = [c for c in cameras if _ip_of(c) == ip and _channel_ok(c, push)
                     and not (ids and c.settings.get("device_id"))]
            if len(found) == 1 or (found and push.channel):
                return found[0]
        return None

    def _authorized(self, request: web.Request, camera: Camera) -> bool:
        expected = str(camera.settings.get("push_token") or self.token or "")
        if not expected:
            return bool(request.remote) and request.remote == _ip_of(camera)
        for given in _credentials(request):
            if hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
                return True
        return False

    def _warn(self, key: tuple[str, str], msg: str, *args: Any) -> None:
        now = time.monotonic()
        last = self._warned.get(key)
        if last is not None and now - last < _WARN_EVERY_S:
            log.debug(msg, *args)
            return
        if len(self._warned) > 1024:
            self._warned = {k: t for k, t in self._warned.items() if now - t < _WARN_EVERY_S}
        self._warned[key] = now
        log.warning(msg, *args, extra={"event": "anpr_push_refused"})


def _credentials(request: web.Request) -> list[str]:
    found = []
    if request.query.get("token"):
        found.append(request.query["token"])
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        found.append(value.strip())
    elif scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            decoded = ""
        if ":" in decoded:
            found.append(decoded.split(":", 1)[1])
    return found


def _ip_of(camera: Camera) -> str:
    ip = str(camera.settings.get("ip") or "")
    if ip:
        return ip
    if "://" in camera.source:
        try:
            return urlsplit(camera.source).hostname or ""
        except ValueError:
            return ""
    return ""


def _channel_ok(camera: Camera, push: Push) -> bool:
    wanted = camera.settings.get("channel")
    return wanted in (None, "") or not push.channel or str(wanted) == str(push.channel)
