"""Settings of a core under test: the demo site on a real SQLite file in `data_dir`,
OCPP on a free loopback port, no simulators, no log file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.config import Settings


def loopback_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"demo": True, "data_dir": data_dir, "ocpp_host": "127.0.0.1",
                              "ocpp_port": 0, "log_dir": None, "simulate_chargers": False,
                              "heartbeat_interval_s": 30, "anpr_push_port": None}
    return Settings(**{**values, **overrides})
