"""Smoke test of the frozen Gatehouse: the build fails unless this exits 0.

Standard library only, so it runs anywhere the build runs (and drives a Gatehouse inside
a Debian chroot from outside it). Each step runs the frozen program as a subprocess and
reads its JSON log lines (`event` keys) as the oracle:

1. `--version` prints the version being built;
2. the self-check (GATEHOUSE_SELFCHECK=1): OCPP schemas, Alembic scripts, resources,
   OpenCV cascades, Qt plugins, every bundled shared library loads;
3. `serve --headless --demo --duration 8` on a new data folder: the database is created and
   migrated to head, the demo site seeded, 6 simulated chargers boot over loopback;
4. the same again on the same folder: the site is read back from the database, no
   migration runs, the 6 chargers boot again (the database was written and read);
5. a live site: `import site` from CSV and `user add --role admin` (the CLI writes), then
   `serve --headless` with one external OCPP 1.6 charger (a tiny websocket client here:
   BootNotification, StatusNotification, Heartbeat), then `chargers` and `user list`
   read it all back from another process;
6. Linux: the console window itself (offscreen Qt) starts on the demo site and stops.

    python packaging/smoke_test.py dist/gatehouse/gatehouse [--expect-version 0.1.0]
    python packaging/smoke_test.py --exe "chroot ROOT /usr/bin/gatehouse" \
        --data-root /tmp/smoke --host-root ROOT       # the .deb inside a Debian root
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEMO_CHARGERS = [f"CP-0{i}" for i in range(1, 7)]
POSIX = os.name == "posix"


class SmokeFailure(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def head_revision(source: Path = ROOT) -> str | None:
    revisions = []
    for path in (source / "app" / "adapters" / "db" / "migrations" / "versions").glob("*.py"):
        match = re.search(r'^revision\s*=\s*"([^"]+)"', path.read_text("utf-8"), re.M)
        if match:
            revisions.append(match.group(1))
    return max(revisions) if revisions else None


def project_version(source: Path = ROOT) -> str:
    text = (source / "pyproject.toml").read_text("utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    check(match is not None, "no version in pyproject.toml")
    return match.group(1)


class Run:
    """One run of the frozen program, its stderr JSON lines collected on a thread."""

    def __init__(self, exe: list[str], args: list[str], *, env: dict | None = None,
                 stdin: str | None = None) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            [*exe, *args], stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
            errors="replace", env={**os.environ, **(env or {})})
        self.records: list[dict] = []
        self.raw: list[str] = []
        self.stdout = ""
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._out = threading.Thread(target=self._read_out, daemon=True)
        self._err.start()
        self._out.start()
        if stdin is not None:
            assert self.popen.stdin is not None
            self.popen.stdin.write(stdin)
            self.popen.stdin.close()

    def _read_err(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.raw.append(line)
            with contextlib.suppress(json.JSONDecodeError):
                doc = json.loads(line)
                if isinstance(doc, dict):
                    self.records.append(doc)

    def _read_out(self) -> None:
        assert self.popen.stdout is not None
        self.stdout = self.popen.stdout.read()

    def events(self, name: str) -> list[dict]:
        return [r for r in self.records if r.get("event") == name]

    def wait_event(self, name: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if found:
                return found[0]
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise SmokeFailure(f"{' '.join(self.args[:3])}: no {name!r} event\n{self.tail()}")

    def wait(self, timeout: float) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
            raise SmokeFailure(f"{' '.join(self.args[:3])}: still running after "
                               f"{timeout:.0f} s\n{self.tail()}") from None
        self._err.join(10)
        self._out.join(10)
        return code

    def errors(self) -> list[dict]:
        return [r for r in self.records if r.get("level") in ("ERROR", "CRITICAL")]

    def tail(self, lines: int = 25) -> str:
        return "".join(self.raw[-lines:])

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)


# -- a minimal OCPP-J 1.6 charger over a hand-written websocket (RFC 6455) client ----------


class MiniCharger:
    def __init__(self, host: str, port: int, charger_id: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /ocpp/{charger_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n")
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            check(bool(chunk), "the OCPP server closed the connection during the handshake")
            head += chunk
        status = head.split(b"\r\n", 1)[0].decode()
        check(" 101 " in status + " ", f"websocket handshake refused: {status}")
        self._buffer = head.split(b"\r\n\r\n", 1)[1]
        self._next_id = 0

    def _recv_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            check(bool(chunk), "the OCPP server closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _recv_text(self) -> str:
        while True:
            b0, b1 = self._recv_exact(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._recv_exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._recv_exact(8), "big")
            payload = self._recv_exact(n)
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                raise SmokeFailure("the OCPP server closed the websocket")
            elif opcode == 0x1:
                return payload.decode()

    def call(self, action: str, payload: dict) -> dict:
        self._next_id += 1
        unique = f"smoke-{self._next_id}"
        self._send_frame(0x1, json.dumps([2, unique, action, payload]).encode())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            message = json.loads(self._recv_text())
            if message[0] == 2:  # a call from the central system: answer it politely
                self._send_frame(0x1, json.dumps([3, message[1], {}]).encode())
                continue
            if message[1] == unique:
                check(message[0] == 3, f"{action}: CALLERROR {message}")
                return message[2]
        raise SmokeFailure(f"{action}: no answer")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, (1000).to_bytes(2, "big"))
            self.sock.close()


# -- the steps ------------------------------------------------------------------------------


class Smoke:
    def __init__(self, exe: list[str], data_root: str, host_root: Path | None,
                 expect_version: str, expect_head: str | None, gui: bool) -> None:
        self.exe = exe
        self.data_root = data_root.rstrip("/\\")
        self.host_root = host_root
        self.expect_version = expect_version
        self.expect_head = expect_head
        self.gui = gui
        self.env = {"QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}

    def inside(self, name: str) -> str:
        """A path as the frozen program sees it."""
        return f"{self.data_root}/{name}"

    def on_host(self, name: str) -> Path:
        """The same path as this script sees it (through the chroot's folder, if any)."""
        inner = self.inside(name)
        if self.host_root is None:
            return Path(inner)
        return self.host_root / inner.lstrip("/")

    def common(self, data: str) -> list[str]:
        return ["--data-dir", self.inside(data), "--log-dir", self.inside("logs"),
                "--json-logging"]

    def run(self, *args: str, stdin: str | None = None, timeout: float = 60,
            ok: bool = True) -> Run:
        proc = Run(self.exe, list(args), env=self.env, stdin=stdin)
        code = proc.wait(timeout)
        if ok:
            check(code == 0, f"`gatehouse {' '.join(args)}` exited {code}\n{proc.tail()}"
                             f"{proc.stdout[-2000:]}")
            check(not proc.errors(), f"`gatehouse {' '.join(args[:3])}` logged errors: "
                                     f"{proc.errors()}")
        return proc

    def step_version(self) -> str:
        out = self.run("--version").stdout.strip()
        check(out == f"gatehouse {self.expect_version}",
              f"--version printed {out!r}, expected 'gatehouse {self.expect_version}'")
        return out

    def step_selfcheck(self) -> str:
        proc = Run(self.exe, [], env={**self.env, "GATEHOUSE_SELFCHECK": "1"})
        code = proc.wait(120)
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            raise SmokeFailure(f"self-check printed no JSON (exit {code})\n{proc.stdout[-3000:]}"
                               f"\n{proc.tail()}") from None
        bad = {k: v for k, v in report["checks"].items() if not v.get("ok")}
        check(code == 0 and not bad, f"self-check failed: {json.dumps(bad, indent=2)}")
        check(report.get("frozen") is True, "the self-check did not run frozen")
        libs = report["checks"]["shared_libraries"]
        return (f"{len(report['checks'])} checks; Qt {report['checks']['qt']['platform']}; "
                f"{libs.get('loaded', libs.get('skipped'))} shared libraries")

    def _demo(self, first: bool) -> str:
        proc = self.run("serve", "--headless", "--demo", "--duration", "8", "--ocpp-port", "0",
                        *self.common("demo"), timeout=90)
        booted = {r["charger_id"] for r in proc.events("charger_booted")
                  if r.get("registration") == "Accepted"}
        check(sorted(booted) == DEMO_CHARGERS, f"chargers booted: {sorted(booted)}\n"
                                               f"{proc.tail()}")
        for event in ("ready", "core_stopped", "db_closed"):
            check(bool(proc.events(event)), f"no {event!r} event\n{proc.tail()}")
        migrated = proc.events("db_migrated")
        seeded = proc.events("demo_seeded")
        if first:
            check(len(migrated) == 1 and bool(seeded), "first run: the database was not "
                                                       "created and seeded")
            if self.expect_head:
                check(migrated[0].get("after") == self.expect_head,
                      f"migrated to {migrated[0].get('after')}, expected {self.expect_head}")
            return f"database created at {migrated[0].get('after')}, 6/6 chargers booted"
        check(not migrated, "second run: migrations ran again")
        check(not seeded, "second run: the demo site was not read back from the database")
        return "site read back from the database, no migration, 6/6 chargers booted"

    def step_demo_first(self) -> str:
        return self._demo(first=True)

    def step_demo_again(self) -> str:
        return self._demo(first=False)

    def step_live_site(self) -> str:
        csv_dir = self.on_host("csv")
        csv_dir.mkdir(parents=True, exist_ok=True)
        (csv_dir / "chargers.csv").write_text(
            "id;ocpp_version;connectors;label;max_power_w\nSMOKE-01;1.6;2;Smoke test;22 kW\n",
            encoding="utf-8")
        (csv_dir / "bays.csv").write_text(
            "id;label;zone;charger_id;connector_id\nB1;Bay 1;EV;SMOKE-01;1\n"
            "B2;Bay 2;EV;SMOKE-01;2\n", encoding="utf-8")
        self.run("import", "site", self.inside("csv/chargers.csv"),
                 self.inside("csv/bays.csv"), "--name", "Smoke site", *self.common("site"))
        self.run("user", "add", "admin", "--role", "admin", "--password-stdin",
                 *self.common("site"), stdin="smoke-test-password\n")
        duration = "6" if POSIX else "12"
        server = Run(self.exe, ["serve", "--headless", "--ocpp-host", "127.0.0.1",
                                "--ocpp-port", "0", "--duration", duration,
                                *self.common("site")], env=self.env)
        try:
            ready = server.wait_event("ready", timeout=60)
            port = int(ready["ocpp_port"])
            charger = MiniCharger("127.0.0.1", port, "SMOKE-01")
            try:
                boot = charger.call("BootNotification", {
                    "chargePointVendor": "Smoke", "chargePointModel": "Test",
                    "chargePointSerialNumber": "S-1", "firmwareVersion": "1.0"})
                check(boot.get("status") == "Accepted", f"BootNotification: {boot}")
                status = charger.call("StatusNotification", {
                    "connectorId": 1, "errorCode": "NoError", "status": "Available"})
                check(status == {}, f"StatusNotification: {status}")
                beat = charger.call("Heartbeat", {})
                check("currentTime" in beat, f"Heartbeat: {beat}")
            finally:
                charger.close()
            server.wait_event("charger_booted", timeout=10)
            if POSIX:
                server.popen.send_signal(signal.SIGTERM)
            code = server.wait(60)
        finally:
            server.kill()
        check(code == 0, f"the live server exited {code}\n{server.tail()}")
        check(not server.errors(), f"the live server logged errors: {server.errors()}")
        check(bool(server.events("db_closed")), "the live server did not close the database")
        chargers = json.loads(self.run("chargers", "--format", "json",
                                       *self.common("site")).stdout)
        smoke = next((c for c in chargers if c["id"] == "SMOKE-01"), None)
        check(smoke is not None and smoke["vendor"] == "Smoke"
              and smoke["registration"] == "Accepted" and smoke["configured"],
              f"`gatehouse chargers` does not show the booted charger: {chargers}")
        users = json.loads(self.run("user", "list", "--format", "json",
                                    *self.common("site")).stdout)
        check([(u["username"], u["role"]) for u in users] == [("admin", "admin")],
              f"`gatehouse user list`: {users}")
        return (f"CSV import + admin, one OCPP 1.6 charger on port {port} (boot, status, "
                "heartbeat), read back by `chargers` and `user list`")

    def step_console(self) -> str:
        proc = Run(self.exe, ["--demo", "--ocpp-port", "0", *self.common("console")],
                   env=self.env)
        try:
            proc.wait_event("ready", timeout=60)
            time.sleep(1.0)
            proc.popen.send_signal(signal.SIGTERM)
            code = proc.wait(60)
        finally:
            proc.kill()
        check(code == 0, f"the console exited {code}\n{proc.tail()}")
        check(not proc.errors(), f"the console logged errors: {proc.errors()}")
        return "offscreen console window on the demo site, SIGTERM, exit 0"

    def steps(self) -> list[tuple[str, object]]:
        steps = [("version", self.step_version), ("self-check", self.step_selfcheck),
                 ("demo, new database", self.step_demo_first),
                 ("demo, same database", self.step_demo_again),
                 ("live site + external charger", self.step_live_site)]
        if self.gui and POSIX:
            steps.append(("console window", self.step_console))
        return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("program", nargs="?", help="the frozen gatehouse executable")
    parser.add_argument("--exe", help="the command that runs gatehouse, as one shell-quoted "
                        "string (e.g. 'chroot ROOT /usr/bin/gatehouse')")
    parser.add_argument("--data-root", help="folder for the test's data, as the program "
                        "sees it (default: a new temporary folder)")
    parser.add_argument("--host-root", type=Path, help="where the program's / is on this "
                        "machine (a chroot's folder)")
    parser.add_argument("--expect-version", default=None,
                        help="default: the version in pyproject.toml")
    parser.add_argument("--no-gui", action="store_true", help="skip the console window step")
    args = parser.parse_args(argv)
    if args.exe:
        exe = shlex.split(args.exe)
    elif args.program:
        exe = [str(Path(args.program).resolve())]
    else:
        parser.error("give the program or --exe")
    temp = None
    if args.data_root is None:
        temp = tempfile.mkdtemp(prefix="gatehouse-smoke-")
        data_root = temp
    else:
        data_root = args.data_root
    smoke = Smoke(exe, data_root, args.host_root,
                  args.expect_version or project_version(), head_revision(), not args.no_gui)
    started = time.monotonic()
    failed = 0
    print(f"smoke test of {' '.join(exe)} (data in {data_root})", flush=True)
    for name, step in smoke.steps():
        t0 = time.monotonic()
        try:
            detail = step()  # type: ignore[operator]
        except SmokeFailure as exc:
            failed += 1
            print(f"FAIL  {name} ({time.monotonic() - t0:.1f} s): {exc}", flush=True)
            break  # later steps build on earlier ones
        print(f"ok    {name} ({time.monotonic() - t0:.1f} s): {detail}", flush=True)
    total = len(smoke.steps())
    if failed:
        print(f"smoke test FAILED after {time.monotonic() - started:.1f} s "
              f"(data kept in {data_root})", flush=True)
        return 1
    if temp is not None:
        shutil.rmtree(temp, ignore_errors=True)
    print(f"smoke test passed: {total} steps in {time.monotonic() - started:.1f} s", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
