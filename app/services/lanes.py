"""Lanes: entry/exit lanes with their barrier, and the attendant's manual override.

A manual raise opens a barrier without a credential decision, so it needs a reason and
is written to the audit trail *before* the open pulse: a raise that happened is always
one that was audited. Barrier trouble (not driven, no connection, a driver bug) comes
back as a message for the attendant, never as an exception to the UI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from app.domain.site import Lane, Site
from app.services.ports import Audit, Barrier, Clock

log = logging.getLogger(__name__)

MANUAL_RAISE = "barrier_manual_raise"
FAULT = "fault"


class RaiseResult(str):
    """The message for the attendant (a plain str), plus whether the pulse was given."""

    ok: bool

    def __new__(cls, text: str, ok: bool) -> RaiseResult:
        obj = super().__new__(cls, text)
        obj.ok = ok
        return obj


class LaneService:
    """`barriers` is the Core's live dict (id -> driver): simulated barriers join it
    when the simulated site starts, so it is read on every call, never copied."""

    def __init__(self, site: Site, barriers: Mapping[str, Barrier], audit: Audit | Any,
                 clock: Clock) -> None:
        self._site = site
        self._barriers = barriers
        # Either the callable (ports.Audit) or an AuditLog object.
        self._audit: Audit = getattr(audit, "audit", audit)
        self._clock = clock

    # -- reading ----------------------------------------------------------------------

    def lanes(self) -> tuple[Lane, ...]:
        return tuple(self._site.lanes)

    def lane(self, lane_id: str) -> Lane:
        for lane in self._site.lanes:
            if lane.id == lane_id:
                return lane
        raise KeyError(f"no lane {lane_id!r}")

    def barrier_name(self, lane_id: str) -> str:
        """The barrier's name as the site calls it; "" when the lane has none."""
        barrier_id = self.lane(lane_id).barrier_id
        if not barrier_id:
            return ""
        conf = next((b for b in self._site.barriers if b.id == barrier_id), None)
        return conf.name if conf is not None and conf.name else barrier_id

    def lane_for_barrier(self, barrier_id: str) -> Lane | None:
        return next((ln for ln in self._site.lanes if ln.barrier_id == barrier_id), None)

    def barrier_state(self, lane_id: str) -> str:
        """closed / opening / open / closing / fault; "none" (no barrier in the lane) or
        "offline" (a barrier the console does not drive, or not started yet)."""
        driver = self._driver(lane_id)
        if driver is None:
            return "none" if not self.lane(lane_id).barrier_id else "offline"
        return str(driver.state)

    def barrier_detail(self, lane_id: str) -> str:
        """Why the barrier is in fault (the driver's words); "" otherwise."""
        driver = self._driver(lane_id)
        if driver is None or driver.state != FAULT:
            return ""
        return str(getattr(driver, "detail", "") or "")

    def _driver(self, lane_id: str) -> Barrier | None:
        barrier_id = self.lane(lane_id).barrier_id
        return self._barriers.get(barrier_id) if barrier_id else None

    # -- the manual override ------------------------------------------------------------

    async def raise_barrier(self, lane_id: str, *, actor: str, reason: str) -> str:
        """Open the lane's barrier without a decision. Returns a message for the attendant.

        Raises ValueError for an empty reason (the UI must ask for one) and KeyError for an
        unknown lane; everything that goes wrong with the barrier is in the message.
        """
        reason = (reason or "").strip()
        if not reason:
            raise ValueError("a manual barrier raise needs a reason "
                             "(say why the barrier is opened without a decision)")
        lane = self.lane(lane_id)
        if not lane.barrier_id:
            return RaiseResult(f"{lane.name}: no barrier in this lane", ok=False)
        name = self.barrier_name(lane_id)
        driver = self._barriers.get(lane.barrier_id)
        if driver is None:
            return RaiseResult(f"{name} not raised: the console does not drive this barrier",
                               ok=False)
        before = str(driver.state)
        try:
            self._audit(actor, MANUAL_RAISE, lane.id,
                        {"barrier_id": lane.barrier_id, "reason": reason,
                         "state_before": before})
        except Exception:  # no raise without its audit entry
            log.exception("audit of a manual raise of %s failed", lane.barrier_id)
            return RaiseResult(f"{name} not raised: the audit trail could not be written",
                               ok=False)
        log.info("lane %s: barrier %s raised by %s (%s)", lane.id, lane.barrier_id, actor,
                 reason, extra={"event": MANUAL_RAISE, "lane_id": lane.id,
                                "barrier_id": lane.barrier_id, "actor": actor})
        try:
            await driver.open(reason)
        except Exception as exc:
            # The driver's own fault alarm (if any) has logged the device problem.
            log.warning("lane %s: barrier %s did not open: %s: %s", lane.id, lane.barrier_id,
                        type(exc).__name__, exc,
                        extra={"event": "barrier_raise_failed", "lane_id": lane.id,
                               "barrier_id": lane.barrier_id})
            return RaiseResult(f"{name} did not open: {exc or type(exc).__name__}", ok=False)
        if driver.state == FAULT:
            detail = getattr(driver, "detail", "") or "fault"
            return RaiseResult(f"{name} did not open: {detail}", ok=False)
        return RaiseResult(f"{name} raised ({reason})", ok=True)
