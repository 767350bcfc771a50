"""AccessStore on the DbWriter: the AccessService's view of app.adapters.db.access_repo."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from app.adapters.db import access_repo
from app.adapters.db.writer import DbWriter
from app.domain.access import AccessData

# The changes a service may ask for, by name (access_repo functions taking conn first).
CHANGES = {
    name: getattr(access_repo, name) for name in (
        "save_group", "delete_group", "save_account", "delete_account", "add_credential",
        "set_credential_status", "delete_credential", "save_permit", "delete_permit",
        "add_block", "remove_block", "save_policy")
}


class SqlAccessStore:
    def __init__(self, writer: DbWriter) -> None:
        self._writer = writer

    async def load(self) -> tuple[AccessData, dict[str, Any]]:
        def load(conn: Connection) -> tuple[AccessData, dict[str, Any]]:
            return access_repo.load_access(conn), access_repo.load_policy(conn)

        return await self._writer.run(load)

    async def revision(self) -> int:
        return await self._writer.run(access_repo.read_revision)

    async def change(self, name: str, *args: Any) -> Any:
        func = CHANGES[name]
        return await self._writer.run(lambda conn: func(conn, *args))

    def record_decision(self, row: dict[str, Any]) -> None:
        self._writer.enqueue(lambda conn: access_repo.record_decisions(conn, [row]))

    async def decisions(self, **query: Any) -> list[dict[str, Any]]:
        return await self._writer.run(lambda conn: access_repo.load_decisions(conn, **query))
