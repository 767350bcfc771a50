"""Shared part of the barriers driven through a camera's HTTP API (Hikvision, Axis).

A camera output gives no limit switch back: an acknowledged open command counts as
"open", and after `hold_s` the barrier is taken as "closed" again (the controller closes
by itself). Connection errors, timeouts, HTTP 401 and 5xx make the state "fault".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from app.adapters.io.base import BarrierDriver, Clock, utc_now
from app.domain.site import Barrier

log = logging.getLogger(__name__)


class HttpBarrier(BarrierDriver):
    def __init__(
        self,
        barrier: Barrier,
        publish: Callable[[Any], None],
        clock: Clock = utc_now,
        *,
        base_url: str,
        username: str = "",
        password: str = "",
        timeout_s: float = 3.0,
        hold_s: float = 6.0,
    ) -> None:
        super().__init__(barrier, publish, clock)
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.timeout_s = float(timeout_s)
        self.hold_s = float(hold_s)
        self._session: aiohttp.ClientSession | None = None
        self._hold: asyncio.Task | None = None

    def _new_session(self) -> aiohttp.ClientSession:  # overridden for the auth scheme
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))

    async def _send(self, session: aiohttp.ClientSession) -> tuple[int, str]:
        raise NotImplementedError

    def _problem(self, status: int, body: str) -> str | None:
        """The fault detail for a response, None when the command was accepted."""
        if status == 401:
            return "HTTP 401 unauthorized (check the user name and password)"
        if not 200 <= status < 300:
            return f"HTTP {status}: {body.strip()[:200]}"
        return None

    async def open(self, reason: str) -> None:
        self.pulses += 1
        log.info("barrier %s: open command (%s) while %s", self.id, reason, self._state)
        if self._session is None:
            self._session = self._new_session()
        try:
            status, body = await self._send(self._session)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._fault(f"{self.base_url}: {type(exc).__name__}: {exc}")
            return
        problem = self._problem(status, body)
        if problem is not None:
            self._fault(f"{self.base_url}: {problem}")
            return
        self._set("open")
        if self._hold is not None:
            self._hold.cancel()
        self._hold = asyncio.create_task(self._close_later(), name=f"barrier-{self.id}-hold")

    async def _close_later(self) -> None:
        await asyncio.sleep(self.hold_s)
        self._set("closed")

    async def stop(self) -> None:
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hold
        session, self._session = self._session, None
        if session is not None:
            await session.close()
