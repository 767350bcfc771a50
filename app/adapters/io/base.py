"""What every real barrier driver shares: its state, the fault alarm, and the events.

Failures are logged once on the transition to "fault" and once on recovery, never per
failed attempt (Home Assistant's update_coordinator does the same).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.domain.events import BarrierStateChanged
from app.domain.site import Barrier

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

FAULT = "fault"


def utc_now() -> datetime:
    return datetime.now(UTC)


class BarrierDriver:
    """State, fault alarm and BarrierStateChanged publishing for a driven barrier."""

    def __init__(self, barrier: Barrier, publish: Callable[[Any], None],
                 clock: Clock = utc_now) -> None:
        self.barrier = barrier
        self.id = barrier.id
        self._publish = publish
        self._clock = clock
        self._state = "closed"
        self.detail = ""  # why the barrier is in "fault"; "" otherwise
        self.pulses = 0

    @property
    def state(self) -> str:
        return self._state

    def _set(self, state: str) -> None:
        if state == self._state:
            return
        previous, self._state = self._state, state
        if previous == FAULT:
            log.info("barrier %s: recovered (%s)", self.id, state,
                     extra={"event": "barrier_recovered", "barrier_id": self.id})
            self.detail = ""
        self._publish(BarrierStateChanged(at=self._clock(), barrier_id=self.id, state=state,
                                          previous=previous))

    def _fault(self, detail: str) -> None:
        """Raise the fault alarm: one WARNING on the transition, quiet while it lasts."""
        self.detail = detail
        if self._state == FAULT:
            log.debug("barrier %s: still faulty: %s", self.id, detail)
            return
        log.warning("barrier %s: fault: %s", self.id, detail,
                    extra={"event": "barrier_fault", "barrier_id": self.id, "detail": detail})
        self._set(FAULT)
