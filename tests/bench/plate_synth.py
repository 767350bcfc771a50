"""Synthetic licence-plate scenes for the recognizer's tests and benchmark.

Renders plates of several European formats with PIL (a condensed bold sans: DejaVu Sans
Condensed Bold when the system has it, else Pillow's built-in font), puts them on a car-like
1280x720 scene and degrades the frame by condition:

- ``clean``       frontal plate, mild noise
- ``perspective`` the plate quad warped (yaw / tilt up to ~30 degrees, small roll)
- ``blur``        Gaussian or motion blur
- ``noise``       sensor noise + JPEG artefacts
- ``night``       dark, low contrast, headlight glare blobs, noise
- ``small``       a far plate: 90..130 px wide (characters ~15 px high)
- ``combined``    two or three of the above at once
- ``realistic``   each degradation drawn on its own (perspective 50 %, blur 35 %, noise
                  35 %, night 25 %, small 20 %): what the accuracy target is judged on

    from tests.bench.plate_synth import make_scene
    scene = make_scene(random.Random(1), country="NL", condition="night")
    scene.image  # BGR uint8 (720, 1280, 3); scene.plate "GX-512-K"; scene.box (x, y, w, h)

Deterministic for a given seed. Needs numpy, OpenCV and Pillow (the test extra).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

COUNTRIES = ("NL", "DE", "BE", "FR", "GB")
CONDITIONS = ("clean", "perspective", "blur", "noise", "night", "small", "combined")
FRAME_W, FRAME_H = 1280, 720

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)

# NL: no vowels, no C / Q (since 1978); the 14 sidecodes' shapes.
_NL_LETTERS = "BDFGHJKLNPRSTVXZ"
_NL_SIDECODES = ("LL-DD-DD", "DD-DD-LL", "DD-LL-DD", "LL-DD-LL", "LL-LL-DD", "DD-LL-LL",
                 "DD-LLL-D", "D-LLL-DD", "LL-DDD-L", "L-DDD-LL", "LLL-DD-L", "L-DD-LLL",
                 "D-LL-DDD", "DDD-LL-D")
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_DE_DISTRICTS = ("B", "M", "K", "HH", "F", "S", "D", "DO", "HB", "KA", "MZ", "WI", "BN", "AC",
                 "GT", "LEV", "STA", "RO", "OF", "BAD")


@dataclass(frozen=True)
class PlateStyle:
    background: tuple[int, int, int]  # RGB
    ink: tuple[int, int, int]
    band: str  # the EU band's country letters, "" for none
    right_band: bool = False  # FR: a blue band on the right too
    border: tuple[int, int, int] | None = None


STYLES = {
    "NL": PlateStyle((247, 200, 20), (15, 15, 15), "NL"),
    "DE": PlateStyle((245, 245, 240), (15, 15, 15), "D", border=(20, 20, 20)),
    "BE": PlateStyle((248, 248, 248), (170, 20, 30), "B", border=(170, 20, 30)),
    "FR": PlateStyle((245, 245, 245), (15, 15, 15), "F", right_band=True),
    "GB": PlateStyle((250, 250, 250), (10, 10, 10), "UK"),
    "GB_REAR": PlateStyle((245, 205, 30), (10, 10, 10), ""),
}


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # BGR
    plate: str  # as printed, e.g. "GX-512-K"
    country: str
    condition: str
    box: tuple[int, int, int, int]  # the plate's bounding box in the frame


def random_plate(rng: random.Random, country: str) -> str:
    """A plate number in the country's printed form."""
    def letters(n: int, pool: str = _LETTERS) -> str:
        return "".join(rng.choice(pool) for _ in range(n))

    def digits(n: int, first_nonzero: bool = False) -> str:
        out = "".join(rng.choice("0123456789") for _ in range(n))
        if first_nonzero and out[0] == "0":
            out = str(rng.randint(1, 9)) + out[1:]
        return out

    if country == "NL":
        code = rng.choice(_NL_SIDECODES)
        return "".join(letters(1, _NL_LETTERS) if c == "L" else digits(1) if c == "D" else c
                       for c in code)
    if country == "DE":
        district = rng.choice(_DE_DISTRICTS)
        n_letters = rng.choice((1, 2, 2))
        n_digits = rng.randint(1, 4) if len(district) + n_letters + 4 <= 8 else rng.randint(1, 3)
        suffix = "E" if rng.random() < 0.1 else ""
        return f"{district}-{letters(n_letters)} {digits(n_digits, True)}{suffix}"
    if country == "BE":
        return f"{rng.randint(1, 2)}-{letters(3)}-{digits(3)}"
    if country == "FR":
        pool = "ABCDEFGHJKLMNPQRSTVWXYZ"  # no I, O, U
        return f"{letters(2, pool)}-{digits(3)}-{letters(2, pool)}"
    if country == "GB":
        pool = "ABCDEFGHJKLMNOPRSTUVWXY"
        age = rng.choice(("24", "74", "23", "73", "19", "69", "15", "65", "11", "61"))
        return f"{letters(2, pool)}{age} {letters(3, pool.replace('O', ''))}"
    raise ValueError(f"unknown country {country!r}")


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _FONT_CANDIDATES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def render_plate(text: str, country: str, rear: bool = False) -> np.ndarray:
    """The plate as a BGR image, 520 x 112 px (the EU 520 x 110 mm plate at ~1 px/mm)."""
    style = STYLES["GB_REAR" if country == "GB" and rear else country]
    w, h = 520, 112
    img = Image.new("RGB", (w, h), style.background)
    draw = ImageDraw.Draw(img)
    band_w = 44 if style.band else 0
    if style.band:
        draw.rectangle((0, 0, band_w, h), fill=(0, 51, 153))
        for i in range(12):  # the ring of stars, as dots
            ang = 2 * np.pi * i / 12
            cx, cy = band_w / 2 + 11 * np.cos(ang), 30 + 11 * np.sin(ang)
            draw.ellipse((cx - 1.8, cy - 1.8, cx + 1.8, cy + 1.8), fill=(255, 204, 0))
        bf = _font(24)
        tw = draw.textlength(style.band, font=bf)
        draw.text(((band_w - tw) / 2, 58), style.band, font=bf, fill=(255, 255, 255))
    right_w = 40 if style.right_band else 0
    if style.right_band:
        draw.rectangle((w - right_w, 0, w, h), fill=(0, 51, 153))
        draw.text((w - right_w + 8, 60), "75", font=_font(20), fill=(255, 255, 255))
    if style.border:
        draw.rectangle((1, 1, w - 2, h - 2), outline=style.border, width=4)
    # The characters: condensed (rendered wide, squeezed horizontally to fit).
    font = _font(92)
    tw = draw.textlength(text, font=font)
    avail = w - band_w - right_w - 24
    layer = Image.new("RGB", (int(tw) + 10, h), style.background)
    ImageDraw.Draw(layer).text((5, h / 2), text, font=font, fill=style.ink, anchor="lm")
    scale = min(1.0, avail / layer.width) * (0.92 if len(text) > 8 else 1.0)
    layer = layer.resize((max(1, int(layer.width * scale)), h), Image.Resampling.LANCZOS)
    x0 = band_w + 12 + (avail - layer.width) // 2
    img.paste(layer.crop((0, 8, layer.width, h - 8)), (x0, 8))
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def _background(rng: random.Random) -> np.ndarray:
    """Road, wall/sky gradient, a car body with windscreen, grille, lights and wheels."""
    img = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    top = np.array([rng.randint(90, 200)] * 3) + rng.randint(-20, 20)
    bottom = np.array([rng.randint(40, 110)] * 3)
    for y in range(FRAME_H):
        t = y / FRAME_H
        img[y] = np.clip(top * (1 - t) + bottom * t, 0, 255)
    # clutter: poles, a kerb, lane markings
    for _ in range(rng.randint(2, 5)):
        x = rng.randint(0, FRAME_W)
        cv2.line(img, (x, 0), (x + rng.randint(-60, 60), FRAME_H),
                 tuple(rng.randint(30, 230) for _ in range(3)), rng.randint(3, 18))
    cv2.rectangle(img, (0, 640), (FRAME_W, 660), (200, 200, 200), -1)
    return img


def _car(img: np.ndarray, rng: random.Random, cx: int, bumper_y: int, width: int) -> None:
    colour = tuple(int(c) for c in rng.choice(((30, 30, 30), (200, 200, 205), (40, 40, 150),
                                               (120, 60, 20), (230, 230, 230), (90, 90, 90),
                                               (20, 110, 30), (0, 0, 140))))
    x0, x1 = cx - width // 2, cx + width // 2
    body_top = bumper_y - int(width * 0.38)
    cv2.rectangle(img, (x0, body_top), (x1, bumper_y + int(width * 0.12)), colour, -1)
    roof = (x0 + width // 7, body_top - int(width * 0.28), x1 - width // 7, body_top)
    cv2.rectangle(img, roof[:2], roof[2:], colour, -1)
    glass = tuple(min(255, c // 3 + 40) for c in colour)
    cv2.rectangle(img, (roof[0] + 12, roof[1] + 12), (roof[2] - 12, roof[3] - 4), glass, -1)
    # headlights, grille bars (horizontal edges near the plate: a localizer's distractor)
    light = (200, 230, 240)
    ly = body_top + int(width * 0.12)
    cv2.rectangle(img, (x0 + 20, ly), (x0 + width // 5, ly + 26), light, -1)
    cv2.rectangle(img, (x1 - width // 5, ly), (x1 - 20, ly + 26), light, -1)
    for i in range(4):
        gy = ly + 4 + i * 9
        cv2.line(img, (cx - width // 5, gy), (cx + width // 5, gy),
                 tuple(max(0, c - 60) for c in colour), 3)
    for wx in (x0 + width // 8, x1 - width // 8):
        cv2.ellipse(img, (wx, bumper_y + int(width * 0.12)), (width // 10, width // 14), 0,
                    180, 360, (15, 15, 15), -1)
    if rng.random() < 0.4:  # a dealer sticker with small text
        cv2.putText(img, "AUTO CENTER", (cx - 80, bumper_y + int(width * 0.09)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (240, 240, 240), 1, cv2.LINE_AA)


def _paste_quad(img: np.ndarray, plate: np.ndarray, quad: np.ndarray) -> None:
    h, w = plate.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    warped = cv2.warpPerspective(plate, m, (FRAME_W, FRAME_H), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (FRAME_W, FRAME_H),
                               flags=cv2.INTER_LINEAR)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    img[:] = (img * (1 - alpha) + warped * alpha).astype(np.uint8)


def _degrade(img: np.ndarray, rng: random.Random, flags: set[str], nprng: np.random.Generator,
             plate_box: tuple[int, int, int, int]) -> np.ndarray:
    out = img.astype(np.float32)
    if "blur" in flags:
        if rng.random() < 0.5:
            k = rng.choice((3, 5))
            out = cv2.GaussianBlur(out, (k, k), rng.uniform(1.0, 1.6))
        else:  # horizontal motion blur (the car moving)
            n = rng.randint(5, 9)
            kernel = np.zeros((n, n), np.float32)
            kernel[n // 2] = 1.0 / n
            out = cv2.filter2D(out, -1, kernel)
    if "night" in flags:
        out = out * rng.uniform(0.25, 0.45) + rng.uniform(0, 12)
        # the plate is lit (IR / plate light) less than it would be by day
        x, y, w, h = plate_box
        out[y:y + h, x:x + w] *= rng.uniform(1.0, 1.5)
        yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W]
        for _ in range(rng.randint(1, 3)):  # headlight glare
            gx = rng.choice((x - rng.randint(120, 300), x + w + rng.randint(120, 300)))
            gy = y - rng.randint(20, 120)
            r = rng.uniform(40, 110)
            blob = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r)) * rng.uniform(150, 255)
            out += blob[..., None]
    if flags & {"noise", "night"}:
        out += nprng.normal(0, rng.uniform(6, 14), out.shape)
    else:
        out += nprng.normal(0, 2.5, out.shape)
    out8 = np.clip(out, 0, 255).astype(np.uint8)
    if "noise" in flags:
        _ok, enc = cv2.imencode(".jpg", out8, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(25, 50)])
        out8 = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return out8


def _flags(rng: random.Random, condition: str) -> set[str]:
    if condition == "clean":
        return set()
    if condition == "combined":
        return set(rng.sample(["perspective", "blur", "noise", "night", "small"],
                              rng.choice((2, 2, 3))))
    if condition == "realistic":
        odds = {"perspective": 0.5, "blur": 0.35, "noise": 0.35, "night": 0.25, "small": 0.2}
        return {k for k, p in odds.items() if rng.random() < p}
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}")
    return {condition}


def make_scene(rng: random.Random, country: str | None = None, condition: str = "clean",
               plate: str | None = None) -> Scene:
    """One 1280x720 frame with one car and its plate."""
    country = country or rng.choice(COUNTRIES)
    flags = _flags(rng, condition)
    text = plate or random_plate(rng, country)
    img = _background(rng)
    car_w = rng.randint(560, 820)
    cx = rng.randint(car_w // 2 + 20, FRAME_W - car_w // 2 - 20)
    bumper_y = rng.randint(430, 560)
    _car(img, rng, cx, bumper_y, car_w)
    plate_img = render_plate(text, country, rear=rng.random() < 0.5)
    # a lane camera's usual plate width at 720p; a far one is smaller
    pw = rng.randint(90, 130) if "small" in flags else rng.randint(150, 250)
    ph = pw * plate_img.shape[0] / plate_img.shape[1]
    px, py = cx - pw / 2 + rng.uniform(-40, 40), bumper_y - ph / 2
    quad = np.float32([[px, py], [px + pw, py], [px + pw, py + ph], [px, py + ph]])
    if "perspective" in flags or rng.random() < 0.3:
        strength = 1.0 if "perspective" in flags else 0.4
        yaw = rng.uniform(-0.28, 0.28) * strength  # near side taller, far side shorter
        tilt = rng.uniform(-0.15, 0.2) * strength
        shrink = ph * yaw
        quad[1, 1] += shrink / 2
        quad[2, 1] -= shrink / 2
        quad[0, 1] -= shrink / 2
        quad[3, 1] += shrink / 2
        quad[0, 0] += pw * tilt * 0.3
        quad[1, 0] -= pw * tilt * 0.3
        roll = rng.uniform(-6, 6) * strength
        rot = cv2.getRotationMatrix2D((float(px + pw / 2), float(py + ph / 2)), roll, 1.0)
        quad = cv2.transform(quad[None], rot)[0]
    _paste_quad(img, plate_img, quad)
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    box = (int(x0), int(y0), int(x1 - x0), int(y1 - y0))
    img = _degrade(img, rng, flags, np.random.default_rng(rng.randrange(2**32)), box)
    return Scene(img, text, country, condition, box)


def no_plate_scene(rng: random.Random) -> np.ndarray:
    """A car without a plate (an empty bay, a car seen from the side...)."""
    img = _background(rng)
    _car(img, rng, 640, 500, 700)
    return np.clip(img.astype(np.int16) + np.random.default_rng(rng.randrange(2**32))
                   .normal(0, 3, img.shape).astype(np.int16), 0, 255).astype(np.uint8)


if __name__ == "__main__":  # write a few samples: python -m tests.bench.plate_synth OUTDIR
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/plates")
    out.mkdir(parents=True, exist_ok=True)
    r = random.Random(7)
    for cond in CONDITIONS:
        for c in COUNTRIES:
            s = make_scene(r, c, cond)
            cv2.imwrite(str(out / f"{cond}_{c}_{s.plate.replace(' ', '_')}.jpg"), s.image)
    print(out)
