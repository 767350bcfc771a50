"""Dahua ITSAPI pushes (ANPR cameras, "ITSAPI" / platform upload over HTTP, JSON).

The camera POSTs to fixed paths on the configured server:

- `/NotificationInfo/TollgateInfo`: one passage. Read: Picture.Plate.PlateNumber,
  Picture.Plate.Confidence (0..100), Picture.Plate.BoundingBox ([left, top, right,
  bottom] in the 0..8191 coordinates Dahua uses, scaled to the scene picture),
  Picture.SnapInfo.DeviceID / AccurateTime (else SnapTime), and the base64 pictures
  Picture.NormalPic.Content (scene; else VehiclePic, then CutoutPic: the plate crop).
  `/NotificationInfo/ParkingInfo` (parking-space cameras) has the same Picture.Plate.
- `/NotificationInfo/KeepAlive`: a heartbeat {"Active": "keepAlive", "DeviceID": ...}.
- anything else under /NotificationInfo/ (DeviceInfo, AlarmInfo...): acknowledged, ignored.

Every accepted request is answered `{"Result": true, "Message": "OK"}` (what deployed
receivers answer and the cameras accept; a camera that gets no such answer retries).
"""

from __future__ import annotations

import json
from typing import Any

from app.adapters.camera.push_common import (
    HEARTBEAT,
    IGNORED,
    NO_PLATE,
    READ,
    Push,
    PushError,
    box_in,
    confidence_0_1,
    decode_b64,
    jpeg_size,
    parse_time,
)

ACK: dict[str, Any] = {"Result": True, "Message": "OK"}
_DAHUA_SCALE = 8192
_READ_KINDS = {"tollgateinfo", "parkinginfo"}


def parse(kind: str, body: bytes) -> Push:
    """`kind`: the last path segment (TollgateInfo, KeepAlive, ...)."""
    k = kind.lower()
    if k not in _READ_KINDS and k != "keepalive":
        return Push(IGNORED, detail=f"ITSAPI {kind[:40]} not used")
    text = body.strip()
    if not text:
        if k == "keepalive":
            return Push(HEARTBEAT)
        raise PushError("empty body")
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PushError("body is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise PushError("body is not a JSON object")
    if k == "keepalive":
        return Push(HEARTBEAT, device_id=str(doc.get("DeviceID") or ""))
    picture = doc.get("Picture")
    if not isinstance(picture, dict):
        raise PushError("no Picture object")
    plate_info = _obj(picture.get("Plate"))
    snap = _obj(picture.get("SnapInfo")) or _obj(picture.get("ParkingInfo"))
    device = {"device_id": str(snap.get("DeviceID") or doc.get("DeviceID") or ""),
              "channel": str(plate_info.get("Channel", snap.get("Channel", "")))}
    plate = str(plate_info.get("PlateNumber") or "").strip()
    if plate.upper() in NO_PLATE:
        return Push(IGNORED, detail="vehicle without a readable plate", **device)
    confidence = confidence_0_1(plate_info.get("Confidence"))
    image = None
    for key in ("NormalPic", "VehiclePic", "CutoutPic"):
        image = decode_b64(_obj(picture.get(key)).get("Content"), f"Picture.{key}.Content")
        if image:
            break
    size = jpeg_size(image)
    return Push(READ, plate=plate, confidence=confidence,
                at=parse_time(snap.get("AccurateTime") or snap.get("SnapTime")),
                image=image, box=_box(plate_info.get("BoundingBox"), size), frame_size=size,
                **device)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _box(value: Any, size: tuple[int, int] | None) -> tuple[int, int, int, int] | None:
    if size is None or not isinstance(value, list) or len(value) != 4:
        return None
    try:
        left, top, right, bottom = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if not 0 <= left < right <= _DAHUA_SCALE or not 0 <= top < bottom <= _DAHUA_SCALE:
        return None
    sx, sy = size[0] / _DAHUA_SCALE, size[1] / _DAHUA_SCALE
    box = (round(left * sx), round(top * sy), max(1, round((right - left) * sx)),
           max(1, round((bottom - top) * sy)))
    return box_in(box, size)
