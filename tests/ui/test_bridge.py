"""CoreBridge: every bus event arrives as the right Qt signal, and close() stops that."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.charging import ConnectorStatus
from app.domain.events import BarrierStateChanged, CameraHealthChanged
from app.domain.site import OcppVersion

AT = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)


def test_charger_events_become_charger_changed(qtbot, core, bridge):
    got: list[str] = []
    bridge.chargerChanged.connect(got.append)
    core.charging.connected("CP-01", OcppVersion.V16, "127.0.0.21:51000")
    core.charging.heartbeat("CP-01")
    core.charging.disconnected("CP-01", "socket closed")
    assert got == ["CP-01", "CP-01", "CP-01"]


def test_status_becomes_connector_changed(qtbot, core, bridge):
    got: list[tuple[str, int]] = []
    bridge.connectorChanged.connect(lambda cid, n: got.append((cid, n)))
    core.charging.connected("CP-02", OcppVersion.V16, "x")
    core.charging.status("CP-02", 2, ConnectorStatus.CHARGING)
    assert got == [("CP-02", 2)]


def test_barrier_and_camera_and_any_event(qtbot, core, bridge):
    barriers, cameras, events = [], [], []
    bridge.barrierChanged.connect(lambda b, s: barriers.append((b, s)))
    bridge.cameraChanged.connect(lambda c, ok: cameras.append((c, ok)))
    bridge.event.connect(events.append)
    core.bus.publish(BarrierStateChanged(at=AT, barrier_id="BAR-ENTRY", state="open",
                                         previous="closed"))
    core.bus.publish(CameraHealthChanged(at=AT, camera_id="CAM-EXIT", online=False))
    assert barriers == [("BAR-ENTRY", "open")]
    assert cameras == [("CAM-EXIT", False)]
    assert [type(e).__name__ for e in events] == ["BarrierStateChanged", "CameraHealthChanged"]


def test_close_unsubscribes(qtbot, core, bridge):
    got: list[str] = []
    bridge.chargerChanged.connect(got.append)
    bridge.close()
    bridge.close()  # twice is harmless: the entry point and a fixture may both close it
    core.charging.connected("CP-01", OcppVersion.V16, "x")
    assert got == []
