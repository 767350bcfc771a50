"""`gatehouse export transactions` and `gatehouse chargers` as separate processes while
`gatehouse serve --headless --demo` writes the same SQLite database."""

from __future__ import annotations

import json
import subprocess
import time

from tests.e2e.conftest import gatehouse_cmd

REQUIRED = {"charger_id", "connector_id", "transaction_id", "id_token", "started_at",
            "stopped_at", "energy_wh", "stop_reason", "orphan"}


def _gatehouse(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*gatehouse_cmd(), *args, "--data-dir", str(tmp_path / "data"), "--demo",
         "--log-dir", str(tmp_path / "cli-logs")],
        capture_output=True, text=True, timeout=30)


def test_export_while_the_console_runs(run_gatehouse, tmp_path):
    proc = run_gatehouse("serve", "--headless", "--demo", "--sim-speed", "120")
    proc.wait_event("ready", timeout=30)
    proc.wait_event("charger_booted", count=6, timeout=30)

    rows: list[dict] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = _gatehouse(tmp_path, "export", "transactions", "--format", "json")
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)  # valid JSON on every read, mid-write or not
        assert isinstance(rows, list)
        if rows:
            break
        time.sleep(0.5)
    assert rows, "the demo started no session within 30 s"
    for row in rows:
        assert set(row) >= REQUIRED
        assert isinstance(row["transaction_id"], str) and row["transaction_id"]
        assert row["started_at"] is None or row["started_at"].endswith("Z")
        assert isinstance(row["orphan"], bool)

    listed = _gatehouse(tmp_path, "chargers", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    chargers = json.loads(listed.stdout)
    assert sorted(c["id"] for c in chargers) == [f"CP-0{i}" for i in range(1, 7)]
    assert all(c["online"] for c in chargers), "the registry shows the live console's view"

    csv_out = _gatehouse(tmp_path, "export", "transactions", "--format", "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    assert csv_out.stdout.splitlines()[0].startswith("id,charger_id,connector_id,")

    # the readers did not disturb the writer
    proc.popen.terminate()
    assert proc.wait(timeout=20) == 0
    assert proc.errors() == []


def test_export_without_a_database_says_so(tmp_path):
    out = _gatehouse(tmp_path, "export", "transactions", "--format", "json")
    assert out.returncode == 1
    assert "no gatehouse database at" in out.stderr
    assert out.stdout == ""
