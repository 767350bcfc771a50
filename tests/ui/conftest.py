"""UI fixtures: the real ChargingService, EventBus and demo site behind a real MainWindow."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

import resources
from app.config import Settings
from app.core import Core
from app.domain.site import Site
from app.domain.site_io import site_from_dict
from app.services.bus import EventBus
from app.services.charging import ChargingService
from tests.helpers.fakes import FakeChargerStore
from tests.ui.helpers import StepClock
from ui.bridge import CoreBridge

OCPP_URL = "ws://127.0.0.1:9000/ocpp"


@pytest.fixture
def site() -> Site:
    return site_from_dict(json.loads(resources.path("demo", "site.json").read_text("utf-8")))


@pytest.fixture
def clock() -> StepClock:
    return StepClock(datetime(2025, 3, 14, 9, 0, tzinfo=UTC))


@pytest.fixture
def core(site: Site, clock: StepClock) -> Core:
    bus = EventBus()
    charging = ChargingService(site, FakeChargerStore(), bus, clock)
    return Core(settings=Settings(demo=True), bus=bus, site=site, charging=charging,
                ocpp_url=OCPP_URL)


@pytest.fixture
def bridge(qapp, core: Core):
    b = CoreBridge(core)
    yield b
    b.close()


@pytest.fixture
def themed(qapp):
    """The shipped theme on the shared QApplication, undone afterwards."""
    from ui.theme import apply_theme

    style, sheet, font = qapp.style().name(), qapp.styleSheet(), qapp.font()
    apply_theme(qapp)
    yield qapp
    qapp.setStyleSheet(sheet)
    qapp.setStyle(style)
    qapp.setFont(font)


@pytest.fixture
def window(qtbot, themed, core: Core, bridge: CoreBridge):
    from ui.views.main_window import MainWindow

    w = MainWindow(core, bridge)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w
