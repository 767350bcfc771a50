"""The built-in plate recognizer on generated scenes (real PP-OCRv6 models, CPU), and
`gatehouse anpr read`."""

from __future__ import annotations

import json
import random

import cv2
import pytest

from app.adapters.camera.recognizer import Recognizer, roi_pixels
from tests.bench.plate_synth import make_scene, no_plate_scene


def _norm(plate: str) -> str:
    return "".join(c for c in plate if c.isalnum())


@pytest.fixture(scope="module")
def recognizer():
    rec = Recognizer()
    rec.load()  # once per module: the models take ~0.3 s
    return rec


@pytest.mark.parametrize(("country", "condition", "seed"), [
    ("NL", "clean", 1), ("DE", "clean", 2), ("BE", "clean", 3), ("FR", "perspective", 4),
    ("GB", "clean", 5), ("NL", "night", 6),
])
def test_reads_generated_plates(recognizer, country, condition, seed):
    scene = make_scene(random.Random(seed), country, condition)
    found = recognizer.read(scene.image)
    assert found, f"no plate in {scene.plate}"
    best = found[0]
    assert _norm(best.plate) == _norm(scene.plate)
    assert 0.5 <= best.confidence <= 1.0
    x, y, w, h = best.box
    sx, sy, sw, sh = scene.box  # the box is on the plate
    assert x < sx + sw and sx < x + w and y < sy + sh and sy < y + h


def test_no_plate_no_candidate(recognizer):
    assert recognizer.read(no_plate_scene(random.Random(9))) == []


def test_roi_limits_the_search_and_boxes_are_in_frame_pixels(recognizer):
    scene = make_scene(random.Random(12), "FR", "clean")
    x, y, w, h = scene.box
    W, H = 1280, 720
    roi = [max(0, x - 100) / W, max(0, y - 60) / H, (w + 200) / W, (h + 120) / H]
    found = recognizer.read(scene.image, roi=roi)
    assert found and _norm(found[0].plate) == _norm(scene.plate)
    bx, by, _, _ = found[0].box
    assert abs(bx - x) < 30 and abs(by - y) < 30
    # a region of interest elsewhere: nothing
    away = [0.0, 0.0, 0.3, 0.2] if y > 200 else [0.0, 0.75, 0.3, 0.25]
    assert recognizer.read(scene.image, roi=away) == []


def test_roi_pixels():
    assert roi_pixels(None, 1280, 720) == (0, 0, 1280, 720)
    assert roi_pixels([0.25, 0.5, 0.5, 0.5], 1280, 720) == (320, 360, 640, 360)
    assert roi_pixels([0.9, 0.9, 0.5, 0.5], 1280, 720) == (1152, 648, 128, 72)
    assert roi_pixels(["x", 0, 1, 1], 1280, 720) == (0, 0, 1280, 720)
    assert roi_pixels([0, 0, 0.001, 0.001], 1280, 720) == (0, 0, 1280, 720)


def test_cli_anpr_read_json(tmp_path, capsys):
    from app.cli import main

    paths = []
    plates = []
    for i, country in enumerate(("NL", "BE")):
        scene = make_scene(random.Random(20 + i), country, "clean")
        path = tmp_path / f"cam{i}.jpg"
        cv2.imwrite(str(path), scene.image)
        paths.append(str(path))
        plates.append(scene.plate)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    missing = tmp_path / "missing.png"
    argv = ["--data-dir", str(tmp_path / "data"), "anpr", "read", *paths, str(broken),
            str(missing), "--format", "json"]
    code = main(argv)
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [o["image"] for o in out] == [*paths, str(broken), str(missing)]
    for obj, plate in zip(out[:2], plates, strict=True):
        assert set(obj) == {"image", "plate", "confidence", "box", "ms"}
        assert _norm(obj["plate"]) == _norm(plate)
        assert 0 < obj["confidence"] <= 1 and len(obj["box"]) == 4 and obj["ms"] > 0
    assert "error" in out[2] and "error" in out[3]

    assert main(["--data-dir", str(tmp_path / "data"), "anpr", "read", paths[0]]) == 0
    text = capsys.readouterr().out
    assert plates[0] in text and "confidence" in text


def test_two_plates_in_one_frame_two_candidates(recognizer):
    """A bay camera over two bays: each plate once, with its own box."""
    import numpy as np

    left = make_scene(random.Random(31), "NL", "clean")
    right = make_scene(random.Random(32), "FR", "clean")
    frame = np.concatenate([left.image[:, 320:960], right.image[:, 320:960]], axis=1)
    found = recognizer.read(frame)
    plates = {_norm(c.plate) for c in found}
    assert {_norm(left.plate), _norm(right.plate)} <= plates
    assert len(found) == len(plates)
