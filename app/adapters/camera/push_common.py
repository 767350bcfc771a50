"""What the ANPR push parsers (push_isapi, push_itsapi, push_webhook) hand the server."""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

READ = "read"
HEARTBEAT = "heartbeat"
IGNORED = "ignored"

# Plates a camera sends when it saw a vehicle but read no plate.
NO_PLATE = frozenset({"", "UNKNOWN", "NOPLATE", "NONE", "NULL", "无车牌", "无牌"})


class PushError(ValueError):
    """A body we cannot use: the server answers 400 with str(error) as the reason."""


@dataclass(frozen=True, slots=True)
class Push:
    """One parsed push. kind READ carries a plate; HEARTBEAT and IGNORED are answered 200.
    Device fields (any may be empty) let the server find the camera when the URL does not
    name it."""

    kind: str
    plate: str = ""
    confidence: float = 1.0  # 0..1
    at: datetime | None = None
    image: bytes | None = None  # JPEG of the scene (else the plate crop)
    box: tuple[int, int, int, int] | None = None  # x, y, w, h pixels of `image`
    frame_size: tuple[int, int] | None = None  # of `image`
    device_id: str = ""
    ip: str = ""
    mac: str = ""
    channel: str = ""
    detail: str = ""


def confidence_0_1(value: object, default: float = 1.0) -> float:
    """0..1 as sent; above 1 taken as percent; clamped. Missing -> default."""
    if value is None or value == "":
        return default
    try:
        c = float(str(value).strip())
    except ValueError as exc:
        raise PushError(f"confidence is not a number: {str(value)[:20]!r}") from exc
    if c != c:
        raise PushError("confidence is not a number")
    if c > 1.0:
        c /= 100.0
    return min(max(c, 0.0), 1.0)


def parse_time(value: object) -> datetime | None:
    """ISO 8601 (with T or a space, optional fraction, Z or offset). Naive: the console's
    local time (cameras keep local time). Unreadable -> None (the receipt time is used)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()
    return parsed.astimezone(UTC)


def decode_b64(value: object, what: str) -> bytes | None:
    """Base64 (optionally a data: URL) -> bytes; None for empty; PushError when broken."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PushError(f"{what} is not a base64 string")
    text = value.strip()
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PushError(f"{what} is not valid base64") from exc
    return data or None


def is_jpeg(data: bytes | None) -> bool:
    return bool(data) and data[:3] == b"\xff\xd8\xff"


def jpeg_size(data: bytes | None) -> tuple[int, int] | None:
    """(width, height) from a JPEG's SOF marker, without decoding. None if not found."""
    if not is_jpeg(data):
        return None
    assert data is not None
    i, n = 2, len(data)
    while i + 9 < n:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                      0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return (w, h) if w and h else None
        if marker == 0xDA:  # start of scan: no SOF before it
            return None
        i += 2 + length
    return None


def box_in(box: tuple[int, int, int, int] | None,
           size: tuple[int, int] | None) -> tuple[int, int, int, int] | None:
    """The box when it lies inside the frame (or the frame size is unknown)."""
    if box is None:
        return None
    x, y, w, h = box
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        return None
    if size is not None and (x + w > size[0] or y + h > size[1]):
        return None
    return box


def split_multipart(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """Parts of a multipart body as (lower-cased headers, payload). Lenient like the
    cameras are: a missing closing boundary or LF-only line ends are accepted."""
    boundary = ""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise PushError("multipart body without a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        raise PushError("multipart body without parts")
    parts: list[tuple[dict[str, str], bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.lstrip(b"\n")
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = chunk.partition(b"\n\n")
        if not sep:
            continue
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        elif payload.endswith(b"\n"):
            payload = payload[:-1]
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) <= len(payload):
            payload = payload[:int(length)]
        parts.append((headers, payload))
    if not parts:
        raise PushError("multipart body without parts")
    return parts


def part_name(headers: dict[str, str]) -> str:
    """The part's filename (else its form name) from Content-Disposition."""
    disposition = headers.get("content-disposition", "")
    found: dict[str, str] = {}
    for param in disposition.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        found[name.strip().lower()] = value.strip().strip('"')
    return found.get("filename") or found.get("name") or ""
