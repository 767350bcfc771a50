"""`gatehouse ...` command line. The GUI entry (ui.launcher) uses the same parser."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from app import __version__, cli_access, cli_anpr, cli_billing, cli_chargers, cli_users
from app.config import DEFAULT_OCPP_PORT, Settings
from app.logging_setup import configure

log = logging.getLogger("gatehouse")


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Options accepted before and after the subcommand (`gatehouse --demo serve` too)."""
    d = argparse.SUPPRESS if suppress else None
    parser.add_argument("--demo", action="store_true", default=d if suppress else False,
                        help="run the demo site on simulated chargers, cameras and barriers")
    parser.add_argument("--data-dir", type=Path, default=d, metavar="DIR",
                        help="folder for the database, evidence and settings")
    parser.add_argument("--db-url", default=d, metavar="URL",
                        help="SQLAlchemy URL, e.g. postgresql://... (default: SQLite in DIR)")
    parser.add_argument("--ocpp-host", default=d, metavar="HOST",
                        help="OCPP listen address (default 0.0.0.0; 127.0.0.1 in demo)")
    parser.add_argument("--ocpp-port", type=int, default=d, metavar="PORT",
                        help=f"OCPP listen port (default {DEFAULT_OCPP_PORT}; 0 picks a free one)")
    parser.add_argument("--log-dir", type=Path, default=d, metavar="DIR",
                        help="folder for the rotating log file")
    parser.add_argument("--json-logging", action="store_true",
                        default=d if suppress else False,
                        help="write one JSON object per log line")
    parser.add_argument("--log-level", default=d, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--sim-speed", type=float, default=d, metavar="X",
                        help="demo simulation speed (1 = real time)")
    parser.add_argument("--unknown-chargers", choices=["accept", "pending", "reject"],
                        default=d, help="what a charger id not in the registry gets "
                        "(default: accept)")
    parser.add_argument("--auth-mode", choices=["accept_all", "known_tags"], default=d,
                        help="which idTags chargers may use (default: accept_all)")
    parser.add_argument("--security-profile", type=int, choices=[0, 1, 2], default=d,
                        help="OCPP security profile: 0 none, 1 HTTP Basic, 2 TLS + Basic")
    parser.add_argument("--tls-cert", type=Path, default=d, metavar="FILE",
                        help="PEM certificate for wss:// (security profile 2)")
    parser.add_argument("--tls-key", type=Path, default=d, metavar="FILE",
                        help="PEM private key for wss://")
    parser.add_argument("--frame-retention-days", type=float, default=d, metavar="DAYS",
                        help="how long raw OCPP frame logs are kept (default 14)")
    parser.add_argument("--heartbeat-interval", type=int, default=d, metavar="SECONDS",
                        help="heartbeat interval given to chargers at boot (default 60)")
    parser.add_argument("--binding-window", type=float, default=d, metavar="SECONDS",
                        help="a bay camera read and a plug-in this close bind (default 120)")
    parser.add_argument("--ice-grace", type=float, default=d, metavar="MINUTES",
                        help="a car at a charger this long without charging is ICE-ing "
                        "(default 15)")
    parser.add_argument("--anpr-port", type=int, default=d, metavar="PORT",
                        help="port of the ANPR push receiver (default 8088; 0 picks a free "
                        "one; -1 turns it off)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatehouse",
        description="Gatehouse console: parking access and EV charging in one system.",
    )
    parser.add_argument("--version", action="version", version=f"gatehouse {__version__}")
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the central system (the console, or --headless)")
    _common(serve, suppress=True)
    serve.add_argument("--headless", action="store_true",
                       help="no window: run the core as a service")
    serve.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                       help="stop by itself after SECONDS (tests, demos)")
    cli_chargers.add_parsers(sub, _common)  # chargers, export transactions
    cli_users.add_parsers(sub, _common)  # user add|list, import site
    cli_anpr.add_parsers(sub, _common)  # anpr read
    cli_billing.add_parsers(sub, _common)  # tariff preview
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    s = Settings(demo=bool(args.demo), json_logging=bool(args.json_logging))
    if args.data_dir is not None:
        s.data_dir = args.data_dir.expanduser().resolve()
    if args.db_url:
        s.db_url = args.db_url
    if args.ocpp_host:
        s.ocpp_host = args.ocpp_host
    if args.ocpp_port is not None:
        s.ocpp_port = args.ocpp_port
    if args.log_dir is not None:
        s.log_dir = args.log_dir
    if args.log_level:
        s.log_level = args.log_level
    if args.sim_speed:
        s.sim_speed = args.sim_speed
    anpr_port = getattr(args, "anpr_port", None)
    if anpr_port is not None:
        s.anpr_push_port = None if anpr_port < 0 else anpr_port
    for option, attr in (("unknown_chargers", "unknown_charger_policy"),
                         ("auth_mode", "auth_mode"), ("security_profile", "security_profile"),
                         ("tls_cert", "tls_cert"), ("tls_key", "tls_key"),
                         ("heartbeat_interval", "heartbeat_interval_s"),
                         ("frame_retention_days", "frame_retention_days"),
                         ("binding_window", "binding_window_s"),
                         ("ice_grace", "ice_grace_min")):
        value = getattr(args, option, None)
        if value is not None:
            setattr(s, attr, value)
    # What the command line set wins over the site's stored settings (first-run setup).
    s.explicit = frozenset(
        attr for option, attr in (("ocpp_port", "ocpp_port"), ("tls_cert", "tls_cert"),
                                  ("tls_key", "tls_key"),
                                  ("security_profile", "security_profile"),
                                  ("binding_window", "binding_window_s"),
                                  ("ice_grace", "ice_grace_min"))
        if getattr(args, option, None) is not None)
    return s


def setup_logging(settings: Settings) -> None:
    configure(log_dir=settings.resolved_log_dir, json_lines=settings.json_logging,
              level=settings.log_level)


async def serve_headless(settings: Settings, duration: float | None = None) -> int:
    from app.bootstrap import build_core

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    core = await build_core(settings)
    try:
        await core.start()
        log.info("gatehouse %s running headless, OCPP at %s", __version__, core.ocpp_url,
                 extra={"event": "ready", "ocpp_url": core.ocpp_url,
                        "ocpp_port": core.ocpp_server.port})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=duration)
        log.info("shutting down", extra={"event": "shutdown"})
    finally:
        await core.stop()
    return 0


def run_command(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    setup_logging(settings)
    if args.command == "serve":
        try:
            return asyncio.run(serve_headless(settings, args.duration))
        except OSError as exc:  # typically: the OCPP port is taken
            log.error("cannot start: %s", exc, extra={"event": "start_failed"})
            return 2
    if cli_access.handles(args):  # import accounts, export accounts
        return cli_access.run(args, settings)
    if args.command in ("chargers", "export"):
        return cli_chargers.run(args, settings)
    if args.command in ("user", "import"):
        return cli_users.run(args, settings)
    if args.command == "anpr":
        return cli_anpr.run(args, settings)
    if args.command == "tariff":
        return cli_billing.run(args, settings)
    raise SystemExit(f"unknown command {args.command!r}")


def main(argv: list[str] | None = None) -> int:
    """Entry point for everything that needs no window."""
    args = build_parser().parse_args(argv)
    if args.command is None:
        print("gatehouse: the console window needs the ui package; use `gatehouse serve "
              "--headless` for the service", file=sys.stderr)
        return 2
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
