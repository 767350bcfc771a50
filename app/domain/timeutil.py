"""UTC helpers. Storage and protocol are timezone-aware UTC; local time is for screens."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_iso(value: object) -> datetime | None:
    """A charger's timestamp, or None when it is missing or unreadable.

    Naive times are taken as UTC: OCPP requires UTC and most chargers that omit the
    offset mean it.
    """
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_iso(moment: datetime) -> str:
    """OCPP wire format: UTC with a Z and millisecond precision."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
