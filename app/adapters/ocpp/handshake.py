"""The websocket handshake rules: charger id from the path, lenient subprotocols."""

from __future__ import annotations

from urllib.parse import unquote

from app.domain.site import OcppVersion

SUPPORTED = {v.subprotocol: v for v in OcppVersion}


def charger_id_from_path(path: str) -> str | None:
    """`/ocpp/<id>`, `/<id>`, with or without a query, doubled slashes, %-escapes.

    `+` stays a literal plus: in a URL path it does not mean space.
    """
    raw = path.split("?", 1)[0].split("#", 1)[0]
    parts = [p for p in raw.split("/") if p]
    if parts and parts[0].lower() in {"ocpp", "ocpp16", "ocpp201", "ocppj"} and len(parts) > 1:
        parts = parts[1:]
    if len(parts) != 1:
        return None
    charger_id = unquote(parts[0]).strip()
    return charger_id or None


def pick_subprotocol(offered: list[str] | tuple[str, ...]) -> str | None:
    """The client's own spelling of the first version we speak, matched case-insensitively.

    Returns None when nothing matches: the connection is then accepted without a
    subprotocol and the charger's configured version is used.
    """
    for candidate in offered:
        if candidate.strip().lower() in SUPPORTED:
            return candidate
    return None


def version_of(subprotocol: str | None) -> OcppVersion | None:
    if not subprotocol:
        return None
    return SUPPORTED.get(subprotocol.strip().lower())
