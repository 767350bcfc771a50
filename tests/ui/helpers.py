"""Hand-written fakes and steps shared by the UI tests.

Only the store is fake (tests.helpers.fakes, cosmicpython style).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.core import Core
from app.domain.charging import ChargerIdentity, ConnectorStatus
from app.domain.site import OcppVersion


class StepClock:
    """UTC time that moves one second per reading: every event gets its own 'since'."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def bring_online(core: Core, charger_id: str, *statuses: ConnectorStatus,
                 version: OcppVersion = OcppVersion.V16) -> None:
    """What a charger does after it connects: BootNotification, then one status per connector."""
    core.charging.connected(charger_id, version, "127.0.0.21:51000")
    core.charging.boot(charger_id, ChargerIdentity("ABB", "Terra AC", "SN-42", "1.8.21"))
    for n, status in enumerate(statuses, start=1):
        core.charging.status(charger_id, n, status)
