"""Evidence snapshots of plate reads: JPEG files under <data>/evidence/YYYY/MM/DD/.

File names: <camera>_<HHMMSS>_<plate>.jpg (UTC date and time of the read; a second file of
the same camera, plate and second gets _2, _3...). Paths handed out are relative to the
data folder, with forward slashes ("evidence/2026/11/21/lane-in_180512_AB12CD.jpg"): the
plate_reads row and the PlateRead event carry that, `resolve()` gives the file.

`allocate` is cheap and thread-safe; `write` and `prune` block (encoding, disk): the read
pipeline runs them on its evidence thread, never on the asyncio loop thread.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

EVIDENCE_DIR = "evidence"
JPEG_QUALITY = 85
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _safe(text: str, limit: int) -> str:
    return (_UNSAFE.sub("-", str(text)).strip("-") or "x")[:limit]


def is_jpeg(data: bytes) -> bool:
    return len(data) > 3 and data[:3] == b"\xff\xd8\xff"


def encode_jpeg(image: Any) -> bytes:
    """JPEG bytes of `image`: JPEG bytes are kept as they are, other encoded images (PNG,
    BMP) and BGR/grey numpy arrays are encoded. ValueError when it is none of these."""
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
        if is_jpeg(data):
            return data
        import cv2
        import numpy as np

        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError("not an image")
        image = decoded
    import cv2

    shape = getattr(image, "shape", None)
    if shape is None or len(shape) not in (2, 3) or not shape[0] or not shape[1]:
        raise ValueError("not an image")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class EvidenceStore:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / EVIDENCE_DIR
        self._lock = threading.Lock()
        self._taken: dict[str, float] = {}  # recently allocated relative paths

    def allocate(self, camera_id: str, plate: str, at: datetime) -> str:
        """A new relative path for a snapshot of this read (the file is not created)."""
        at = at.astimezone(UTC) if at.tzinfo else at
        folder = f"{EVIDENCE_DIR}/{at:%Y/%m/%d}"
        stem = f"{_safe(camera_id, 48)}_{at:%H%M%S}_{_safe(plate, 32)}"
        now = time.monotonic()
        with self._lock:
            if len(self._taken) > 512:
                self._taken = {k: t for k, t in self._taken.items() if now - t < 120}
            n = 1
            rel = f"{folder}/{stem}.jpg"
            while rel in self._taken or (self.data_dir / rel).exists():
                n += 1
                rel = f"{folder}/{stem}_{n}.jpg"
            self._taken[rel] = now
        return rel

    def resolve(self, rel: str) -> Path:
        """The file of a relative snapshot path; ValueError for a path outside evidence/."""
        path = (self.data_dir / rel).resolve()
        root = self.root.resolve()
        if root not in path.parents:
            raise ValueError(f"not an evidence path: {rel!r}")
        return path

    def write(self, rel: str, image: Any) -> None:
        """Encode (if needed) and write atomically; raises on failure (the caller logs)."""
        data = encode_jpeg(image)
        path = self.resolve(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def prune(self, before: datetime) -> int:
        """Delete the day folders older than `before`'s date (UTC). Returns files removed."""
        cutoff = before.astimezone(UTC).date() if before.tzinfo else before.date()
        removed = 0
        if not self.root.is_dir():
            return 0
        for year in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for month in sorted(p for p in year.iterdir() if p.is_dir()):
                for day in sorted(p for p in month.iterdir() if p.is_dir()):
                    try:
                        date = datetime(int(year.name), int(month.name), int(day.name)).date()
                    except ValueError:
                        continue  # not ours
                    if date >= cutoff:
                        continue
                    removed += sum(1 for f in day.iterdir() if f.is_file())
                    shutil.rmtree(day, ignore_errors=True)
                if not any(month.iterdir()):
                    month.rmdir()
            if not any(year.iterdir()):
                year.rmdir()
        return removed
