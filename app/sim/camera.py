"""A simulated IP camera: a capture-like thread rendering a parking scene with OpenCV.

Like a real capture thread it keeps only the newest frame. To stay cheap it renders the
static background once, redraws the cars only when they change, and redraws the NVR
timestamp only when the second changes; frames are read-only so they can be shared.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime

import cv2
import numpy as np

from app.domain.site import Camera, CameraRole

log = logging.getLogger(__name__)

_FONT = cv2.FONT_HERSHEY_DUPLEX
_CAR_COLOURS = ((190, 190, 190), (40, 40, 40), (235, 235, 235), (150, 60, 30),
                (40, 40, 150), (90, 90, 90), (30, 90, 40), (60, 120, 190))  # BGR


class SimCamera:
    def __init__(self, camera: Camera, fps: float = 15, size: tuple[int, int] = (1280, 720),
                 *, bay_labels: Sequence[str] = ()):
        self.camera = camera
        self.id = camera.id
        self.fps = fps
        self.width, self.height = size
        # A lane camera sees one car at the barrier; a bay camera a row of bays.
        if camera.role is CameraRole.LANE:
            self.bay_labels: tuple[str, ...] = ()
            self.slots = 1
        else:
            self.bay_labels = tuple(bay_labels) or tuple(f"EV {i:02d}" for i in range(1, 5))
            self.slots = len(self.bay_labels)
        self.frames_produced = 0
        self._plates: dict[int, str] = {}
        self._lock = threading.Lock()
        self._scene_version = 0  # bumped by set_vehicle; the thread redraws on change
        self._latest: tuple[np.ndarray, datetime] | None = None
        self._online = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control (any thread) -----------------------------------------------------------

    def set_vehicle(self, plate: str | None, slot: int = 0) -> None:
        """Show a car with this plate in a slot (one per bay label), or empty the slot."""
        if not 0 <= slot < self.slots:
            raise ValueError(f"camera {self.id} has slots 0..{self.slots - 1}")
        with self._lock:
            if plate:
                self._plates[slot] = plate
            else:
                self._plates.pop(slot, None)
            self._scene_version += 1

    @property
    def plates(self) -> dict[int, str]:
        """slot -> plate of the cars in view now."""
        with self._lock:
            return dict(self._plates)

    def set_online(self, online: bool) -> None:
        """Simulate a dead camera (for training): while offline no new frames arrive."""
        self._online = online

    def latest(self) -> tuple[np.ndarray, datetime] | None:
        return self._latest

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"camera-{self.id}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- capture thread -----------------------------------------------------------------

    def _loop(self) -> None:
        period = 1.0 / self.fps
        background = self._background()
        scene, scene_version = background, -1
        frame, frame_second = background, ""
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                if self._online:
                    with self._lock:
                        version, plates = self._scene_version, dict(self._plates)
                    now = datetime.now(UTC)
                    second = now.astimezone().strftime("%Y-%m-%d %H:%M:%S")
                    if version != scene_version:
                        scene, scene_version = self._draw_cars(background, plates), version
                        frame_second = ""
                    if second != frame_second:
                        frame, frame_second = self._overlay(scene, second), second
                    self._latest = (frame, now)  # one reference swap: readers never tear
                    self.frames_produced += 1
                next_at += period
                delay = next_at - time.monotonic()
                if delay < 0:  # fell behind: skip frames rather than burst
                    next_at, delay = time.monotonic(), 0.0
                self._stop.wait(delay)
        except Exception:
            log.exception("sim camera %s: rendering failed; the camera goes dark", self.id)

    # -- drawing ------------------------------------------------------------------------

    def _background(self) -> np.ndarray:
        w, h = self.width, self.height
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        # Asphalt, lighter towards the camera, with grain.
        shade = np.linspace(55, 95, h, dtype=np.float32)[:, None, None]
        img = np.clip(shade + rng.normal(0, 6, (h, w, 1)), 0, 255).astype(np.uint8)
        img = np.repeat(img, 3, axis=2)
        horizon = int(h * 0.28)
        img[:horizon] = (150, 150, 145)  # concrete wall
        cv2.line(img, (0, horizon), (w, horizon), (110, 110, 105), max(2, h // 180))
        white = (225, 225, 225)
        if self.slots == 1:
            for x0, x1 in ((0.30, 0.05), (0.70, 0.95)):  # lane edges in perspective
                cv2.line(img, (int(w * x0), horizon), (int(w * x1), h), white, max(3, w // 200))
            y = int(h * 0.55)
            cv2.line(img, (int(w * 0.22), y), (int(w * 0.78), y), white, max(4, h // 80))
            cv2.putText(img, "STOP", (int(w * 0.42), int(h * 0.52)), _FONT, h / 360, white,
                        max(2, h // 240))
        else:
            slot_w = w / self.slots
            for i in range(self.slots + 1):
                x = int(i * slot_w)
                cv2.line(img, (x, horizon), (x, h), white, max(3, w // 250))
            for i in range(self.slots):  # EV bay paint and a charger post on the wall
                x = int(i * slot_w)
                cv2.rectangle(img, (x + 8, int(h * 0.9)), (int(x + slot_w) - 8, h), (60, 130, 60),
                              -1)
                px = int(x + slot_w * 0.12)
                cv2.rectangle(img, (px, int(h * 0.12)), (px + w // 60, horizon + 4),
                              (200, 200, 200), -1)
                cv2.putText(img, self.bay_labels[i], (int(x + slot_w * 0.35), int(h * 0.2)),
                            _FONT, h / 720, (60, 60, 60), max(1, h // 360))
        img.flags.writeable = False
        return img

    def _draw_cars(self, background: np.ndarray, plates: dict[int, str]) -> np.ndarray:
        if not plates:
            return background
        img = background.copy()
        w, h = self.width, self.height
        slot_w = w / self.slots
        car_w = int(slot_w * (0.46 if self.slots == 1 else 0.78))
        car_h = int(car_w * 0.62)
        bottom = int(h * (0.92 if self.slots == 1 else 0.86))
        for slot, plate in plates.items():
            cx = int(slot_w * (slot + 0.5))
            x0, y0 = cx - car_w // 2, bottom - car_h
            colour = _CAR_COLOURS[zlib.crc32(plate.encode()) % len(_CAR_COLOURS)]
            cv2.rectangle(img, (x0, y0 + car_h // 3), (x0 + car_w, bottom), colour, -1)
            cv2.rectangle(img, (x0 + car_w // 8, y0), (x0 + car_w * 7 // 8, y0 + car_h // 3),
                          colour, -1)
            cv2.rectangle(img, (x0 + car_w // 6, y0 + car_h // 14),
                          (x0 + car_w * 5 // 6, y0 + car_h // 3), (50, 40, 30), -1)  # glass
            for lx in (x0 + car_w // 10, x0 + car_w * 9 // 10):  # headlights
                cv2.circle(img, (lx, y0 + car_h // 2), max(4, car_w // 16), (220, 240, 250), -1)
            self._draw_plate(img, plate, cx, bottom - car_h // 5,
                             int(car_w * (0.42 if self.slots == 1 else 0.5)))
        img.flags.writeable = False
        return img

    @staticmethod
    def _draw_plate(img: np.ndarray, plate: str, cx: int, cy: int, plate_w: int) -> None:
        plate_h = max(12, int(plate_w * 0.22))
        x0, y0 = cx - plate_w // 2, cy - plate_h // 2
        dutch = len(plate) == 8 and plate.count("-") == 2  # every NL sidecode is 8 long
        fill = (0, 200, 250) if dutch else (245, 245, 245)  # NL plates are yellow
        cv2.rectangle(img, (x0, y0), (x0 + plate_w, y0 + plate_h), fill, -1)
        cv2.rectangle(img, (x0, y0), (x0 + plate_w, y0 + plate_h), (0, 0, 0), 2)
        thickness = max(1, plate_h // 10)
        (tw, th), _ = cv2.getTextSize(plate, _FONT, 1.0, thickness)
        scale = min((plate_w * 0.9) / tw, (plate_h * 0.7) / th)
        (tw, th), _ = cv2.getTextSize(plate, _FONT, scale, thickness)
        cv2.putText(img, plate, (cx - tw // 2, cy + th // 2), _FONT, scale, (0, 0, 0),
                    thickness, cv2.LINE_AA)

    def _overlay(self, scene: np.ndarray, stamp: str) -> np.ndarray:
        img = scene.copy()
        scale, thick = self.height / 720 * 0.9, max(1, self.height // 360)
        for text, org in ((stamp, (16, int(self.height * 0.06))),
                          (self.camera.name, (16, self.height - 16))):
            # White on a black outline, readable on any background (NVR style).
            cv2.putText(img, text, org, _FONT, scale, (0, 0, 0), thick + 3, cv2.LINE_AA)
            cv2.putText(img, text, org, _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)
        img.flags.writeable = False
        return img
