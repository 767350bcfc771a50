"""Each recorded push body -> the parsed read; malformed bodies -> clear errors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.adapters.camera import push_isapi, push_itsapi, push_webhook
from app.adapters.camera.push_common import (
    HEARTBEAT,
    IGNORED,
    READ,
    PushError,
    confidence_0_1,
    jpeg_size,
    split_multipart,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "anpr"
MULTIPART = "multipart/form-data; boundary=boundary"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# ---- Hikvision ISAPI ------------------------------------------------------------------------

def test_isapi_multipart_alert_with_pictures():
    push = push_isapi.parse(body("isapi_anpr_multipart.bin"), MULTIPART)
    assert push.kind == READ
    assert push.plate == "AB123CD"
    assert push.confidence == pytest.approx(0.98)
    assert push.at == datetime(2024, 5, 7, 10, 48, 3, 847000, tzinfo=UTC)
    assert push.ip == "172.20.16.40" and push.channel == "1" and push.device_id == "88"
    assert push.mac == "44:a6:42:f3:2a:d7"
    # The scene (detectionPicture), not the plate crop, with the plate's place in it.
    assert push.frame_size == (640, 480)
    assert push.image is not None and jpeg_size(push.image) == (640, 480)
    assert push.box == (430, 275, 106, 65)


def test_isapi_bare_xml_alert():
    push = push_isapi.parse(body("isapi_anpr.xml"), "application/xml")
    assert (push.kind, push.plate, push.confidence) == (READ, "AB123CD", pytest.approx(0.98))
    assert push.image is None and push.box is None and push.frame_size is None


def test_isapi_json_alert():
    push = push_isapi.parse(body("isapi_anpr.json"), "application/json")
    assert (push.kind, push.plate) == (READ, "WX1234A")
    assert push.confidence == pytest.approx(0.92)
    assert push.channel == "1" and push.ip == "192.168.1.64"


def test_isapi_json_flattened_keys():
    doc = {"eventType": "ANPR", "ANPR.licensePlate": "ABC123", "ANPR.confidenceLevel": "75"}
    push = push_isapi.parse(json.dumps(doc).encode(), "application/json")
    assert (push.plate, push.confidence) == ("ABC123", pytest.approx(0.75))


def test_isapi_heartbeat_and_other_events_are_not_reads():
    assert push_isapi.parse(body("isapi_heartbeat.xml"), "text/xml").kind == HEARTBEAT
    assert push_isapi.parse(body("isapi_vmd.xml"), "text/xml").kind == IGNORED


def test_isapi_prefixed_namespace_and_unknown_plate():
    xml = (b'<ns1:EventNotificationAlert xmlns:ns1="http://www.hikvision.com/ver20/XMLSchema">'
           b"<ns1:eventType>ANPR</ns1:eventType><ns1:ANPR><ns1:licensePlate>WA99999"
           b"</ns1:licensePlate><ns1:confidenceLevel>90</ns1:confidenceLevel></ns1:ANPR>"
           b"</ns1:EventNotificationAlert>")
    assert push_isapi.parse(xml, "text/xml").plate == "WA99999"
    unknown = (b"<EventNotificationAlert><eventType>ANPR</eventType><ANPR><licensePlate>"
               b"unknown</licensePlate><confidenceLevel>0</confidenceLevel></ANPR>"
               b"</EventNotificationAlert>")
    assert push_isapi.parse(unknown, "text/xml").kind == IGNORED


def test_isapi_multipart_with_octet_stream_picture_and_no_final_boundary():
    xml = body("isapi_anpr.xml")
    jpeg = (FIXTURES / "isapi_anpr_multipart.bin").read_bytes()
    pic = jpeg[jpeg.rindex(b"\xff\xd8\xff"):jpeg.rindex(b"\xff\xd9") + 2]
    raw = (b"--xx\r\nContent-Disposition: form-data; name=\"anpr.xml\"\r\n"
           b"Content-Type: text/xml\r\n\r\n" + xml + b"\r\n--xx\r\nContent-Disposition: "
           b"form-data; filename=\"vehiclePicture.jpg\"\r\nContent-Type: "
           b"application/octet-stream\r\n\r\n" + pic + b"\r\n")
    push = push_isapi.parse(raw, "multipart/form-data; boundary=xx")
    assert push.plate == "AB123CD" and push.image == pic


@pytest.mark.parametrize(("raw", "ctype", "reason"), [
    (b"", "text/xml", "empty body"),
    (b"<EventNotificationAlert><eventType>ANPR", "text/xml", "not valid XML"),
    (b"<Other/>", "text/xml", "not an EventNotificationAlert"),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><EventNotificationAlert/>', "text/xml", "DOCTYPE"),
    (b"{not json", "application/json", "not valid JSON"),
    (b"[1, 2]", "application/json", "not an object"),
    (b"--boundary\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0\r\n--boundary--",
     MULTIPART, "without an XML or JSON"),
    (b"whatever", "multipart/form-data", "without a boundary"),
    (b"<EventNotificationAlert><ANPR><licensePlate>A1</licensePlate><confidenceLevel>high"
     b"</confidenceLevel></ANPR></EventNotificationAlert>", "text/xml", "confidence"),
])
def test_isapi_malformed(raw, ctype, reason):
    with pytest.raises(PushError, match=reason):
        push_isapi.parse(raw, ctype)


# ---- Dahua ITSAPI ---------------------------------------------------------------------------

def test_itsapi_tollgate():
    push = push_itsapi.parse("TollgateInfo", body("itsapi_tollgate.json"))
    assert (push.kind, push.plate) == (READ, "ITS123")
    assert push.confidence == pytest.approx(0.87)
    assert push.device_id == "7J0D2F4PAZ12345" and push.channel == "0"
    assert push.frame_size == (640, 480)  # NormalPic, the scene
    assert push.box == (430, 275, 100, 67)  # 0..8191 coordinates scaled to the picture
    assert push.at is not None and push.at.tzinfo is not None


def test_itsapi_keepalive_and_other_kinds():
    hb = push_itsapi.parse("KeepAlive", body("itsapi_keepalive.json"))
    assert hb.kind == HEARTBEAT and hb.device_id == "7J0D2F4PAZ12345"
    assert push_itsapi.parse("KeepAlive", b"").kind == HEARTBEAT
    assert push_itsapi.parse("DeviceInfo", b"{}").kind == IGNORED


def test_itsapi_no_plate_is_ignored():
    doc = json.loads(body("itsapi_tollgate.json"))
    doc["Picture"]["Plate"]["PlateNumber"] = ""
    assert push_itsapi.parse("TollgateInfo", json.dumps(doc).encode()).kind == IGNORED


@pytest.mark.parametrize(("raw", "reason"), [
    (b"", "empty body"),
    (b"{", "not valid JSON"),
    (b'"x"', "not a JSON object"),
    (b'{"Plate": {}}', "no Picture"),
    (b'{"Picture": {"Plate": {"PlateNumber": "A1"}, "NormalPic": {"Content": "***"}}}',
     "NormalPic.Content is not valid base64"),
])
def test_itsapi_malformed(raw, reason):
    with pytest.raises(PushError, match=reason):
        push_itsapi.parse("TollgateInfo", raw)


# ---- the generic webhook --------------------------------------------------------------------

def test_webhook_recorded_body():
    push = push_webhook.parse(body("webhook.json"))
    assert (push.kind, push.plate) == (READ, "AB-123-C")
    assert push.confidence == pytest.approx(0.93)
    assert push.at == datetime(2026, 11, 21, 17, 5, 12, tzinfo=UTC)
    assert push.frame_size == (640, 480) and push.box == (430, 275, 106, 65)


def test_webhook_minimal_and_fraction_confidence():
    push = push_webhook.parse(b'{"plate": "xy 12", "confidence": 0.4}')
    assert (push.plate, push.confidence, push.at, push.image) == ("xy 12", 0.4, None, None)
    assert push_webhook.parse(b'{"plate": "A1"}').confidence == 1.0
    jpeg = body("isapi_anpr_multipart.bin")
    pic = jpeg[jpeg.rindex(b"\xff\xd8\xff"):]
    url = "data:image/jpeg;base64," + base64.b64encode(pic).decode()
    assert push_webhook.parse(json.dumps({"plate": "A1", "image": url}).encode()).image == pic


@pytest.mark.parametrize(("doc", "reason"), [
    (b"nope", "not valid JSON"),
    (b"[]", "not a JSON object"),
    (b"{}", "'plate' is missing"),
    (b'{"plate": 12}', "'plate' is missing"),
    (b'{"plate": "A1", "confidence": "high"}', "confidence is not a number"),
    (b'{"plate": "A1", "confidence": true}', "confidence is not a number"),
    (b'{"plate": "A1", "time": "yesterday"}', "'time' is not an ISO 8601"),
    (b'{"plate": "A1", "image": "@@@"}', "'image' is not valid base64"),
    (b'{"plate": "A1", "box": [1, 2]}', "'box' must be"),
])
def test_webhook_malformed(doc, reason):
    with pytest.raises(PushError, match=reason):
        push_webhook.parse(doc)


# ---- helpers --------------------------------------------------------------------------------

def test_confidence_scales():
    assert confidence_0_1("98") == pytest.approx(0.98)
    assert confidence_0_1(0.5) == 0.5
    assert confidence_0_1(250) == 1.0
    assert confidence_0_1(None) == 1.0


def test_multipart_parts_are_split_lenient():
    parts = split_multipart(body("isapi_anpr_multipart.bin"), MULTIPART)
    assert len(parts) == 3
    assert parts[0][0]["content-type"] == "text/xml"
