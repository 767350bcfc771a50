"""Hikvision ISAPI `EventNotificationAlert` pushes (camera "alarm server" / HTTP listening).

The camera POSTs one alert per event to the configured URL, as:

- multipart/form-data: a part with the alert (XML, sometimes JSON; named anpr.xml or
  similar) plus JPEG parts (licensePlatePicture.jpg: the plate crop; detectionPicture.jpg
  or vehiclePicture.jpg: the scene);
- or the bare XML / JSON alert.

ANPR fields read: ANPR.licensePlate (else originalLicensePlate / plateNumber),
ANPR.confidenceLevel (0..100), dateTime, ipAddress, macAddress, channelID, deviceID, and
the plate's rectangle in the detection picture (pictureInfoList/pictureInfo/plateRect).
Heartbeats (eventType videoloss + eventState inactive) and any other event are answered
200 and ignored. A plate of "unknown" (vehicle seen, plate not read) is ignored too.

Untrusted XML: documents with a DOCTYPE (entity tricks) are refused; the server's body
limit bounds the rest.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
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
    is_jpeg,
    jpeg_size,
    parse_time,
    part_name,
    split_multipart,
)

# Scene pictures first: the evidence should show the car; the plate crop is a fallback.
_SCENES = ("detectionpicture", "vehiclepicture", "scenepicture")


def parse(body: bytes, content_type: str = "") -> Push:
    ctype = content_type.split(";")[0].strip().lower()
    images: list[tuple[str, bytes]] = []
    if ctype.startswith("multipart/"):
        alert: bytes | None = None
        alert_type = ""
        for headers, payload in split_multipart(body, content_type):
            name = part_name(headers).lower()
            ptype = headers.get("content-type", "").split(";")[0].strip().lower()
            if is_jpeg(payload):
                images.append((name, payload))
            elif alert is None and (
                    "xml" in ptype or "json" in ptype or name.endswith((".xml", ".json"))
                    or payload.lstrip()[:1] in (b"<", b"{")):
                alert, alert_type = payload, ptype
        if alert is None:
            raise PushError("multipart body without an XML or JSON alert part")
        return _alert(alert, alert_type, images)
    return _alert(body, ctype, images)


def _alert(data: bytes, ctype: str, images: list[tuple[str, bytes]]) -> Push:
    text = data.strip()
    if not text:
        raise PushError("empty body")
    if text[:1] == b"{" or "json" in ctype:
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PushError("alert is not valid JSON") from exc
        if not isinstance(doc, dict):
            raise PushError("alert JSON is not an object")
        fields = _from_json(doc)
    else:
        fields = _from_xml(text)
    return _push(fields, images)


def _from_xml(text: bytes) -> dict[str, Any]:
    if b"<!DOCTYPE" in text[:4096].upper() or b"<!ENTITY" in text.upper():
        raise PushError("XML with a DOCTYPE is not accepted")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PushError(f"alert is not valid XML ({exc})") from exc
    for el in root.iter():  # drop namespaces: {ns}tag and ns1:tag both become tag
        if isinstance(el.tag, str):
            el.tag = el.tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
    if root.tag != "EventNotificationAlert":
        raise PushError(f"not an EventNotificationAlert ({root.tag[:40]})")

    def top(name: str) -> str:
        el = root.find(name)
        return (el.text or "").strip() if el is not None and el.text else ""

    anpr = root.find("ANPR")
    fields: dict[str, Any] = {
        "eventType": top("eventType"), "eventState": top("eventState"),
        "dateTime": top("dateTime"), "ipAddress": top("ipAddress"),
        "macAddress": top("macAddress"), "channelID": top("channelID"),
        "deviceID": top("deviceID"),
    }
    if anpr is not None:
        def sub(name: str) -> str:
            el = anpr.find(name)
            return (el.text or "").strip() if el is not None and el.text else ""

        fields["plate"] = sub("licensePlate") or sub("originalLicensePlate") \
            or sub("plateNumber")
        fields["confidence"] = sub("confidenceLevel") or sub("confidence")
        fields["rects"] = {}
        for info in anpr.iter("pictureInfo"):
            kind = (info.findtext("type") or info.findtext("fileName") or "").strip()
            rect = info.find("plateRect")
            if rect is not None:
                fields["rects"][kind.lower().removesuffix(".jpg")] = {
                    k.lower(): (c.text or "").strip() for c in rect for k in [c.tag]}
    return fields


def _from_json(doc: dict[str, Any]) -> dict[str, Any]:
    anpr = doc.get("ANPR")
    if not isinstance(anpr, dict):  # some firmware flattens it: "ANPR.licensePlate"
        anpr = {k.split(".", 1)[1]: v for k, v in doc.items()
                if isinstance(k, str) and k.startswith("ANPR.")}
    fields: dict[str, Any] = {
        "eventType": str(doc.get("eventType") or ""),
        "eventState": str(doc.get("eventState") or ""),
        "dateTime": str(doc.get("dateTime") or ""),
        "ipAddress": str(doc.get("ipAddress") or ""),
        "macAddress": str(doc.get("macAddress") or ""),
        "channelID": str(doc.get("channelID") or ""),
        "deviceID": str(doc.get("deviceID") or ""),
    }
    if anpr:
        fields["plate"] = str(anpr.get("licensePlate") or anpr.get("originalLicensePlate")
                              or anpr.get("plateNumber") or "").strip()
        fields["confidence"] = anpr.get("confidenceLevel", anpr.get("confidence"))
        fields["rects"] = {}
        infos = (anpr.get("pictureInfoList") or {})
        if isinstance(infos, dict):
            infos = infos.get("pictureInfo") or []
        if isinstance(infos, dict):
            infos = [infos]
        for info in infos if isinstance(infos, list) else []:
            if isinstance(info, dict) and isinstance(info.get("plateRect"), dict):
                kind = str(info.get("type") or info.get("fileName") or "")
                fields["rects"][kind.lower().removesuffix(".jpg")] = {
                    str(k).lower(): v for k, v in info["plateRect"].items()}
    return fields


def _push(fields: dict[str, Any], images: list[tuple[str, bytes]]) -> Push:
    device = {"device_id": fields.get("deviceID", ""), "ip": fields.get("ipAddress", ""),
              "mac": fields.get("macAddress", ""), "channel": fields.get("channelID", "")}
    event = fields.get("eventType", "").lower()
    state = fields.get("eventState", "").lower()
    if event == "videoloss" and state == "inactive":
        return Push(HEARTBEAT, **device)
    if "plate" not in fields:
        return Push(IGNORED, detail=f"event {event or '?'} without ANPR", **device)
    plate = str(fields["plate"]).strip()
    if plate.upper() in NO_PLATE:
        return Push(IGNORED, detail="vehicle without a readable plate", **device)
    confidence = confidence_0_1(fields.get("confidence"))
    name, image = _scene(images)
    size = jpeg_size(image)
    box = None
    rect = fields.get("rects", {}).get(name.removesuffix(".jpg")) if name else None
    if rect:
        try:
            box = (int(float(rect.get("x", 0))), int(float(rect.get("y", 0))),
                   int(float(rect.get("width", 0))), int(float(rect.get("height", 0))))
        except (TypeError, ValueError):
            box = None
    return Push(READ, plate=plate, confidence=confidence,
                at=parse_time(fields.get("dateTime")), image=image, box=box_in(box, size),
                frame_size=size, **device)


def _scene(images: list[tuple[str, bytes]]) -> tuple[str, bytes | None]:
    if not images:
        return "", None

    def rank(item: tuple[str, bytes]) -> tuple[int, int]:
        stem = item[0].rsplit(".", 1)[0]
        order = next((i for i, p in enumerate(_SCENES) if stem.endswith(p)), None)
        if order is None:  # a plate crop last; an unnamed picture before it
            order = len(_SCENES) + int(stem.endswith("platepicture"))
        return (order, -len(item[1]))

    return min(images, key=rank)
