"""`gatehouse anpr read IMAGE... [--country CC] [--format json|text]`: the built-in plate
recognizer on still images (installers check a camera's view; support checks a snapshot).

Per image: the best plate, its confidence, its box (x, y, w, h) and the milliseconds the
read took. JSON: one object per image, in a list, with keys image, plate, confidence, box,
ms (plate, confidence and box are null when no plate was found); an image that cannot be
read gives an object with an "error" key instead, and the others still run. Exit status 0
when every image could be read (whether or not it showed a plate), else 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.config import Settings


def add_parsers(sub: Any, common: Callable[..., None]) -> None:
    """The `anpr` subcommand, added to app.cli's parser."""
    anpr = sub.add_parser("anpr", help="the built-in plate recognizer: read plates from images")
    common(anpr, suppress=True)
    action = anpr.add_subparsers(dest="anpr_action", metavar="ACTION", required=True)
    read = action.add_parser("read", help="read the plate in each image (JPEG, PNG, ...)")
    common(read, suppress=True)
    read.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    read.add_argument("--country", default=None, metavar="CC",
                      help="the camera's country (NL, DE, BE, FR, GB): its formats first")
    read.add_argument("--roi", default=None, metavar="X,Y,W,H",
                      help="region of interest as fractions of the frame, e.g. 0.2,0.4,0.6,0.5")
    read.add_argument("--format", choices=["text", "json"], default="text")


def _roi(text: str | None) -> list[float] | None:
    if not text:
        return None
    parts = [float(p) for p in text.split(",")]
    if len(parts) != 4:
        raise ValueError("--roi takes four fractions: x,y,w,h")
    return parts


def read_images(paths: list[Path], country: str | None = None,
                roi: list[float] | None = None) -> list[dict[str, Any]]:
    import cv2
    import numpy as np

    from app.adapters.camera.recognizer import Recognizer

    recognizer = Recognizer(country)
    out: list[dict[str, Any]] = []
    for path in paths:
        try:
            data = np.fromfile(str(path), dtype=np.uint8)  # also non-ASCII paths (Windows)
            image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        except OSError as exc:
            out.append({"image": str(path), "error": f"cannot read: {exc.strerror or exc}"})
            continue
        if image is None:
            out.append({"image": str(path), "error": "not an image (or an unsupported format)"})
            continue
        try:
            recognizer.load()  # the first image only; not counted in its ms
            t0 = time.perf_counter()
            found = recognizer.read(image, roi=roi)
        except Exception as exc:  # e.g. the OCR models are not installed
            out.append({"image": str(path), "error": f"{type(exc).__name__}: {exc}"})
            continue
        ms = round((time.perf_counter() - t0) * 1000, 1)
        best = found[0] if found else None
        out.append({"image": str(path),
                    "plate": best.plate if best else None,
                    "confidence": best.confidence if best else None,
                    "box": list(best.box) if best else None,
                    "ms": ms})
    return out


def run(args: argparse.Namespace, settings: Settings) -> int:
    del settings  # reads no database
    try:
        roi = _roi(args.roi)
    except ValueError as exc:
        print(f"gatehouse: {exc}", file=sys.stderr)
        return 2
    results = read_images(list(args.images), args.country, roi)
    if args.format == "json":
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['image']}: ERROR {r['error']}")
            elif r["plate"] is None:
                print(f"{r['image']}: no plate ({r['ms']} ms)")
            else:
                x, y, w, h = r["box"]
                print(f"{r['image']}: {r['plate']}  confidence {r['confidence']:.2f}  "
                      f"box {x},{y} {w}x{h}  ({r['ms']} ms)")
    return 0 if all("error" not in r for r in results) else 1
