"""Where in a frame a licence plate may be: classical OpenCV, a few milliseconds per 720p frame.

Cues, all at half resolution, merged and ranked:

- characters: dark strokes on a light ground (black-hat) with strong vertical edges,
  closed horizontally into text-line blobs of plate proportions (thresholded globally,
  Otsu, and locally: the local threshold finds plates next to headlight glare, +3.5 %
  exact plates on hard scenes in tests/bench);
- the plate itself: a bright rectangle of plate aspect (2..7) that holds dark strokes.

Each candidate is scored by how plate-like it is (aspect, edge density, contrast); the OCR
then decides. Crops are cut from the full-resolution frame with a margin, turned level when
the plate is rolled, and the blue EU band (left) and the French department band (right) are
cut off so the OCR does not read "NL" or "75" as part of the plate.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class Region:
    box: tuple[int, int, int, int]  # x, y, w, h in the frame
    angle: float  # degrees the plate is rolled (minAreaRect convention, -45..45)
    score: float


def _nms(regions: list[Region], iou: float = 0.3) -> list[Region]:
    kept: list[Region] = []
    for r in sorted(regions, key=lambda r: -r.score):
        x, y, w, h = r.box
        ok = True
        for k in kept:
            kx, ky, kw, kh = k.box
            ix = max(0, min(x + w, kx + kw) - max(x, kx))
            iy = max(0, min(y + h, ky + kh) - max(y, ky))
            inter = ix * iy
            if inter / float(w * h + kw * kh - inter) > iou or inter / float(w * h) > 0.7:
                ok = False
                break
        if ok:
            kept.append(r)
    return kept


class PlateLocator:
    def __init__(self, scale: float = 0.5, min_width: int = 60, max_width: int = 700,
                 max_candidates: int = 6, clahe: bool = False, adaptive: bool = True) -> None:
        self.clahe = clahe  # equalize every frame (else only dark ones)
        self.adaptive = adaptive  # also a local threshold of the character cue
        self.scale = scale
        self.min_width = min_width  # plate width in frame pixels
        self.max_width = max_width
        self.max_candidates = max_candidates

    def locate(self, image: np.ndarray) -> list[Region]:
        """Candidate plate regions, most plate-like first."""
        s = self.scale
        small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        # lift dark frames (night) without blowing up daylight ones
        if self.clahe or float(gray.mean()) < 80:
            gray = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray)
        blackhat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT,
                                    cv2.getStructuringElement(cv2.MORPH_RECT, (15, 7)))
        gx = np.abs(cv2.Sobel(blackhat, cv2.CV_32F, 1, 0, ksize=3))
        gx = cv2.normalize(gx, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        gx = cv2.GaussianBlur(gx, (5, 5), 0)
        closed = cv2.morphologyEx(gx, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (13, 3)))
        _, mask = cv2.threshold(closed, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        mask = cv2.erode(mask, None, iterations=1)
        mask = cv2.dilate(mask, None, iterations=2)
        regions = self._regions(mask, blackhat, gx, 1.0)
        if self.adaptive:
            local = cv2.adaptiveThreshold(closed, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                          cv2.THRESH_BINARY, 41, -15)
            local = cv2.morphologyEx(local, cv2.MORPH_OPEN, None)
            regions += self._regions(local, blackhat, gx, 0.9)
        # bright rectangles (the plate's ground)
        bright = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                       cv2.THRESH_BINARY, 51, -12)
        bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (9, 5)))
        regions += self._regions(bright, blackhat, gx, 0.8)
        regions = _nms(regions)[: self.max_candidates]
        inv = 1.0 / s
        out = []
        for r in regions:
            x, y, w, h = r.box
            out.append(Region((int(x * inv), int(y * inv), int(w * inv), int(h * inv)),
                              r.angle, r.score))
        return out

    def _regions(self, mask: np.ndarray, blackhat: np.ndarray, edges: np.ndarray,
                 weight: float) -> list[Region]:
        s = self.scale
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        blobs = [(cv2.boundingRect(c), c) for c in contours]
        blobs = [(r, c) for r, c in blobs if r[3] >= 5 and r[2] >= 3]
        out = []
        for (x, y, w, h), points in _merge_line(blobs):
            if not (self.min_width * s <= w <= self.max_width * s) or h < 7:
                continue
            (_, _), (rw, rh), angle = cv2.minAreaRect(points)
            if rw < rh:
                rw, rh = rh, rw
                angle += 90
            if angle > 45:
                angle -= 90
            aspect = rw / max(rh, 1.0)
            if not 1.8 <= aspect <= 8.0 or abs(angle) > 25:
                continue
            fill = float((mask[y:y + h, x:x + w] > 0).mean())
            if fill < 0.35:
                continue
            roi_e = edges[y:y + h, x:x + w]
            roi_b = blackhat[y:y + h, x:x + w]
            density = float((roi_e > 60).mean())
            contrast = float(roi_b.std()) / 40.0
            if density < 0.08 or contrast < 0.2:
                continue
            aspect_fit = 1.0 - min(1.0, abs(aspect - 4.2) / 4.0)
            score = weight * (aspect_fit + min(density * 2.5, 1.0) + min(contrast, 1.0)
                              + 0.3 * fill)
            out.append(Region((x, y, w, h), float(angle), score))
        return out


def _merge_line(blobs: list[tuple[tuple[int, int, int, int], np.ndarray]]
                ) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """Join blobs side by side on one line (a German district split off by the seals, a
    character group split off at a dash): gap under one height, heights alike. Each blob
    also stays on its own."""
    items = sorted(blobs, key=lambda b: b[0][0])
    merged: list[tuple[tuple[int, int, int, int], np.ndarray]] = []
    for (x, y, w, h), pts in items:
        joined = False
        for i, ((mx, my, mw, mh), mpts) in enumerate(merged):
            overlap = min(y + h, my + mh) - max(y, my)
            gap = x - (mx + mw)
            if (overlap > 0.6 * min(h, mh) and -2 <= gap < 1.0 * max(h, mh)
                    and max(h, mh) < 1.8 * min(h, mh)):
                nx, ny = min(x, mx), min(y, my)
                merged[i] = ((nx, ny, max(x + w, mx + mw) - nx, max(y + h, my + mh) - ny),
                             np.concatenate([mpts, pts]))
                joined = True
                break
        if not joined:
            merged.append(((x, y, w, h), pts))
    singles = [b for b in blobs if not any(b[0] == m[0] for m in merged)]
    return merged + singles


def _band_end(cols: np.ndarray, limit: int) -> int:
    """Columns [0, end) that make a blue band starting within `limit` of the edge: the first
    run of blue columns there (gaps of 2 columns bridged). 0 when there is none."""
    idx = np.flatnonzero(cols[:limit])
    if not idx.size:
        return 0
    end = int(idx[0])
    while end < limit and (cols[end] or cols[end + 1:end + 3].any()):
        end += 1
    return end


def _cut_bands(crop: np.ndarray) -> np.ndarray:
    """Cut the blue EU band (left) and a blue band on the right (FR). Judged on the middle
    rows only: blue paint above and below a plate (a blue car) is no band."""
    if crop.ndim != 3 or crop.shape[1] < 20 or crop.shape[0] < 8:
        return crop
    h, w = crop.shape[:2]
    mid = crop[int(h * 0.3):max(int(h * 0.7), int(h * 0.3) + 1)]
    hsv = cv2.cvtColor(mid, cv2.COLOR_BGR2HSV)
    blue = (hsv[..., 0] >= 95) & (hsv[..., 0] <= 130) & (hsv[..., 1] > 90) & (hsv[..., 2] > 40)
    cols = blue.mean(axis=0) > 0.6
    edge = max(2, int(w * 0.2))
    left = _band_end(cols, edge)
    right = w - _band_end(cols[::-1], edge)
    if right - left < w * 0.6:
        return crop
    return crop[:, left:right]


def crop_region(image: np.ndarray, region: Region, pad_x: float = 0.06,
                pad_y: float = 0.18) -> np.ndarray:
    """The region cut from the frame with a margin, levelled, bands removed."""
    H, W = image.shape[:2]
    x, y, w, h = region.box
    px, py = int(w * pad_x) + 2, int(h * pad_y) + 2
    x0, y0 = max(0, x - px), max(0, y - py)
    x1, y1 = min(W, x + w + px), min(H, y + h + py)
    crop = image[y0:y1, x0:x1]
    if abs(region.angle) > 2.5 and crop.size:
        ch, cw = crop.shape[:2]
        m = cv2.getRotationMatrix2D((cw / 2, ch / 2), region.angle, 1.0)
        crop = cv2.warpAffine(crop, m, (cw, ch), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    return _cut_bands(crop)
