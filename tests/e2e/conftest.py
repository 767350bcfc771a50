"""Run the real `gatehouse` executable as a subprocess; its JSON log is the oracle."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest


def gatehouse_cmd() -> list[str]:
    exe = shutil.which("gatehouse", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ui.launcher"]


class Proc:
    """A running gatehouse with its stderr JSON lines collected on a thread."""

    def __init__(self, args: list[str], tmp: Path, env_extra: dict | None = None) -> None:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env_extra or {})}
        self.popen = subprocess.Popen(
            [*gatehouse_cmd(), *args, "--json-logging", "--data-dir", str(tmp / "data"),
             "--log-dir", str(tmp / "logs"), "--ocpp-port", "0", "--anpr-port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.records: list[dict] = []
        self.raw: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.raw.append(line)
            with contextlib.suppress(json.JSONDecodeError):
                self.records.append(json.loads(line))

    def events(self, name: str) -> list[dict]:
        return [r for r in self.records if r.get("event") == name]

    def wait_event(self, name: str, count: int = 1, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if len(found) >= count:
                return found
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(
            f"expected {count} x {name!r}, got {len(self.events(name))}; log tail:\n"
            + "".join(self.raw[-30:]))

    def wait(self, timeout: float) -> int:
        code = self.popen.wait(timeout)
        self._reader.join(5)
        return code

    def errors(self) -> list[dict]:
        return [r for r in self.records if r.get("level") in ("ERROR", "CRITICAL")]

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)


@pytest.fixture
def run_gatehouse(tmp_path):
    procs: list[Proc] = []

    def start(*args: str, env: dict | None = None) -> Proc:
        proc = Proc(list(args), tmp_path, env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
