"""`gatehouse serve --headless --demo` as an operator or a service manager runs it."""

import signal
import subprocess

from tests.e2e.conftest import gatehouse_cmd


def test_headless_demo_boots_all_six_chargers_and_exits_0(run_gatehouse):
    proc = run_gatehouse("serve", "--headless", "--demo", "--duration", "8")
    assert proc.wait(timeout=40) == 0
    booted = proc.events("charger_booted")
    assert sorted({r["charger_id"] for r in booted}) == [f"CP-0{i}" for i in range(1, 7)]
    assert all(r["registration"] == "Accepted" for r in booted)
    versions = {r["charger_id"]: r["ocpp_version"] for r in proc.events("charger_connected")}
    assert sorted(set(versions.values())) == ["1.6", "2.0.1"]
    assert proc.events("core_stopped"), "no clean shutdown in the log"
    assert proc.errors() == []


def test_sigterm_and_ctrl_c_stop_cleanly(run_gatehouse):
    for sig in (signal.SIGTERM, signal.SIGINT):
        proc = run_gatehouse("serve", "--headless", "--demo")
        proc.wait_event("charger_booted", count=6, timeout=30)
        proc.popen.send_signal(sig)
        assert proc.wait(timeout=20) == 0, f"{sig.name}: non-zero exit"
        assert proc.events("db_closed"), f"{sig.name}: database not closed"
        # every charger link was closed by the server before exit
        assert len(proc.events("charger_disconnected")) == 6
        assert proc.errors() == []


def test_version_flag():
    out = subprocess.run([*gatehouse_cmd(), "--version"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0
    assert out.stdout.startswith("gatehouse ")
