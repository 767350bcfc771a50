"""OCPP load benchmark: N simulated chargers against `gatehouse serve --headless`.

    .venv/bin/python tests/bench/bench_ocpp.py --chargers 2000 --duration 60

Starts the real server as a subprocess (temp data dir, free port, no --demo, so the only
chargers are ours; the default unknown-charger policy accepts them), waits for its
`ready` log event, runs tests/bench/loadgen.py in a second process, samples the server's
CPU time and RSS from /proc, stops it with SIGTERM (the DB writer flushes) and counts the
rows it persisted. Prints a table with PASS/MISS per target of the issue:

    2,000 chargers, reply p99 < 50 ms, every meter value persisted.

Exits non-zero only when the harness itself fails, never on a missed target.
`--py-spy FILE` also profiles the server during the measured window (or the connection
ramp, `--py-spy-phase setup`) and prints where each thread spends it
(`.venv/bin/pip install py-spy`; needs ptrace permission). `--null` runs the same load
against a do-nothing server: the floor that the client and the machine add.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from loadgen import raise_fd_limit  # noqa: E402  (a script, not a package import)

TICK = os.sysconf("SC_CLK_TCK")
SPY_RATE = 100  # py-spy samples per second
P99_TARGET_MS = 50.0


# -- the server process, seen from /proc ----------------------------------------------


def cpu_s(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (or one of its threads) in seconds."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()  # comm may contain spaces
    return (int(fields[11]) + int(fields[12])) / TICK


def mem_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def machine_cpu() -> dict[str, float]:
    """Busy and stolen CPU seconds of the whole machine, all cores (from /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return {"busy": (user + nice + system + irq + softirq) / TICK, "steal": steal / TICK}


def threads_cpu(pid: int) -> dict[str, float]:
    """CPU per thread: the main (asyncio) thread by itself, the rest (DB writer...) summed."""
    main, other = 0.0, 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            t = cpu_s(pid, int(tid))
        except OSError:  # the thread ended meanwhile
            continue
        if int(tid) == pid:
            main = t
        else:
            other += t
    return {"main": main, "other": other}


class Server:
    def __init__(self, workdir: Path, src: Path | None = None,
                 heartbeat_s: int | None = None, null: bool = False) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.cwd = src or REPO
        exe = Path(sys.executable).with_name("gatehouse")
        # From another tree, `-m app.cli` with that tree as cwd imports its `app` first.
        cmd = [str(exe)] if exe.exists() and src is None else [sys.executable, "-m", "app.cli"]
        self.cmd = [*cmd, "serve", "--headless", "--data-dir", str(self.data_dir),
                    "--log-dir", str(workdir / "log"), "--ocpp-host", "127.0.0.1",
                    "--ocpp-port", "0", "--json-logging"]
        if heartbeat_s is not None:  # else the server's default (60 s)
            self.cmd += ["--heartbeat-interval", str(heartbeat_s)]
        if null:
            self.cmd = [sys.executable, str(HERE / "loadgen.py"), "--null-server", "0"]
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.ready = threading.Event()
        self.levels: dict[str, int] = {}
        # WARNING+ messages and non-JSON lines (tracebacks), grouped by their start.
        self.problems: dict[str, int] = {}
        self.rss_peak_kb = 0
        self._sampling = True

    def start(self, timeout: float = 60) -> None:
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        threading.Thread(target=self._read_log, daemon=True).start()
        threading.Thread(target=self._sample, daemon=True).start()
        if not self.ready.wait(timeout) or self.port is None:
            self.kill()
            raise RuntimeError("server did not log `ready`:\n" + "\n".join(self.problems))

    def _read_log(self) -> None:
        # Drained all the time: a full stderr pipe would stall the server's loop.
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                doc = json.loads(line)
            except ValueError:
                self._problem(line.rstrip())
                continue
            level = doc.get("level", "?")
            self.levels[level] = self.levels.get(level, 0) + 1
            if level in ("WARNING", "ERROR", "CRITICAL"):
                self._problem(f"{level} {doc.get('logger')}: {doc.get('msg')}")
            if doc.get("event") == "ready":
                self.port = doc.get("ocpp_port")
                self.ready.set()

    def _problem(self, text: str) -> None:
        key = re.sub(r"\d+", "#", text)[:110]  # group "unique_id=7" with "unique_id=8"
        self.problems[key] = self.problems.get(key, 0) + 1

    def _sample(self) -> None:
        # VmHWM is the kernel's own peak, but sampling also catches it if /proc vanishes.
        while self._sampling and self.proc is not None and self.proc.poll() is None:
            try:
                self.rss_peak_kb = max(self.rss_peak_kb, mem_kb(self.proc.pid)["VmRSS"])
            except (OSError, KeyError):
                return
            time.sleep(0.25)

    def snapshot(self) -> dict:
        assert self.proc is not None
        pid = self.proc.pid
        mem = mem_kb(pid)
        self.rss_peak_kb = max(self.rss_peak_kb, mem.get("VmHWM", 0), mem["VmRSS"])
        return {"t": time.monotonic(), "cpu": cpu_s(pid), **threads_cpu(pid),
                "machine": machine_cpu(),
                "rss_kb": mem["VmRSS"], "hwm_kb": mem.get("VmHWM", 0)}

    def stop(self, timeout: float = 60) -> tuple[int | None, float]:
        """SIGTERM and wait: (exit code or None if it had to be killed, seconds taken)."""
        assert self.proc is not None
        self._sampling = False
        t = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None, time.monotonic() - t
        return code, time.monotonic() - t

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# -- the database after the run ------------------------------------------------------


def count_rows(db: Path) -> dict[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: con.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]
                for n in sorted(names) if n != "alembic_version"}
    finally:
        con.close()


# -- where the server's time goes (py-spy raw output) ----------------------------------

_IDLE = ("select (selectors.py)", ".wait (threading.py)", "_worker (concurrent/")


def _short(frame: str) -> str:
    func, _, file = frame.partition(" (")
    return f"{func} ({file.rsplit('/', 1)[-1]}"


def pyspy_summary(path: Path, seconds: float, top: int = 6) -> list[str]:
    """Per busy thread, in % of its wall time, the top functions twice: the deepest frame
    of our code (who to fix) and the leaf frame (what the time is actually spent on)."""
    ours: dict[str, Counter[str]] = {}
    leaves: dict[str, Counter[str]] = {}
    wall = SPY_RATE * seconds  # samples per thread if it never slept
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        # The default executor's threads (asyncio_0, asyncio_1...) count as one.
        thread = re.sub(r"_\d+$", "_*", frames[0].split(": ", 1)[-1])
        n = int(count)
        funcs = [re.sub(r":\d+\)$", ")", f) for f in frames[1:]]
        if not funcs or any(mark in funcs[-1] for mark in _IDLE):
            continue
        app = next((_short(f) for f in reversed(funcs) if " (app/" in f), "(no app frame)")
        if app.startswith("run_command ("):  # only the entry point: the loop's own work
            app = "(event loop, websockets: no handler below)"
        ours.setdefault(thread, Counter())[app] += n
        leaves.setdefault(thread, Counter())[_short(funcs[-1])] += n
    out = ["", f"  py-spy {path}: busy time in % of one core over the phase"]
    for thread, where in sorted(ours.items(), key=lambda kv: -sum(kv[1].values())):
        busy = sum(where.values())
        if busy < 0.03 * wall:
            continue
        out.append(f"    {thread}: busy {100 * busy / wall:.0f}%")
        for label, counter in (("in app", where), ("leaf", leaves[thread])):
            out += [f"      {label:6} {100 * k / wall:5.1f}%  {func}"
                    for func, k in counter.most_common(top)]
    if len(out) == 2:
        out.append("    no thread was busy more than 3% of the time")
    return out


class Spy:
    """`py-spy record` of the server over one phase; SIGINT ends it and writes the file."""

    def __init__(self, pid: int, out: Path) -> None:
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.out = out
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--rate", str(SPY_RATE), "--threads",
             "--format", "raw", "--output", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> list[str]:
        seconds = time.monotonic() - self.t0
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(30)
        if code != 0 or not self.out.exists():
            return [f"  py-spy failed (exit {code}): is it installed, may it ptrace?"]
        return pyspy_summary(self.out, seconds)


# -- the report ------------------------------------------------------------------------


def fmt_lat(p: dict) -> str:
    if not p.get("n"):
        return f"{'-':>8}{'-':>8}{'-':>8}{'-':>9}"
    return f"{p['p50']:8.1f}{p['p95']:8.1f}{p['p99']:8.1f}{p['max']:9.1f}"


def report(args, res: dict, snaps: dict, rss_peak_kb: int, server: Server,
           stop: tuple[int | None, float], rows: dict[str, int]) -> None:
    steady, start, end = snaps["steady"], snaps["start"], snaps["end"]
    window = end["t"] - steady["t"]
    steady_msgs = res["steady_sent"]
    total_msgs = sum(res["sent"].values())
    cpu_steady = end["cpu"] - steady["cpu"]
    cpu_all = end["cpu"] - start["cpu"]
    idle_cpu = (start["cpu"] - snaps["idle"]["cpu"]) / (start["t"] - snaps["idle"]["t"])
    busy = end["machine"]["busy"] - steady["machine"]["busy"]
    steal = end["machine"]["steal"] - steady["machine"]["steal"]
    others = max(0.0, busy - cpu_steady - res["client_cpu_steady_s"])
    noisy = " (NOISY: reply times overstated)" if others > 0.1 * window else ""
    lines = [
        "",
        f"Gatehouse OCPP benchmark — {res['chargers']} chargers "
        f"({res['v201_chargers']} on 2.0.1), meter value every {args.meter_interval:g} s, "
        f"measured window {res['steady_s']:.1f} s after a {res['setup_s']:.1f} s ramp/setup",
        f"  connected {res['connected']}/{res['chargers']}, boot {res['boot_status']}, "
        f"transactions started {res['transactions_started']}",
    ]
    if res["connect_errors"]:
        lines.append(f"  connect errors: {res['connect_errors']}")
    lines += [
        "",
        f"  {'reply time (ms)':<28}{'sent':>8}{'ok':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>9}",
    ]
    for action, p in res["latency_ms"].items():
        lines.append(f"  {action:<28}{res['sent'].get(action, 0):8d}"
                     f"{res['replied'].get(action, 0):8d}{fmt_lat(p)}")
    lines.append(f"  {'all, whole run':<28}{total_msgs:8d}"
                 f"{sum(res['replied'].values()):8d}{fmt_lat(res['latency_all_ms'])}")
    for action, p in res["steady_latency_ms"].items():
        lines.append(f"  {'  window: ' + action:<28}{p['n']:8d}{'':8}{fmt_lat(p)}")
    lines.append(f"  {'all, measured window':<28}{steady_msgs:8d}{'':8}"
                 f"{fmt_lat(res['steady_latency_all_ms'])}")
    lag = res["client_loop_lag_ms"]
    slow = ", ".join(f"t+{sec}s {ms:.0f}" for sec, ms in res["slow_seconds"])
    lines.append(f"  worst seconds (max ms)     {slow}; seconds with a reply > 50 ms: "
                 f"{res['slow_seconds_over_50ms']} of {int(res['steady_s'])}")
    lines += [
        "",
        f"  messages/s (window)        {steady_msgs / max(res['steady_s'], 1e-9):10.1f}",
        f"  CALLERRORs                 {res['errors'] or 'none'}",
        f"  timeouts                   {res['timeouts'] or 'none'}; unexpected closes "
        f"{res['unexpected_closes']}; ticks >1 s late {res['late_ticks']}",
        f"  server CPU / message       {1000 * cpu_steady / max(steady_msgs, 1):10.2f} ms "
        f"(window; {100 * cpu_steady / max(window, 1e-9):.0f}% of one core: main thread "
        f"{end['main'] - steady['main']:.1f} s, other threads "
        f"{end['other'] - steady['other']:.1f} s)",
        f"                             {1000 * cpu_all / max(total_msgs, 1):10.2f} ms "
        f"(whole run incl. connects, {cpu_all:.1f} s CPU)",
        f"  server idle CPU            {100 * idle_cpu:.1f}% of one core (before any charger)",
        f"  server RSS                 start {start['rss_kb'] / 1024:.0f} MiB, "
        f"peak {rss_peak_kb / 1024:.0f} MiB, end {end['rss_kb'] / 1024:.0f} MiB",
        f"  server stop (SIGTERM)      exit {stop[0]} after {stop[1]:.1f} s",
        f"  server log lines           {server.levels}",
        f"  client (loadgen) CPU       {res['client_cpu_steady_s']:.1f} s in window; loop lag "
        f"p99 {lag.get('p99', 0):.1f} ms, max {lag.get('max', 0):.1f} ms",
        # Figures are only clean when nothing else competes for the cores.
        f"  machine ({os.cpu_count()} cores)        "
        f"{100 * busy / window:.0f}% of one core busy in window, of which other processes "
        f"{100 * others / window:.0f}%{noisy}"
        f"; stolen by the hypervisor {100 * steal / window:.0f}%",
        "",
        f"  rows persisted             {rows}",
    ]
    meter_rows = next((rows[t] for t in ("meter_samples", "meter_values") if t in rows), None)
    lines.append(f"  meter values               sent {res['meter_sent']}, acknowledged "
                 f"{res['meter_acked']}, rows {meter_rows if meter_rows is not None else 'n/a'}")
    lines.append(f"  status changes             acknowledged {res['status_changes_acked']}, "
                 f"rows {rows.get('status_changes', 'n/a')}")
    top = sorted(server.problems.items(), key=lambda kv: -kv[1])
    for text, n in top[:8]:
        lines.append(f"  server said {n:6d}x: {text}")
    if len(top) > 8:
        lines.append(f"  ... and {len(top) - 8} more kinds of WARNING+ lines")

    p99 = res["steady_latency_all_ms"].get("p99", float("inf"))
    targets = [
        (f"{args.chargers} chargers connected and accepted",
         res["boot_status"].get("Accepted", 0) == args.chargers),
        (f"reply p99 < {P99_TARGET_MS:g} ms (window, all types): {p99:.1f} ms",
         p99 < P99_TARGET_MS),
        ("no timeouts, no unexpected closes",
         not res["timeouts"] and not res["unexpected_closes"]),
        ("every meter value acknowledged (CALLRESULT)",
         res["meter_sent"] > 0 and res["meter_acked"] == res["meter_sent"]),
        ("every meter value persisted (rows >= sent)",
         meter_rows is not None and res["meter_sent"] > 0 and meter_rows >= res["meter_sent"]),
    ]
    lines.append("")
    lines += [f"  {'PASS' if ok else 'MISS'}  {name}" for name, ok in targets]
    print("\n".join(lines), flush=True)


# -- the run ---------------------------------------------------------------------------


def run(args) -> int:
    raise_fd_limit()  # inherited by both children
    workdir = Path(tempfile.mkdtemp(prefix="gatehouse-bench-"))
    server = Server(workdir, args.src, args.heartbeat_interval, args.null)
    loadgen: subprocess.Popen | None = None
    spy: Spy | None = None
    spy_lines: list[str] = []
    try:
        server.start()
        assert server.proc is not None
        print(f"server pid {server.proc.pid} on port {server.port}, data in {workdir}",
              file=sys.stderr, flush=True)
        # Two idle seconds first: the background cost that every per-message figure includes.
        snaps = {"idle": server.snapshot()}
        time.sleep(2)
        snaps["start"] = server.snapshot()
        loadgen = subprocess.Popen(
            [sys.executable, str(HERE / "loadgen.py"),
             "--url", f"ws://127.0.0.1:{server.port}/ocpp", "--chargers", str(args.chargers),
             "--duration", str(args.duration), "--ramp-rate", str(args.ramp_rate),
             "--meter-interval", str(args.meter_interval),
             "--v201-share", str(args.v201_share)],
            stdout=subprocess.PIPE, text=True, bufsize=1, cwd=REPO)
        if args.py_spy and args.py_spy_phase == "setup":
            spy = Spy(server.proc.pid, args.py_spy)
        assert loadgen.stdout is not None
        result = None
        for line in loadgen.stdout:  # JSON lines: "steady", then "result"
            doc = json.loads(line)
            if doc["event"] == "steady":
                snaps["steady"] = server.snapshot()
                print(f"all set up after {doc['setup_s']} s ({doc['connected']} connected); "
                      f"measuring {args.duration:g} s", file=sys.stderr, flush=True)
                if spy is not None:
                    spy_lines = spy.stop()
                    spy = None
                elif args.py_spy:
                    spy = Spy(server.proc.pid, args.py_spy)
            elif doc["event"] == "result":
                snaps["end"] = server.snapshot()
                result = doc
                if spy is not None:
                    spy_lines = spy.stop()
                    spy = None
        if loadgen.wait() != 0 or result is None or "steady" not in snaps:
            raise RuntimeError(f"loadgen failed (exit {loadgen.returncode})")
        stop = server.stop()
        if stop[0] is None:
            raise RuntimeError("server did not stop within 60 s of SIGTERM")
        db = server.data_dir / "gatehouse.db"
        rows = count_rows(db) if db.exists() else {}
        report(args, result, snaps, server.rss_peak_kb, server, stop, rows)
        if spy_lines:
            print("\n".join(spy_lines), flush=True)
        return 0
    except Exception as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if loadgen is not None and loadgen.poll() is None:
            loadgen.kill()
        if spy is not None and spy.proc.poll() is None:
            spy.proc.kill()
        server.kill()
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="OCPP load benchmark (see the module docstring)")
    p.add_argument("--chargers", type=int, default=2000)
    p.add_argument("--duration", type=float, default=60, help="measured seconds after setup")
    p.add_argument("--ramp-rate", type=float, default=200, help="new connections per second")
    p.add_argument("--meter-interval", type=float, default=10)
    p.add_argument("--heartbeat-interval", type=int, default=None, metavar="SECONDS",
                   help="given to the server, which tells the chargers at boot "
                        "(default: the server's own, 60 s)")
    p.add_argument("--v201-share", type=float, default=0.1)
    p.add_argument("--py-spy", type=Path, metavar="FILE",
                   help="record the server with py-spy (raw format) and summarise it")
    p.add_argument("--py-spy-phase", choices=["window", "setup"], default="window",
                   help="profile the measured window (default) or the connection ramp")
    p.add_argument("--src", type=Path, metavar="DIR",
                   help="run the server from this source tree instead of the repo (e.g. a "
                        "`git archive HEAD` snapshot while the working tree is mid-edit)")
    p.add_argument("--null", action="store_true",
                   help="against loadgen's do-nothing server instead: the client's floor")
    p.add_argument("--keep", action="store_true", help="keep the temp data and log dir")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
