"""The repeat-offender badge "wherever the plate appears": a compact "⚠ 3" next to the
plate, and a tooltip listing the offences (newest first, local time).

Same rule as the lane cards (ui.views.violations_view.repeat_offender): a badge from the
second offence in the ladder's window. Never raises: a badge is a hint, not a reason for a
view to fail. Views refresh it when bridge.violationChanged fires.

A leaf module (models import it: ui.models.bays): the views and models it uses are
imported when a badge is made, never at import time (an import cycle otherwise).
"""

from __future__ import annotations

import html
import logging
from typing import Any

from ui.receipt import money

log = logging.getLogger(__name__)

BADGE_COLOR = "#ef6c00"  # violations_view.WARN_COLOR
MAX_LISTED = 8  # a tooltip, not a report: the Violations tab has the rest
KIND_WORDS = {"ice": "Parked, not charging", "overstay": "Overstay", "idle": "Idle after "
              "charging", "fee": "Fee"}


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st: offences as the badge and the ladder count them."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _value(x: Any) -> str:
    return str(getattr(x, "value", x) or "")


def offence_line(v: Any, currency: str = "EUR") -> str:
    """One offence: "14 Mar 10:02 · Idle after charging · fee €5.00 · issued"."""
    from ui.models.common import format_local

    kind = _value(getattr(v, "kind", ""))
    parts = [format_local(getattr(v, "at", None)), KIND_WORDS.get(kind, kind or "—")]
    step = _value(getattr(v, "step", ""))
    amount = int(getattr(v, "amount", 0) or 0)
    if step and amount:
        parts.append(f"{step} {money(amount, currency)}")
    elif step or amount:
        parts.append(step or money(amount, currency))
    status = _value(getattr(v, "status", ""))
    if status:
        parts.append(status + (" (does not count)" if status == "waived" else ""))
    return " · ".join(parts)


def offender_badge(core: Any, plate: str) -> tuple[str, str]:
    """("⚠ 3", tooltip) for a repeat offender; ("", "") for a plate that is not one (or
    when enforcement does not run here)."""
    from ui.views.violations_view import offender_text, repeat_offender

    count = repeat_offender(core, plate)
    if count < 2:
        return "", ""
    enforcement = getattr(core, "enforcement", None)
    try:
        window = int(enforcement.ladder.window_days)
    except Exception:
        window = 0
    head = (f"Repeat offender: {offender_text(count, window)}" if window
            else f"Repeat offender: {count} offences")
    lines = [head]
    try:
        offences = list(enforcement.offences(plate))
    except Exception as exc:
        log.warning("offences of %s unknown: %s", plate, exc)
        offences = []
    currency = getattr(getattr(core, "site", None), "currency", "EUR") or "EUR"
    for v in offences[:MAX_LISTED]:
        try:
            lines.append(offence_line(v, currency))
        except Exception as exc:  # one odd row must not hide the badge
            log.warning("offence of %s not shown: %s", plate, exc)
    if len(offences) > MAX_LISTED:
        lines.append(f"… and {len(offences) - MAX_LISTED} more (Violations tab)")
    return f"⚠ {count}", "\n".join(lines)


def badge_html(text: str) -> str:
    """The badge for a rich-text label ("" stays "")."""
    if not text:
        return ""
    return f" <span style='color: {BADGE_COLOR}; font-weight: bold;'>{html.escape(text)}</span>"


class BadgeCache:
    """Badges of the plates a view shows, computed once until the next violation change
    (views paint often; offender_level and offences are in-memory, but not free)."""

    def __init__(self, core: Any) -> None:
        self._core = core
        self._badges: dict[str, tuple[str, str]] = {}

    def get(self, plate: str) -> tuple[str, str]:
        if not plate:
            return "", ""
        badge = self._badges.get(plate)
        if badge is None:
            badge = self._badges[plate] = offender_badge(self._core, plate)
        return badge

    def clear(self) -> None:
        self._badges.clear()
