"""A change made by `gatehouse import accounts` (a separate process) reaches the running
console's decisions within seconds: a charger's Authorize flips from Invalid to Accepted,
and a revocation stops the card again."""

from __future__ import annotations

import asyncio
import subprocess
import time

from tests.e2e.conftest import gatehouse_cmd
from tests.helpers.raw_client import RawCharger

CARD = "04E2E0C0FFEE01"


def _import(tmp_path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "accounts.csv"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [*gatehouse_cmd(), "import", "accounts", str(path), "--data-dir",
         str(tmp_path / "data"), "--demo", "--log-dir", str(tmp_path / "cli-logs")],
        capture_output=True, text=True, timeout=60)


async def _authorize(url: str, tag: str) -> str:
    cp = await RawCharger.open(url, "E2E-READER")
    try:
        await cp.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        reply = await cp.call("Authorize", {"idTag": tag})
        return reply[2]["idTagInfo"]["status"]
    finally:
        await cp.close()


def _until_status(url: str, tag: str, wanted: str, within: float) -> float:
    start = time.monotonic()
    status = ""
    while time.monotonic() - start < within:
        status = asyncio.run(_authorize(url, tag))
        if status == wanted:
            return time.monotonic() - start
        time.sleep(0.3)
    raise AssertionError(f"Authorize of {tag} still {status!r} after {within} s")


def test_an_import_from_the_cli_reaches_the_running_console(run_gatehouse, tmp_path):
    proc = run_gatehouse("serve", "--headless", "--demo", "--auth-mode", "known_tags")
    ready = proc.wait_event("ready", timeout=30)[0]
    url = f"ws://127.0.0.1:{ready['ocpp_port']}/ocpp"
    assert asyncio.run(_authorize(url, CARD)) == "Invalid"

    header = "account,name,group,credential_kind,credential_value,credential_status\n"
    done = _import(tmp_path, header + f"E2E-1,Erik Test,staff,rfid,{CARD},active\n")
    assert done.returncode == 0, done.stderr + done.stdout
    took = _until_status(url, CARD, "Accepted", within=10)
    assert took < 10

    # The same card, revoked by a second import: refused again.
    again = _import(tmp_path, header + f"E2E-1,Erik Test,staff,rfid,{CARD},revoked\n")
    assert again.returncode == 0, again.stderr + again.stdout
    _until_status(url, CARD, "Blocked", within=10)
    assert proc.events("access_reloaded")

    proc.popen.terminate()
    assert proc.wait(timeout=20) == 0
    assert proc.errors() == []
