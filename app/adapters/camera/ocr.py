"""OCR models for the built-in recognizer: PP-OCRv6 (small) text recognition and text
detection, run with onnxruntime on the CPU.

The ONNX files come inside the `rapidocr` wheel (rapidocr/models/*.onnx, ~31 MB): nothing is
downloaded at run time. Only the model files are used; the pre- and post-processing is here
(a few lines each), so the recognizer does not depend on rapidocr's Python API.

The recognition model knows ~18,700 characters; decoding keeps only what plates use
(A-Z, 0-9 and separators), which also stops Chinese look-alikes from being read.

One-thread use: an onnxruntime session can be shared across threads, but the recognizer
runs on one worker thread anyway. Sessions are created on first use (lazy).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REC_MODEL = "PP-OCRv6_rec_small.onnx"
DET_MODEL = "PP-OCRv6_det_small.onnx"
PLATE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
SEPARATOR_CHARS = "- ."


class ModelsMissing(RuntimeError):
    """The OCR model files are not installed (the `rapidocr` package)."""


def model_dir() -> Path:
    """Where the ONNX files are: GATEHOUSE_OCR_MODELS, the installed rapidocr package,
    or a frozen app's bundle (PyInstaller collects rapidocr/models/*.onnx)."""
    candidates: list[Path] = []
    if os.environ.get("GATEHOUSE_OCR_MODELS"):
        candidates.append(Path(os.environ["GATEHOUSE_OCR_MODELS"]))
    spec = importlib.util.find_spec("rapidocr")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "models" for p in spec.submodule_search_locations]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "rapidocr" / "models")
    for path in candidates:
        if (path / REC_MODEL).is_file():
            return path
    raise ModelsMissing(f"{REC_MODEL} not found (install the 'rapidocr' package); looked in "
                        + ", ".join(str(p) for p in candidates))


def _session(path: Path, threads: int):  # -> onnxruntime.InferenceSession
    import onnxruntime as ort  # heavy: imported on first use

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts,
                                providers=["CPUExecutionProvider"])


@dataclass(frozen=True, slots=True)
class TextRead:
    text: str  # plate characters and separators only
    confidence: float  # mean probability of the kept characters
    char_confidences: tuple[float, ...]  # one per letter/digit in text
    # per time step: probabilities of blank + the plate characters (format decoding)
    probs: np.ndarray | None = None


class TextRecognizer:
    """Reads a line of text from crops (BGR): batch CTC decoding restricted to plate
    characters."""

    HEIGHT = 48

    def __init__(self, threads: int = 1, max_width: int = 480, min_width: int = 64,
                 stretch: float = 1.0) -> None:
        self.threads = threads
        self.max_width = max_width
        # PaddleOCR pads every line to 48 x 320 at least; for plate crops that made no
        # difference in accuracy here (bench_anpr) and costs ~2x: pad to the batch's widest
        self.min_width = min_width
        self.stretch = stretch  # widening condensed plate fonts: no gain measured either
        self._session = None
        self._lock = threading.Lock()
        self._allowed: np.ndarray | None = None
        self._labels: list[str] = []

    def load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            session = _session(model_dir() / REC_MODEL, self.threads)
            chars = session.get_modelmeta().custom_metadata_map["character"].split("\n")
            labels = ["", *chars, " "]  # blank first, space last (as PaddleOCR trains it)
            keep = [i for i, c in enumerate(labels)
                    if i == 0 or (len(c) == 1 and (c in PLATE_CHARS or c in SEPARATOR_CHARS))]
            self._labels = labels
            self._allowed = np.array(keep, np.int64)
            kept = [labels[i] for i in keep]
            self.classes = {
                "L": np.array([i for i, c in enumerate(kept) if c.isalpha()], np.int64),
                "D": np.array([i for i, c in enumerate(kept) if c.isdigit()], np.int64),
                "S": np.array([i for i, c in enumerate(kept) if c in ("E", "H")], np.int64),
            }
            self.separators = np.array(
                [i for i, c in enumerate(kept) if i and c and c in SEPARATOR_CHARS], np.int64)
            self.kept_labels = kept
            self._session = session

    def _prep(self, crop: np.ndarray, width: int) -> np.ndarray:
        h, w = crop.shape[:2]
        rw = min(width, max(8, int(np.ceil(self.HEIGHT * self.stretch * w / max(h, 1)))))
        img = cv2.resize(crop, (rw, self.HEIGHT), interpolation=cv2.INTER_LINEAR)
        img = img.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
        out = np.zeros((3, self.HEIGHT, width), np.float32)
        out[:, :, :rw] = img
        return out

    def read(self, crops: list[np.ndarray]) -> list[TextRead]:
        if not crops:
            return []
        self.load()
        assert self._session is not None and self._allowed is not None
        ratios = [self.stretch * c.shape[1] / max(c.shape[0], 1) for c in crops]
        width = int(min(self.max_width,
                        max(self.min_width, np.ceil(self.HEIGHT * max(ratios) / 8) * 8)))
        batch = np.stack([self._prep(c, width) for c in crops])
        probs = self._session.run(None, {self._session.get_inputs()[0].name: batch})[0]
        sub = probs[:, :, self._allowed]  # (N, T, K): blank + plate characters only
        best = sub.argmax(axis=2)
        out = []
        steps = sub.shape[1]
        for n in range(sub.shape[0]):
            h, w = crops[n].shape[:2]
            own = min(width, self.HEIGHT * self.stretch * w / max(h, 1))
            valid = max(1, min(steps, int(np.ceil(own / width * steps)) + 1))
            text, confs, prev = [], [], 0
            for t, k in enumerate(best[n]):
                if k != 0 and k != prev:
                    ch = self._labels[self._allowed[k]]
                    text.append(ch)
                    if ch.isalnum():
                        confs.append(float(sub[n, t, k]))
                prev = k
            joined = "".join(text).strip()
            conf = float(np.mean(confs)) if confs else 0.0
            out.append(TextRead(joined, conf, tuple(confs), sub[n, :valid]))
        return out

    def decode_format(self, probs: np.ndarray, slots: str
                      ) -> tuple[str, tuple[float, ...], float] | None:
        """The most likely reading of `probs` (TextRead.probs) that has exactly the slots'
        letters (L), digits (D) and E/H suffix (S), as CTC allows it (Viterbi over the
        slots with blanks/separators between): characters, their probabilities, and the
        log-probability of the path. Recovers characters the free reading dropped or
        merged ("HH" read as "H") and letters read where digits are."""
        n, T = len(slots), probs.shape[0]
        if n == 0 or n > T:
            return None
        eps = 1e-9
        gap = probs[:, 0] + probs[:, self.separators].sum(axis=1)
        cls_max = {c: probs[:, idx].max(axis=1) for c, idx in self.classes.items()}
        S = 2 * n + 1
        E = np.empty((T, S), np.float64)
        E[:, 0::2] = np.log(gap + eps)[:, None]
        for k, c in enumerate(slots):
            E[:, 2 * k + 1] = np.log(cls_max[c] + eps)
        skip = np.zeros(S, bool)
        skip[3::2] = True  # slot k-1 -> slot k without a blank between
        score = np.full(S, -np.inf)
        score[0], score[1] = E[0, 0], E[0, 1]
        back = np.zeros((T, S), np.int8)
        for t in range(1, T):
            prev1 = np.concatenate(([-np.inf], score[:-1]))
            prev2 = np.where(skip, np.concatenate(([-np.inf, -np.inf], score[:-2])), -np.inf)
            stacked = np.stack([score, prev1, prev2])
            arg = stacked.argmax(axis=0)
            back[t] = arg
            score = stacked[arg, np.arange(S)] + E[t]
        end = S - 1 if score[S - 1] >= score[S - 2] else S - 2
        logp = float(score[end])
        if not np.isfinite(logp):
            return None
        states = np.empty(T, np.int64)
        s = end
        for t in range(T - 1, -1, -1):
            states[t] = s
            s -= int(back[t, s])
        chars, confs = [], []
        for k, c in enumerate(slots):
            frames = np.flatnonzero(states == 2 * k + 1)
            if not frames.size:
                return None
            idx = self.classes[c]
            mass = probs[np.ix_(frames, idx)]
            j = int(mass.sum(axis=0).argmax())
            chars.append(self.kept_labels[int(idx[j])])
            confs.append(float(mass[:, j].max()))
        return "".join(chars), tuple(confs), logp


class TextDetector:
    """Finds text lines (DB segmentation): returns boxes (x, y, w, h) in image pixels."""

    def __init__(self, threads: int = 1, limit_side: int = 640, thresh: float = 0.3,
                 box_thresh: float = 0.5) -> None:
        self.threads = threads
        self.limit_side = limit_side
        self.thresh = thresh
        self.box_thresh = box_thresh
        self._session = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._session is None:
                self._session = _session(model_dir() / DET_MODEL, self.threads)

    def detect(self, image: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        self.load()
        assert self._session is not None
        h, w = image.shape[:2]
        ratio = min(1.0, self.limit_side / max(h, w))
        rh, rw = max(32, round(h * ratio / 32) * 32), max(32, round(w * ratio / 32) * 32)
        img = cv2.resize(image, (rw, rh)).astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
        prob = self._session.run(None, {self._session.get_inputs()[0].name: img[None]})[0][0, 0]
        mask = (prob > self.thresh).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        sx, sy = w / rw, h / rh
        out = []
        for c in contours:
            x, y, bw, bh = cv2.boundingRect(c)
            if bw < 4 or bh < 3:
                continue
            score = float(prob[y:y + bh, x:x + bw][mask[y:y + bh, x:x + bw] > 0].mean())
            if score < self.box_thresh:
                continue
            # unclip (DB shrinks the text region during training): ~1.6 x area / perimeter
            d = 1.6 * bw * bh / (2 * (bw + bh))
            x0, y0 = max(0, (x - d) * sx), max(0, (y - d) * sy)
            x1, y1 = min(w, (x + bw + d) * sx), min(h, (y + bh + d) * sy)
            out.append(((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), score))
        return out
