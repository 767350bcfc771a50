"""Load and save the site configuration. Functions of a Connection: run them on the writer."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from app.adapters.db import tables as t
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
from app.domain.timeutil import utc_now


def load_site(conn: Connection) -> Site | None:
    row = conn.execute(select(t.site)).first()
    if row is None:
        return None
    return Site(
        name=row.name,
        currency=row.currency,
        timezone=row.timezone,
        zones=tuple(
            Zone(r.id, r.name, r.capacity)
            for r in conn.execute(select(t.zones).order_by(t.zones.c.id))
        ),
        chargers=tuple(
            ChargerConfig(r.id, OcppVersion(r.ocpp_version or "1.6"), r.connector_count, r.label,
                          r.max_power_w)
            for r in conn.execute(
                select(t.chargers).where(t.chargers.c.configured == 1).order_by(t.chargers.c.id)
            )
        ),
        cameras=tuple(
            Camera(r.id, r.name, CameraRole(r.role), r.source, dict(r.settings or {}))
            for r in conn.execute(select(t.cameras).order_by(t.cameras.c.id))
        ),
        barriers=tuple(
            Barrier(r.id, r.name, r.driver, dict(r.settings or {}))
            for r in conn.execute(select(t.barriers).order_by(t.barriers.c.id))
        ),
        bays=tuple(
            Bay(r.id, r.label, r.zone_id, r.charger_id, r.connector_id, r.camera_id, r.x, r.y)
            for r in conn.execute(select(t.bays).order_by(t.bays.c.id))
        ),
        lanes=tuple(
            Lane(r.id, r.name, r.zone_id, LaneDirection(r.direction), r.camera_id, r.barrier_id)
            for r in conn.execute(select(t.lanes).order_by(t.lanes.c.id))
        ),
    )


def save_site(conn: Connection, site: Site) -> None:
    """Replace the site configuration. Chargers keep what they reported (identity, state)."""
    now = utc_now()
    for table in (t.lanes, t.bays, t.barriers, t.cameras, t.zones, t.site):
        conn.execute(delete(table))
    conn.execute(insert(t.site), [{"id": 1, "name": site.name, "currency": site.currency,
                                   "timezone": site.timezone, "updated_at": now}])
    if site.zones:
        conn.execute(insert(t.zones), [
            {"id": z.id, "name": z.name, "capacity": z.capacity} for z in site.zones])
    if site.cameras:
        conn.execute(insert(t.cameras), [
            {"id": c.id, "name": c.name, "role": str(c.role), "source": c.source,
             "settings": dict(c.settings)}
            for c in site.cameras])
    if site.barriers:
        conn.execute(insert(t.barriers), [
            {"id": b.id, "name": b.name, "driver": b.driver, "settings": dict(b.settings)}
            for b in site.barriers])
    conn.execute(update(t.chargers).values(configured=0))
    for c in site.chargers:
        values = {"configured": 1, "label": c.label, "ocpp_version": str(c.ocpp_version),
                  "connector_count": c.connectors, "max_power_w": c.max_power_w}
        if conn.execute(update(t.chargers).where(t.chargers.c.id == c.id).values(values)).rowcount:
            continue
        conn.execute(insert(t.chargers).values(
            id=c.id, vendor="", model="", serial="", firmware="", remote="", online=0,
            approved=1, lenient=0, **values))
    if site.bays:
        conn.execute(insert(t.bays), [
            {"id": b.id, "label": b.label, "zone_id": b.zone_id, "charger_id": b.charger_id,
             "connector_id": b.connector_id, "camera_id": b.camera_id, "x": b.x, "y": b.y}
            for b in site.bays])
    if site.lanes:
        conn.execute(insert(t.lanes), [
            {"id": ln.id, "name": ln.name, "zone_id": ln.zone_id, "direction": str(ln.direction),
             "camera_id": ln.camera_id, "barrier_id": ln.barrier_id}
            for ln in site.lanes])


def save_camera(conn: Connection, camera: Camera) -> None:
    """One camera's name, role, source and settings (insert when new)."""
    values = {"name": camera.name, "role": str(camera.role), "source": camera.source,
              "settings": dict(camera.settings)}
    if conn.execute(update(t.cameras).where(t.cameras.c.id == camera.id)
                    .values(**values)).rowcount == 0:
        conn.execute(insert(t.cameras).values(id=camera.id, **values))
