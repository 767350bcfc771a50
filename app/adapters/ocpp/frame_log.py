"""Raw OCPP frames per charger: a short ring in memory for the charger panel, and a
rotating file per charger on disk (its own thread) kept for `retention_days`."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import quote

from app.domain.frames import Direction, Frame
from app.domain.timeutil import utc_now

log = logging.getLogger(__name__)

_STOP = object()


def file_name(charger_id: str) -> str:
    """Charger ids may hold '/', '%' or spaces; a file name may not."""
    return quote(charger_id, safe="-_.") + ".log"


class FrameLog:
    def __init__(self, folder: Path, *, retention_days: float = 14, max_bytes: int = 2_000_000,
                 backups: int = 5, ring: int = 200) -> None:
        self.folder = folder
        self.retention_days = retention_days
        self.max_bytes = max_bytes
        self.backups = backups
        self._ring: dict[str, deque[Frame]] = defaultdict(lambda: deque(maxlen=ring))
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="frame-log", daemon=True)
        self._last_prune = 0.0

    # -- loop thread -------------------------------------------------------------------

    def sink(self, charger_id: str, direction: Direction, text: str) -> None:
        frame = Frame(utc_now(), charger_id, direction, text)
        self._ring[charger_id].append(frame)
        self._queue.put(frame)

    def recent(self, charger_id: str, limit: int = 50) -> list[Frame]:
        frames = self._ring.get(charger_id)
        return list(frames)[-limit:] if frames else []

    def path(self, charger_id: str) -> Path:
        return self.folder / file_name(charger_id)

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    async def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join, 10)

    # -- writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch: dict[str, list[Frame]] = defaultdict(list)
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch[item.charger_id].append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            for charger_id, frames in batch.items():
                self._write(charger_id, frames)
            if time.monotonic() - self._last_prune > 3600:
                self._prune()

    def _write(self, charger_id: str, frames: list[Frame]) -> None:
        path = self.path(charger_id)
        arrow = {Direction.IN: "<-", Direction.OUT: "->"}
        lines = "".join(
            f"{f.at.isoformat(timespec='milliseconds')} {arrow[f.direction]} {f.text}\n"
            for f in frames)
        try:
            if path.exists() and path.stat().st_size + len(lines) > self.max_bytes:
                self._rotate(path)
            with path.open("a", encoding="utf-8") as fh:
                fh.write(lines)
        except OSError as exc:  # a full disk must not take the central system down
            log.warning("cannot write OCPP frame log %s: %s", path, exc)

    def _rotate(self, path: Path) -> None:
        for n in range(self.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{n}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{n + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))

    def _prune(self) -> None:
        self._last_prune = time.monotonic()
        cutoff = time.time() - self.retention_days * 86400
        for file in self.folder.glob("*.log*"):
            try:
                if file.stat().st_mtime < cutoff:
                    file.unlink()
            except OSError:
                continue
