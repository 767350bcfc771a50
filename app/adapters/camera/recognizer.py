"""The built-in plate recognizer for cameras that only stream video.

    rec = Recognizer(country="NL")
    rec.read(frame_bgr, roi=(0.2, 0.4, 0.6, 0.5))  # -> [PlateCandidate(...)], best first

Offline, CPU only: PP-OCRv6 models shipped in the `rapidocr` wheel, run by onnxruntime
with one thread (app.adapters.camera.ocr). Pipelines (tests/bench/bench_anpr.py compares
them):

- ``locator``: OpenCV plate localizer (app.adapters.camera.plate_locator) -> up to six
  crops -> one batched recognition call -> country format rules (app.domain.plates).
- ``detector``: the PP-OCRv6 text detector on the region of interest -> text lines of
  plate shape -> recognition -> format rules. Slower, finds plates the localizer misses.
- ``hybrid`` (default): ``locator``; when that gives no plate of good confidence, the
  detector on the same frame.

Every reading goes through the country formats (app.domain.plates.fit_plate: look-alike
fixes by position, the camera's country preferred). A reading that fits only with a fix, a
dropped character or a foreign format is decoded again from the CTC probabilities under
each format of the right length (TextRecognizer.decode_format), which recovers a character
the free reading dropped or merged.

Models load lazily on the first read (or `load()`), ~0.3 s. One-thread use: the
recognition worker owns one Recognizer; a lock makes concurrent calls safe but serial.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.adapters.camera.ocr import TextDetector, TextRead, TextRecognizer
from app.adapters.camera.plate_locator import PlateLocator, Region, crop_region
from app.domain.plates import (
    COUNTRIES,
    FOREIGN_COST,
    FORMATS,
    fit_plate,
    format_plate,
    format_slots,
    plate_like,
)

PIPELINES = ("hybrid", "locator", "detector")


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    plate: str  # printed form, e.g. "GX-512-K" (normalize with app.domain.access)
    confidence: float  # 0..1
    box: tuple[int, int, int, int]  # x, y, w, h in the full frame
    country: str = ""


def roi_pixels(roi: Sequence[float] | None, width: int, height: int) -> tuple[int, int, int, int]:
    """A camera's ROI [x, y, w, h] (fractions of the frame) in pixels; the whole frame when
    None or unusable."""
    if not roi or len(roi) != 4:
        return 0, 0, width, height
    try:
        fx, fy, fw, fh = (min(1.0, max(0.0, float(v))) for v in roi)
    except (TypeError, ValueError):
        return 0, 0, width, height
    x, y = int(fx * width), int(fy * height)
    w, h = int(fw * width), int(fh * height)
    w, h = min(w, width - x), min(h, height - y)
    if w < 32 or h < 16:
        return 0, 0, width, height
    return x, y, w, h


class Recognizer:
    # a locator result at least this confident is not checked with the text detector
    GOOD = 0.80

    def __init__(self, country: str | None = None, *, pipeline: str = "hybrid",
                 threads: int = 1, countries: Sequence[str] | None = None) -> None:
        if pipeline not in PIPELINES:
            raise ValueError(f"pipeline must be one of {PIPELINES}")
        self.pipeline = pipeline
        # the camera's own country first; a foreign car still reads (at a small cost)
        allowed = [c.upper() for c in (countries or COUNTRIES)]
        self.country = country.upper() if country else None
        if self.country and self.country not in allowed:
            allowed.insert(0, self.country)
        self.countries = tuple(allowed)
        self._locator = PlateLocator()
        self._rec = TextRecognizer(threads=threads)
        self._det = TextDetector(threads=threads)
        self._lock = threading.Lock()
        self.stretches: tuple[float, ...] = ()  # e.g. (1.5,): +1 % on hard scenes, 2x time
        self.format_decoding = True
        self.extra_crops: tuple[tuple[float, float], ...] = ()  # (pad_x, pad_y): no gain measured

    def load(self) -> None:
        """Load the models now (else on the first read)."""
        self._rec.load()
        if self.pipeline != "locator":
            self._det.load()

    def read(self, image_bgr: np.ndarray, roi: Sequence[float] | None = None
             ) -> list[PlateCandidate]:
        if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[0] < 16:
            return []
        H, W = image_bgr.shape[:2]
        rx, ry, rw, rh = roi_pixels(roi, W, H)
        view = image_bgr[ry:ry + rh, rx:rx + rw]
        with self._lock:
            found: list[PlateCandidate] = []
            if self.pipeline in ("hybrid", "locator"):
                found = self._read_regions(view, self._locator.locate(view))
            if self.pipeline == "detector" or (
                    self.pipeline == "hybrid"
                    and not any(c.confidence >= self.GOOD for c in found)):
                found += self._read_regions(view, self._detected(view))
        # one candidate per plate: the same characters, or the same place in the frame
        # (two readings of one plate are not two cars)
        out: list[PlateCandidate] = []
        for c in sorted(found, key=lambda c: -c.confidence):
            key = _norm(c.plate)
            if any(_norm(k.plate) == key or _overlap(k.box, c.box) > 0.3 for k in out):
                continue
            out.append(c)
        return [PlateCandidate(c.plate, c.confidence, (c.box[0] + rx, c.box[1] + ry,
                                                       c.box[2], c.box[3]), c.country)
                for c in out]

    def _detected(self, view: np.ndarray) -> list[Region]:
        out = []
        for (x, y, w, h), score in _merge_lines(self._det.detect(view)):
            if h < 10 or w < 40 or not 1.5 <= w / h <= 9:
                continue
            out.append(Region((x, y, w, h), 0.0, score))
        out.sort(key=lambda r: -r.score)
        return out[:8]

    def _read_regions(self, view: np.ndarray, regions: list[Region]) -> list[PlateCandidate]:
        if not regions:
            return []
        crops, kept = [], []
        for r in regions:
            crop = crop_region(view, r)
            if crop.size and crop.shape[0] >= 8 and crop.shape[1] >= 16:
                crops.append(crop)
                kept.append(r)
        for pad_x, pad_y in self.extra_crops:  # the same regions cut wider / taller
            crops += [crop_region(view, r, pad_x, pad_y) for r in kept]
        # each crop also widened: a CTC reading of a narrow crop collapses doubled letters
        # ("HH" -> "H") and drops thin ones; the better-fitting reading wins
        stretched = [cv2.resize(c, (int(c.shape[1] * s), c.shape[0]))
                     for s in self.stretches for c in crops[:len(kept)]]
        reads = self._rec.read(crops + stretched)
        out = []
        for i, r in enumerate(kept):
            best: PlateCandidate | None = None
            for read in reads[i::len(kept)]:
                cand = self._candidate(read, r)
                if cand is not None and (best is None or cand.confidence > best.confidence):
                    best = cand
            if best is not None:
                out.append(best)
        return out

    def _candidate(self, read: TextRead, region: Region) -> PlateCandidate | None:
        if not plate_like(read.text):
            return None
        match = fit_plate(read.text, self.countries, list(read.char_confidences),
                          home=self.country)
        best: PlateCandidate | None = None
        if match is not None:
            # the foreign-format cost only ranks; it is no doubt about the characters read
            cost = match.cost - (FOREIGN_COST if self.country and match.country != self.country
                                 else 0.0)
            penalty = math.exp(-0.25 * cost)
            best = PlateCandidate(match.plate, round(read.confidence * penalty, 3), region.box,
                                  match.country)
            if match.cost < self.DECODE_ABOVE:
                return best
        forced = self._format_decode(read, region)
        return forced if forced is not None else best

    # a free reading whose format fit costs this much (a fix, a dropped character, a
    # foreign format) is decoded again under each format of the countries
    DECODE_ABOVE = 0.9

    def _format_decode(self, read: TextRead, region: Region) -> PlateCandidate | None:
        if read.probs is None or not self.format_decoding:
            return None
        n = sum(c.isalnum() for c in read.text)
        best: tuple[float, str, str, tuple[float, ...]] | None = None
        for country in self.countries:
            prior = 0.0 if not self.country or country == self.country else -1.5
            for rank, fmt in enumerate(FORMATS.get(country, ())):
                slots = format_slots(fmt)
                if not n - 1 <= len(slots) <= n + 1:
                    continue
                got = self._rec.decode_format(read.probs, slots)
                if got is None:
                    continue
                chars, confs, logp = got
                score = logp + prior - 0.01 * rank
                if best is None or score > best[0]:
                    best = (score, format_plate(fmt, chars), country, confs)
        if best is None:
            return None
        score, plate, country, confs = best
        # how much less likely than the free reading the format made it (nats)
        probs = read.probs
        free = float(np.log(np.maximum(probs[:, 0] + probs[:, self._rec.separators].sum(axis=1),
                                       probs[:, 1:].max(axis=1)) + 1e-9).sum())
        gap = free - score
        if gap > self.MAX_GAP or min(confs) < 0.2:
            return None
        conf = float(np.mean(confs)) * math.exp(-0.1 * gap)
        return PlateCandidate(plate, round(conf, 3), region.box, country)

    MAX_GAP = 4.0


def _merge_lines(boxes: list[tuple[tuple[int, int, int, int], float]]
                 ) -> list[tuple[tuple[int, int, int, int], float]]:
    """The text detector splits a plate at its separators ("GX" "512" "K"): join boxes on
    one line whose gap is less than a character height."""
    items = sorted(boxes, key=lambda b: b[0][0])
    merged: list[tuple[tuple[int, int, int, int], float]] = []
    for (x, y, w, h), score in items:
        for i, ((mx, my, mw, mh), ms) in enumerate(merged):
            overlap = min(y + h, my + mh) - max(y, my)
            gap = x - (mx + mw)
            if overlap > 0.6 * min(h, mh) and -mw < gap < 1.2 * max(h, mh):
                nx, ny = min(x, mx), min(y, my)
                merged[i] = ((nx, ny, max(x + w, mx + mw) - nx, max(y + h, my + mh) - ny),
                             max(score, ms))
                break
        else:
            merged.append(((x, y, w, h), score))
    return merged


def _norm(plate: str) -> str:
    return "".join(ch for ch in plate if ch.isalnum())


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller box."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    small = min(a[2] * a[3], b[2] * b[3])
    return ix * iy / small if small > 0 else 0.0
