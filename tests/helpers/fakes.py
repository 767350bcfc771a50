"""Hand-written fakes (cosmicpython style): good enough that services need no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeChargerStore:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def record_connection(self, *args) -> None:
        self.calls.append(("connection", *args))

    def record_boot(self, *args) -> None:
        self.calls.append(("boot", *args))

    def record_seen(self, *args) -> None:
        self.calls.append(("seen", *args))

    def record_status(self, *args) -> None:
        self.calls.append(("status", *args))

    def record_disconnect(self, *args) -> None:
        self.calls.append(("disconnect", *args))

    def record_registry(self, *args) -> None:
        self.calls.append(("registry", *args))

    def of(self, kind: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == kind]


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 21, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
