"""Hikvision ANPR camera / barrier controller: ISAPI barrierGate with HTTP digest auth.

PUT /ISAPI/Parking/channels/<n>/barrierGate with <BarrierGate><ctrlMode>open</ctrlMode>
</BarrierGate>; the gate controller closes the boom by itself. Digest auth is aiohttp's
DigestAuthMiddleware (aiohttp >= 3.12).
"""

from __future__ import annotations

import re

import aiohttp

from app.adapters.io.http_barrier import HttpBarrier

OPEN_BODY = "<BarrierGate><ctrlMode>open</ctrlMode></BarrierGate>"


class HikvisionBarrier(HttpBarrier):
    def __init__(self, *args, channel: int = 1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channel = int(channel)

    @property
    def url(self) -> str:
        return f"{self.base_url}/ISAPI/Parking/channels/{self.channel}/barrierGate"

    def _new_session(self) -> aiohttp.ClientSession:
        digest = aiohttp.DigestAuthMiddleware(self.username, self.password)
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                                     middlewares=(digest,))

    async def _send(self, session: aiohttp.ClientSession) -> tuple[int, str]:
        async with session.put(self.url, data=OPEN_BODY.encode(),
                               headers={"Content-Type": "application/xml"}) as response:
            return response.status, await response.text(errors="replace")

    def _problem(self, status: int, body: str) -> str | None:
        problem = super()._problem(status, body)
        sub = re.search(r"<subStatusCode>(.*?)</subStatusCode>", body)
        if problem is not None and status != 401 and sub:
            problem = f"HTTP {status} {sub.group(1)}"  # e.g. "HTTP 403 notSupport"
        return problem
