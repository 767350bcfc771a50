"""The generic ANPR webhook: any camera, VMS or script that can POST JSON.

    POST /anpr/webhook/<camera_id>
    Authorization: Bearer <push_token>        (or ?token=<push_token>, or HTTP Basic
                                               with the token as the password)
    Content-Type: application/json

    {
      "plate": "AB-123-C",                 required: the plate as read
      "confidence": 0.93,                  optional: 0.0-1.0, or 0-100 (percent);
                                           default 1.0
      "time": "2026-11-21T18:05:12+01:00", optional: ISO 8601 time of the read (no
                                           offset: the console's local time); default:
                                           when it arrived. A time more than 5 minutes
                                           off is replaced by the arrival time.
      "image": "<base64 JPEG>",            optional: the snapshot kept as evidence (a
                                           data:image/jpeg;base64,... URL is fine too)
      "box": [x, y, w, h],                 optional: the plate in the image, pixels
      "frame_size": [w, h]                 optional: the image size (else read from it)
    }

Answers: 200 {"ok": true, "plate": "AB123C"} (the normalized plate); 400 {"ok": false,
"error": "..."} for a malformed body; 401 bad or missing token; 404 unknown camera;
413 body over the size limit (8 MB).
"""

from __future__ import annotations

import json
from typing import Any

from app.adapters.camera.push_common import (
    READ,
    Push,
    PushError,
    box_in,
    confidence_0_1,
    decode_b64,
    jpeg_size,
    parse_time,
)


def parse(body: bytes) -> Push:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PushError("body is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise PushError("body is not a JSON object")
    plate = doc.get("plate")
    if not isinstance(plate, str) or not plate.strip():
        raise PushError("'plate' is missing or not a string")
    if isinstance(doc.get("confidence"), bool):
        raise PushError("confidence is not a number")
    confidence = confidence_0_1(doc.get("confidence"))
    time = doc.get("time")
    at = None
    if time not in (None, ""):
        at = parse_time(time)
        if at is None:
            raise PushError("'time' is not an ISO 8601 time")
    image = decode_b64(doc.get("image"), "'image'")
    size = _pair(doc.get("frame_size"), "frame_size") or jpeg_size(image)
    box = _quad(doc.get("box"))
    return Push(READ, plate=plate.strip(), confidence=confidence, at=at, image=image,
                box=box_in(box, size), frame_size=size)


def _pair(value: Any, what: str) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        w, h = (int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise PushError(f"'{what}' must be [w, h]") from exc
    return (w, h) if w > 0 and h > 0 else None


def _quad(value: Any) -> tuple[int, int, int, int] | None:
    if value is None:
        return None
    try:
        x, y, w, h = (int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise PushError("'box' must be [x, y, w, h]") from exc
    return (x, y, w, h)
