"""Logging: a rotating file in the platform log folder plus the console; JSON optional."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
import sys
from datetime import UTC, datetime
from pathlib import Path

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_MARK = "_gatehouse_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, thread, plus any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "thread": record.threadName,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, ensure_ascii=False)


_listener: logging.handlers.QueueListener | None = None


def flush() -> None:
    """Write every queued record and stop the writer thread (at exit, before the process
    ends: the last lines, such as a clean shutdown, must not be lost)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(flush)


def unconfigure() -> None:
    """Take our handlers off the root logger and stop the writer (tests that run the CLI
    in-process; an embedding host): nothing is left writing to a stream that closes."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
    flush()

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure(
    *, log_dir: Path | None, json_lines: bool = False, level: str = "INFO",
    console: bool = True,
) -> Path | None:
    """Install the handlers (idempotent). Returns the log file path, if any.

    Records are only queued on the thread that logs (the Qt/asyncio thread, where every
    charger's messages are handled); one "log-writer" thread formats and writes them.
    """
    global _listener
    root = logging.getLogger()
    unconfigure()
    root.setLevel(level.upper())
    fmt: logging.Formatter = JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT)
    handlers: list[logging.Handler] = []
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    log_file = None
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            log_file = log_dir / "gatehouse.log"
            handlers.append(logging.handlers.RotatingFileHandler(
                log_file, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"))
        except OSError as exc:  # a read-only profile must not stop the gate
            print(f"gatehouse: cannot write logs to {log_dir}: {exc}", file=sys.stderr)
            log_file = None
    for handler in handlers:
        handler.setFormatter(fmt)
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    front = logging.handlers.QueueHandler(records)
    setattr(front, _MARK, True)
    root.addHandler(front)
    _listener = logging.handlers.QueueListener(records, *handlers, respect_handler_level=True)
    _listener.start()
    _listener._thread.name = "log-writer"  # type: ignore[union-attr]
    # Third-party chatter that says nothing an operator needs.
    # Raw OCPP frames are for the per-charger frame log, not the operator's log.
    for noisy in ("websockets", "alembic", "asyncio", "gatehouse.ocpp.ws",
                  "gatehouse.ocpp.frames"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return log_file
