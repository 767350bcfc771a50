"""Axis camera / I/O device: pulse an output port through VAPIX port.cgi.

GET /axis-cgi/io/port.cgi?action=<port>:/<pulse_ms>\\ : "/" activates the port, the number
waits that many milliseconds, "\\" deactivates it; the device itself ends the pulse.
Digest auth by default (Axis firmware default), basic on request.
"""

from __future__ import annotations

import base64

import aiohttp

from app.adapters.io.http_barrier import HttpBarrier


class AxisBarrier(HttpBarrier):
    def __init__(self, *args, port: int = 1, pulse_ms: int = 500, auth: str = "digest",
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if auth not in ("digest", "basic"):
            raise ValueError(f"barrier {self.id}: auth must be 'digest' or 'basic'")
        self.io_port, self.pulse_ms, self.auth = int(port), int(pulse_ms), auth

    @property
    def action(self) -> str:
        return f"{self.io_port}:/{self.pulse_ms}\\"

    def _new_session(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        if self.auth == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return aiohttp.ClientSession(timeout=timeout,
                                         headers={"Authorization": f"Basic {token}"})
        digest = aiohttp.DigestAuthMiddleware(self.username, self.password)
        return aiohttp.ClientSession(timeout=timeout, middlewares=(digest,))

    async def _send(self, session: aiohttp.ClientSession) -> tuple[int, str]:
        url = f"{self.base_url}/axis-cgi/io/port.cgi"
        async with session.get(url, params={"action": self.action}) as response:
            return response.status, await response.text(errors="replace")

    def _problem(self, status: int, body: str) -> str | None:
        problem = super()._problem(status, body)
        if problem is None and body.lstrip().lower().startswith("error"):
            return f"device said: {body.strip()[:200]}"
        return problem
