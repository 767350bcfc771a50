"""The console window as a process (offscreen): starts, runs the demo, exits 0."""

import signal


def test_console_demo_starts_and_stops_on_sigterm(run_gatehouse):
    proc = run_gatehouse("--demo")
    ready = proc.wait_event("ready", timeout=30)
    assert ready[0]["ocpp_url"].startswith("ws://127.0.0.1:")
    proc.wait_event("charger_booted", count=6, timeout=30)
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert proc.events("db_closed")
    assert proc.errors() == []


def test_console_stops_on_ctrl_c(run_gatehouse):
    proc = run_gatehouse("--demo")
    proc.wait_event("ready", timeout=30)
    proc.popen.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert proc.events("core_stopped")
