"""Site <-> plain dict (JSON files, the database's site document, CSV imports later)."""

from __future__ import annotations

from typing import Any

from app.domain.site import (
    Barrier,
    Bay,
    Camera,
    CameraRole,
    ChargerConfig,
    Lane,
    LaneDirection,
    OcppVersion,
    Site,
    Zone,
)


class SiteFormatError(ValueError):
    """A site document is malformed; the message names the field."""


def _req(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise SiteFormatError(f"{where}: missing field {key!r}")
    return d[key]


def site_from_dict(doc: dict[str, Any]) -> Site:
    try:
        site = Site(
            name=str(_req(doc, "name", "site")),
            currency=str(doc.get("currency", "EUR")),
            timezone=str(doc.get("timezone", "UTC")),
            zones=tuple(
                Zone(id=str(_req(z, "id", "zone")), name=str(z.get("name", z["id"])),
                     capacity=int(z.get("capacity", 0)))
                for z in doc.get("zones", [])
            ),
            chargers=tuple(
                ChargerConfig(
                    id=str(_req(c, "id", "charger")),
                    ocpp_version=OcppVersion(str(c.get("ocpp_version", "1.6"))),
                    connectors=int(c.get("connectors", 2)),
                    label=str(c.get("label", "")),
                    max_power_w=int(c.get("max_power_w", 22_000)),
                )
                for c in doc.get("chargers", [])
            ),
            cameras=tuple(
                Camera(id=str(_req(c, "id", "camera")), name=str(c.get("name", c["id"])),
                       role=CameraRole(str(c.get("role", "lane"))),
                       source=str(c.get("source", "sim:")),
                       settings=dict(c.get("settings") or {}))
                for c in doc.get("cameras", [])
            ),
            barriers=tuple(
                Barrier(id=str(_req(b, "id", "barrier")), name=str(b.get("name", b["id"])),
                        driver=str(b.get("driver", "sim")), settings=dict(b.get("settings", {})))
                for b in doc.get("barriers", [])
            ),
            bays=tuple(
                Bay(
                    id=str(_req(b, "id", "bay")),
                    label=str(b.get("label", b["id"])),
                    zone_id=str(_req(b, "zone_id", f"bay {b['id']}")),
                    charger_id=b.get("charger_id"),
                    connector_id=None if b.get("connector_id") is None else int(b["connector_id"]),
                    camera_id=b.get("camera_id"),
                    x=float(b.get("x", 0.0)),
                    y=float(b.get("y", 0.0)),
                )
                for b in doc.get("bays", [])
            ),
            lanes=tuple(
                Lane(
                    id=str(_req(ln, "id", "lane")),
                    name=str(ln.get("name", ln["id"])),
                    zone_id=str(_req(ln, "zone_id", f"lane {ln['id']}")),
                    direction=LaneDirection(str(_req(ln, "direction", f"lane {ln['id']}"))),
                    camera_id=ln.get("camera_id"),
                    barrier_id=ln.get("barrier_id"),
                )
                for ln in doc.get("lanes", [])
            ),
        )
    except SiteFormatError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise SiteFormatError(f"site document is malformed: {exc}") from exc
    problems = site.validate()
    if problems:
        raise SiteFormatError("; ".join(problems))
    return site


def site_to_dict(site: Site) -> dict[str, Any]:
    return {
        "name": site.name,
        "currency": site.currency,
        "timezone": site.timezone,
        "zones": [{"id": z.id, "name": z.name, "capacity": z.capacity} for z in site.zones],
        "chargers": [
            {"id": c.id, "ocpp_version": str(c.ocpp_version), "connectors": c.connectors,
             "label": c.label, "max_power_w": c.max_power_w}
            for c in site.chargers
        ],
        "cameras": [
            {"id": c.id, "name": c.name, "role": str(c.role), "source": c.source,
             "settings": dict(c.settings)}
            for c in site.cameras
        ],
        "barriers": [
            {"id": b.id, "name": b.name, "driver": b.driver, "settings": dict(b.settings)}
            for b in site.barriers
        ],
        "bays": [
            {"id": b.id, "label": b.label, "zone_id": b.zone_id, "charger_id": b.charger_id,
             "connector_id": b.connector_id, "camera_id": b.camera_id, "x": b.x, "y": b.y}
            for b in site.bays
        ],
        "lanes": [
            {"id": ln.id, "name": ln.name, "zone_id": ln.zone_id, "direction": str(ln.direction),
             "camera_id": ln.camera_id, "barrier_id": ln.barrier_id}
            for ln in site.lanes
        ],
    }
