"""Load generator: N lightweight OCPP-J chargers in one process. bench_ocpp.py runs it.

Standalone, against a server you started yourself:

    .venv/bin/python tests/bench/loadgen.py --url ws://127.0.0.1:9000/ocpp \
        --chargers 100 --duration 30

Each charger: BootNotification, StatusNotification Available per connector, a
transaction on connector 1 (StartTransaction + StatusNotification Charging in 1.6,
TransactionEvent Started in 2.0.1), then one meter value every --meter-interval s
(1.6 MeterValues, 2.0.1 TransactionEvent Updated) plus a Heartbeat at the interval the
server returned. Start times are staggered so the load is smooth.

Frames are hand-written JSON, not the ocpp library's ChargePoint: its per-frame schema
validation and dataclass conversion would make this client, sharing the machine's two
cores with the server, the bottleneck. Like a real charger, each one has at most one
CALL outstanding (OCPP-J), so a slow server delays that charger's next message.

Output on stdout, one JSON object per line: {"event": "steady", ...} once every charger
has finished its setup (the measured window starts there and lasts --duration s), then
{"event": "result", ...} with counts and reply times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import math
import random
import resource
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

CALL, CALLRESULT, CALLERROR = 2, 3, 4
CONNECTORS = 2
POWER_W = 7400.0
_CLOSED = object()  # a pending call's result when the link drops


def raise_fd_limit() -> int:
    """Every charger is a socket; the default soft limit (often 1024) is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def percentiles(values: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles in ms; empty input gives n=0 only."""
    if not values:
        return {"n": 0}
    s = sorted(values)

    def rank(p: float) -> float:
        return round(s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))], 2)

    return {"n": len(s), "p50": rank(50), "p95": rank(95), "p99": rank(99),
            "max": round(s[-1], 2)}


class Stats:
    """Shared by all chargers; everything runs on one event loop, so no locks."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.replied: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # "Action:ErrorCode"
        self.timeouts: Counter[str] = Counter()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.steady_latency: dict[str, list[float]] = defaultdict(list)
        # Worst reply per second of the window: tells a steady tail from a few stalls.
        self.worst_by_second: dict[int, float] = {}
        self.steady_at: float | None = None  # perf_counter when every charger was set up
        self.connect_errors: Counter[str] = Counter()
        self.connected = 0
        self.set_up = 0
        self.boot_status: Counter[str] = Counter()
        self.unexpected_closes = 0
        self.server_calls: Counter[str] = Counter()
        self.meter_sent = 0
        self.meter_acked = 0
        self.status_changes_acked = 0  # reports that change a connector's status
        self.transactions_started = 0
        self.late_ticks = 0

    def record(self, action: str, sent_at: float, received_at: float) -> None:
        ms = (received_at - sent_at) * 1000
        self.latency[action].append(ms)
        if self.steady_at is not None and sent_at >= self.steady_at:
            self.steady_latency[action].append(ms)
            sec = int(sent_at - self.steady_at)
            self.worst_by_second[sec] = max(ms, self.worst_by_second.get(sec, 0.0))


class Charger:
    def __init__(self, n: int, url: str, v201: bool, stats: Stats, args: argparse.Namespace):
        self.id = f"BENCH-{n}"
        self.url = f"{url.rstrip('/')}/{self.id}"
        self.v201 = v201
        self.stats = stats
        self.args = args
        self.ws: ClientConnection | None = None
        self.pending: dict[str, tuple[str, float, asyncio.Future]] = {}
        self.seq = itertools.count(1)
        self.energy_wh = random.uniform(0, 50_000)
        self.tx_id: int | str | None = None
        self.tx_seq = 0
        self.stopping = False

    # -- OCPP-J plumbing ---------------------------------------------------------

    async def call(self, action: str, payload: dict) -> dict | None:
        """Send a CALL, await its reply. None on CALLERROR, timeout or a closed link."""
        assert self.ws is not None
        uid = str(next(self.seq))
        fut = asyncio.get_running_loop().create_future()
        frame = json.dumps([CALL, uid, action, payload], separators=(",", ":"))
        self.pending[uid] = (action, time.perf_counter(), fut)
        self.stats.sent[action] += 1
        try:
            await self.ws.send(frame)
            result = await asyncio.wait_for(fut, self.args.reply_timeout)
            return None if result is _CLOSED else result
        except TimeoutError:
            self.stats.timeouts[action] += 1
            return None
        except ConnectionClosed:
            return None
        finally:
            self.pending.pop(uid, None)

    async def reader(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                t = time.perf_counter()
                try:
                    msg = json.loads(raw)
                    kind, uid = msg[0], msg[1]
                except (ValueError, TypeError, IndexError, KeyError):
                    self.stats.errors["(unparseable frame from server)"] += 1
                    continue
                if kind == CALL:  # the server asks something: we implement nothing
                    self.stats.server_calls[msg[2]] += 1
                    await self.ws.send(json.dumps([CALLERROR, msg[1], "NotImplemented", "", {}]))
                    continue
                entry = self.pending.get(uid)
                if entry is None:  # a reply after our timeout
                    continue
                action, sent_at, fut = entry
                self.stats.record(action, sent_at, t)
                if kind == CALLRESULT:
                    self.stats.replied[action] += 1
                    if not fut.done():
                        fut.set_result(msg[2])
                else:
                    self.stats.errors[f"{action}:{msg[2]}"] += 1
                    if not fut.done():
                        fut.set_result(None)
        except ConnectionClosed:
            pass
        finally:
            if not self.stopping:
                self.stats.unexpected_closes += 1
            # A result, not an exception: a call that failed in send() before awaiting
            # its future would leave "exception was never retrieved" noise.
            for _action, _t, fut in self.pending.values():
                if not fut.done():
                    fut.set_result(_CLOSED)

    # -- the charger's life ------------------------------------------------------

    async def run(self, gen: LoadGen) -> None:
        stats = self.stats
        try:
            self.ws = await connect(
                self.url,
                subprotocols=["ocpp2.0.1" if self.v201 else "ocpp1.6"],
                # Embedded chargers rarely negotiate permessage-deflate; the server
                # pings (30 s), so the client need not.
                compression="deflate" if self.args.deflate else None,
                ping_interval=None,
                open_timeout=self.args.reply_timeout,
            )
        except Exception as exc:
            stats.connect_errors[f"{type(exc).__name__}: {exc}"[:160]] += 1
            gen.charger_set_up()
            return
        stats.connected += 1
        reader = asyncio.create_task(self.reader())
        try:
            try:
                hb_interval = await self.setup()
            finally:
                gen.charger_set_up()  # even when setup failed: the window must not wait
            if hb_interval is not None:
                await self.steady(gen, hb_interval)
        finally:
            self.stopping = True
            with contextlib.suppress(Exception):
                await self.ws.close()
            await reader

    async def setup(self) -> float | None:
        """Boot, statuses, a transaction. Returns the heartbeat interval, None if refused."""
        stats = self.stats
        if self.v201:
            boot = await self.call("BootNotification", {
                "chargingStation": {"model": "Bench", "vendorName": "Gatehouse"},
                "reason": "PowerUp"})
        else:
            boot = await self.call("BootNotification", {
                "chargePointVendor": "Gatehouse", "chargePointModel": "Bench"})
        status = (boot or {}).get("status", "no reply")
        stats.boot_status[status] += 1
        if status != "Accepted":
            return None
        interval = float(self.args.heartbeat_interval or boot.get("interval") or 60)
        for c in range(1, CONNECTORS + 1):
            # An accepted StatusNotification replies {}: test for None, not falsiness.
            if await self.call("StatusNotification", self.status_payload(c, "Available")) \
                    is not None:
                stats.status_changes_acked += 1
        await self.start_transaction()
        return interval

    def status_payload(self, connector: int, status: str) -> dict:
        if self.v201:
            return {"timestamp": now_iso(), "connectorStatus": status, "evseId": connector,
                    "connectorId": 1}
        return {"connectorId": connector, "errorCode": "NoError", "status": status,
                "timestamp": now_iso()}

    async def start_transaction(self) -> None:
        stats = self.stats
        if self.v201:
            self.tx_id = f"{self.id}-tx1"
            ok = await self.call("TransactionEvent", {
                "eventType": "Started", "timestamp": now_iso(), "triggerReason": "Authorized",
                "seqNo": self.tx_seq, "evse": {"id": 1, "connectorId": 1},
                "idToken": {"idToken": "BENCHTAG", "type": "ISO14443"},
                "transactionInfo": {"transactionId": self.tx_id, "chargingState": "Charging"}})
            self.tx_seq += 1
            if ok is not None:
                stats.transactions_started += 1
                stats.status_changes_acked += 1  # chargingState Charging moves connector 1
            return
        reply = await self.call("StartTransaction", {
            "connectorId": 1, "idTag": "BENCHTAG", "meterStart": int(self.energy_wh),
            "timestamp": now_iso()})
        # A server without transactions answers NotImplemented: meter values then go
        # without a transactionId, as from a charger charging outside a transaction.
        if reply is not None and isinstance(reply.get("transactionId"), int):
            self.tx_id = reply["transactionId"]
            stats.transactions_started += 1
        if await self.call("StatusNotification", self.status_payload(1, "Charging")) is not None:
            stats.status_changes_acked += 1

    async def steady(self, gen: LoadGen, hb_interval: float) -> None:
        loop = asyncio.get_running_loop()
        meter_every = self.args.meter_interval
        now = loop.time()
        next_meter = now + random.uniform(0, meter_every)  # stagger: smooth load
        next_hb = now + random.uniform(0, hb_interval)
        while self.ws is not None and self.ws.state is State.OPEN:
            due = min(next_meter, next_hb)
            wait = min(due, gen.stop_at) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = loop.time()
            if now >= gen.stop_at:
                return
            if now < due:
                continue
            if now - due > 1.0:
                self.stats.late_ticks += 1
            if next_meter <= next_hb:
                await self.send_meter(meter_every)
                next_meter = max(next_meter + meter_every, loop.time())
            else:
                await self.call("Heartbeat", {})
                next_hb = max(next_hb + hb_interval, loop.time())

    async def send_meter(self, interval: float) -> None:
        power = POWER_W * random.uniform(0.95, 1.05)
        self.energy_wh += power * interval / 3600
        ts = now_iso()
        self.stats.meter_sent += 1
        if self.v201:
            reply = await self.call("TransactionEvent", {
                "eventType": "Updated", "timestamp": ts, "triggerReason": "MeterValuePeriodic",
                "seqNo": self.tx_seq, "evse": {"id": 1, "connectorId": 1},
                "transactionInfo": {"transactionId": self.tx_id, "chargingState": "Charging"},
                "meterValue": [{"timestamp": ts, "sampledValue": [
                    {"value": round(self.energy_wh, 1),
                     "measurand": "Energy.Active.Import.Register",
                     "unitOfMeasure": {"unit": "Wh"}},
                    {"value": round(power, 1), "measurand": "Power.Active.Import",
                     "unitOfMeasure": {"unit": "W"}}]}]})
            self.tx_seq += 1
        else:
            payload: dict = {"connectorId": 1, "meterValue": [{"timestamp": ts, "sampledValue": [
                {"value": f"{self.energy_wh:.1f}", "context": "Sample.Periodic",
                 "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                {"value": f"{power:.1f}", "context": "Sample.Periodic",
                 "measurand": "Power.Active.Import", "unit": "W"}]}]}
            if self.tx_id is not None:
                payload["transactionId"] = self.tx_id
            reply = await self.call("MeterValues", payload)
        if reply is not None:
            self.stats.meter_acked += 1


class LoadGen:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stats = Stats()
        self.stop_at = math.inf  # loop time; set once every charger is set up
        self.all_set_up = asyncio.Event()
        self.lag: list[float] = []

    def charger_set_up(self) -> None:
        self.stats.set_up += 1
        if self.stats.set_up >= self.args.chargers:
            self.all_set_up.set()

    async def watch_lag(self) -> None:
        """Our own event-loop lag: if it is high, reply times are the client's fault."""
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.05)
            self.lag.append((loop.time() - t - 0.05) * 1000)

    async def run(self) -> dict:
        args, stats = self.args, self.stats
        loop = asyncio.get_running_loop()
        lag_task = asyncio.create_task(self.watch_lag())
        t0 = loop.time()
        share = args.v201_share
        tasks = []
        for n in range(args.chargers):
            # Ramp: spread connections at --ramp-rate per second (no SYN storm).
            delay = t0 + n / args.ramp_rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            v201 = int((n + 1) * share) > int(n * share)  # evenly spread 2.0.1 chargers
            tasks.append(asyncio.create_task(Charger(n, args.url, v201, stats, args).run(self)))
        # A charger whose setup hangs must not hold the bench forever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.all_set_up.wait(), args.reply_timeout * 6)
        setup_s = loop.time() - t0
        # Our own gen-2 collections over thousands of connections would stall this loop
        # and show up as the server's reply time: keep the setup's objects out of them.
        gc.collect()
        gc.freeze()
        stats.steady_at = time.perf_counter()
        cpu0 = _cpu_s()
        self.lag.clear()
        self.stop_at = loop.time() + args.duration
        emit({"event": "steady", "set_up": stats.set_up, "connected": stats.connected,
              "setup_s": round(setup_s, 2)})
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # a bug here, not the server: show it
                stats.errors[f"(loadgen crash) {type(outcome).__name__}: {outcome}"[:160]] += 1
        steady_s = loop.time() - (self.stop_at - args.duration)
        lag_task.cancel()
        return self.result(setup_s, steady_s, _cpu_s() - cpu0)

    def result(self, setup_s: float, steady_s: float, steady_cpu_s: float) -> dict:
        s = self.stats
        every = [v for vs in s.latency.values() for v in vs]
        steady = [v for vs in s.steady_latency.values() for v in vs]
        return {
            "event": "result",
            "chargers": self.args.chargers,
            "v201_chargers": sum(1 for n in range(self.args.chargers)
                                 if int((n + 1) * self.args.v201_share)
                                 > int(n * self.args.v201_share)),
            "connected": s.connected,
            "connect_errors": dict(s.connect_errors.most_common(5)),
            "boot_status": dict(s.boot_status),
            "setup_s": round(setup_s, 2),
            "steady_s": round(steady_s, 2),
            "sent": dict(s.sent),
            "replied": dict(s.replied),
            "steady_sent": sum(len(v) for v in s.steady_latency.values()),
            "errors": dict(s.errors),
            "timeouts": dict(s.timeouts),
            "unexpected_closes": s.unexpected_closes,
            "server_calls": dict(s.server_calls),
            "latency_ms": {a: percentiles(v) for a, v in sorted(s.latency.items())},
            "latency_all_ms": percentiles(every),
            "steady_latency_ms": {a: percentiles(v) for a, v in sorted(s.steady_latency.items())},
            "steady_latency_all_ms": percentiles(steady),
            "slow_seconds": sorted(s.worst_by_second.items(), key=lambda kv: -kv[1])[:5],
            "slow_seconds_over_50ms": sum(1 for v in s.worst_by_second.values() if v > 50),
            "meter_sent": s.meter_sent,
            "meter_acked": s.meter_acked,
            "status_changes_acked": s.status_changes_acked,
            "transactions_started": s.transactions_started,
            "late_ticks": s.late_ticks,
            "client_loop_lag_ms": percentiles(self.lag),
            "client_cpu_steady_s": round(steady_cpu_s, 2),
            "client_cpu_s": round(_cpu_s(), 2),
        }


async def null_server(port: int) -> None:
    """The floor: a server that answers every CALL at once and does nothing else.

    Benchmarking it (bench_ocpp.py --null) shows what this client and the machine add to
    reply times, so that the rest can be put on the server.
    """
    from websockets.asyncio.server import serve

    tx = itertools.count(1)
    replies = {"BootNotification": lambda: {"status": "Accepted", "interval": 60,
                                            "currentTime": now_iso()},
               "StartTransaction": lambda: {"transactionId": next(tx),
                                            "idTagInfo": {"status": "Accepted"}}}

    async def handler(ws) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg[0] == CALL:
                payload = replies.get(msg[2], dict)()
                await ws.send(json.dumps([CALLRESULT, msg[1], payload]))

    async with serve(handler, "127.0.0.1", port, subprotocols=["ocpp1.6", "ocpp2.0.1"],
                     compression=None) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        # The same `ready` line as `gatehouse serve --json-logging`, for bench_ocpp.py.
        print(json.dumps({"level": "INFO", "event": "ready", "ocpp_port": bound}),
              file=sys.stderr, flush=True)
        await asyncio.Future()


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def emit(doc: dict) -> None:
    print(json.dumps(doc), flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--url", help="base URL, e.g. ws://127.0.0.1:9000/ocpp")
    p.add_argument("--null-server", type=int, metavar="PORT",
                   help="instead: run the do-nothing server on PORT (0: any free port)")
    p.add_argument("--chargers", type=int, default=100)
    p.add_argument("--duration", type=float, default=30, help="steady-state seconds")
    p.add_argument("--ramp-rate", type=float, default=200, help="new connections per second")
    p.add_argument("--meter-interval", type=float, default=10)
    p.add_argument("--heartbeat-interval", type=float, default=0,
                   help="seconds; 0 = the interval the server returns at boot")
    p.add_argument("--v201-share", type=float, default=0.1,
                   help="fraction of chargers speaking OCPP 2.0.1")
    p.add_argument("--reply-timeout", type=float, default=30)
    p.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    random.seed(args.seed)
    limit = raise_fd_limit()
    if args.null_server is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(null_server(args.null_server))
        return 0
    if not args.url:
        print("loadgen: --url is required", file=sys.stderr)
        return 2
    if limit < args.chargers + 50:
        print(f"loadgen: fd limit {limit} is below {args.chargers} chargers", file=sys.stderr)
        return 2

    async def go() -> dict:
        return await LoadGen(args).run()

    emit(asyncio.run(go()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
