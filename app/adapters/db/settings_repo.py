"""The `settings` table: site settings as key -> JSON value (app.config.STORED_SETTINGS)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from app.adapters.db import tables as t


def load_settings(conn: Connection) -> dict[str, Any]:
    return {r.key: r.value for r in conn.execute(select(t.settings))}


def save_settings(conn: Connection, values: Mapping[str, Any]) -> None:
    """Insert or replace each key (a None value is stored, meaning "switched off")."""
    for key, value in values.items():
        conn.execute(delete(t.settings).where(t.settings.c.key == key))
        conn.execute(insert(t.settings).values(key=key, value=value))
