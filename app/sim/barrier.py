"""A simulated boom barrier: open is a pulse, the boom closes by itself after a hold time.

closed -> opening -> open -> (hold_s after the last pulse) closing -> closed. A pulse while
open restarts the hold; a pulse while closing reverses the boom, as barrier controllers
do for safety, and it reopens from where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.domain.events import BarrierStateChanged
from app.domain.site import Barrier

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SimBarrier:
    def __init__(
        self,
        barrier: Barrier,
        publish: Callable[[Any], None],
        clock: Clock = utc_now,
        *,
        open_s: float | None = None,
        hold_s: float | None = None,
        close_s: float | None = None,
        speed: float = 1.0,
    ) -> None:
        settings = barrier.settings
        self.barrier = barrier
        self.id = barrier.id
        # A typical parking boom swings in 1.5-4 s; closing is about as fast as opening.
        self.open_s = float(open_s if open_s is not None else settings.get("open_s", 2.5))
        self.hold_s = float(hold_s if hold_s is not None else settings.get("hold_s", 6.0))
        self.close_s = float(close_s if close_s is not None
                             else settings.get("close_s", self.open_s))
        self._speed = speed
        self._publish = publish
        self._clock = clock
        self._state = "closed"
        self._hold: asyncio.Timeout | None = None
        self._closing_since = 0.0
        self._cycle: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()  # a reversed cycle may still be unwinding
        self.pulses = 0

    @property
    def state(self) -> str:
        return self._state

    async def open(self, reason: str) -> None:
        """Give an open pulse. Returns at once; the boom moves and closes by itself."""
        self.pulses += 1
        loop = asyncio.get_running_loop()
        log.info("barrier %s: open pulse (%s) while %s", self.id, reason, self._state)
        if self._state == "open":
            if self._hold is not None:
                self._hold.reschedule(loop.time() + self.hold_s / self._speed)
            else:  # stopped while open: hold again from now, then close
                self._start_cycle(None)
        elif self._state == "closed" or self._cycle is None:
            self._start_cycle(self.open_s)  # also: stopped halfway, start over
        elif self._state == "closing":
            # Reverse: it only has to travel back the part it already closed.
            done = (loop.time() - self._closing_since) / (self.close_s / self._speed)
            self._start_cycle(self.open_s * min(1.0, max(0.0, done)))
        # "opening": already on its way; the hold starts when it is fully open.

    async def stop(self) -> None:
        """Cancel the timers; the boom stays where it is (as on a power cut)."""
        self._cycle = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _start_cycle(self, travel_s: float | None) -> None:
        old = self._cycle
        if old is not None:
            old.cancel()  # it is sleeping in "closing"; nothing to undo
        if travel_s is not None:
            self._set("opening")
        self._cycle = asyncio.create_task(self._run(travel_s), name=f"barrier-{self.id}")
        self._tasks.add(self._cycle)
        self._cycle.add_done_callback(self._tasks.discard)

    async def _run(self, travel_s: float | None) -> None:
        loop = asyncio.get_running_loop()
        if travel_s is not None:  # None: already open
            await asyncio.sleep(travel_s / self._speed)
            self._set("open")
        # A pulse while open reschedules this deadline (see open()).
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.hold_s / self._speed) as self._hold:
                    await asyncio.Event().wait()
        finally:
            self._hold = None
        self._set("closing")
        self._closing_since = loop.time()
        await asyncio.sleep(self.close_s / self._speed)
        self._set("closed")
        self._cycle = None

    def _set(self, state: str) -> None:
        previous, self._state = self._state, state
        self._publish(BarrierStateChanged(at=self._clock(), barrier_id=self.id, state=state,
                                          previous=previous))
