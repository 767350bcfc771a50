"""Settings of one run: where data lives, where the OCPP server listens, demo or not."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "gatehouse"
DEFAULT_OCPP_PORT = 9000


# Site settings kept in the database's `settings` table (key -> JSON value), written by the
# first-run setup: key -> (Settings attribute, converter). A command-line option wins.
STORED_SETTINGS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "ocpp.port": ("ocpp_port", int),
    "ocpp.tls_cert": ("tls_cert", Path),
    "ocpp.tls_key": ("tls_key", Path),
    "ocpp.security_profile": ("security_profile", int),
    "binding.window_s": ("binding_window_s", float),
    "binding.ice_grace_min": ("ice_grace_min", float),
}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


@dataclass(slots=True)
class Settings:
    demo: bool = False
    data_dir: Path = field(default_factory=default_data_dir)
    db_url: str | None = None
    # None: 127.0.0.1 in demo mode (nothing on the LAN should reach a demo), else 0.0.0.0.
    ocpp_host: str | None = None
    ocpp_port: int = DEFAULT_OCPP_PORT
    log_dir: Path | None = None
    json_logging: bool = False
    log_level: str = "INFO"
    heartbeat_interval_s: int = 60
    # accept (demo default) | pending (an installer approves in the console) | reject
    unknown_charger_policy: str = "accept"
    # accept_all | known_tags, until accounts and permits decide (access issue)
    auth_mode: str = "accept_all"
    # OCPP security profile: 0 none, 1 HTTP Basic, 2 TLS + HTTP Basic (needs tls_cert/key)
    security_profile: int = 0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    frame_retention_days: float = 14.0
    # None: simulated chargers run exactly when in demo mode.
    simulate_chargers: bool | None = None
    # Demo simulation speed: 1.0 is real time; tests and training can speed it up.
    sim_speed: float = 1.0
    # A seed makes a demo replayable (the same cars at the same bays); None: random.
    sim_seed: int | None = None
    camera_fps: float = 15.0
    # ANPR push receiver (app.adapters.camera.push_server): 0 picks a free port, None = off.
    anpr_push_port: int | None = 8088
    # Plate-read evidence (JPEG snapshots under <data>/evidence) is deleted after this.
    evidence_retention_days: float = 90.0
    # Dual-ANPR binding: a bay read and a plug-in this close are one car; a car parked at a
    # charger this long without charging is reported as ICE-ing.
    binding_window_s: float = 120.0
    ice_grace_min: float = 15.0
    # Attributes given on the command line: stored site settings do not override them.
    explicit: frozenset[str] = frozenset()

    def apply_stored(self, stored: Mapping[str, Any]) -> list[str]:
        """Take the site's stored settings (STORED_SETTINGS keys) except where the command
        line said otherwise. Returns the attributes changed."""
        changed = []
        for key, (attr, convert) in STORED_SETTINGS.items():
            if key not in stored or attr in self.explicit:
                continue
            value = stored[key]
            setattr(self, attr, None if value is None else convert(value))
            changed.append(attr)
        return changed

    @property
    def resolved_ocpp_host(self) -> str:
        if self.ocpp_host:
            return self.ocpp_host
        return "127.0.0.1" if self.demo else "0.0.0.0"

    @property
    def resolved_db_url(self) -> str:
        if self.db_url:
            return self.db_url
        # The demo gets its own file so a demo run never mixes into a live site's data.
        name = "demo.db" if self.demo else "gatehouse.db"
        return f"sqlite:///{(self.data_dir / name).as_posix()}"

    @property
    def run_simulated_chargers(self) -> bool:
        return self.demo if self.simulate_chargers is None else self.simulate_chargers

    @property
    def frames_dir(self) -> Path:
        return self.data_dir / "ocpp-frames"

    @property
    def resolved_log_dir(self) -> Path:
        return self.log_dir if self.log_dir is not None else default_log_dir()
