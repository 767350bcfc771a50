"""Open a site database ready for use: engine, the writer thread, migrations applied."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import Engine

from app.adapters.db.engine import make_engine
from app.adapters.db.migrate import upgrade
from app.adapters.db.writer import DbWriter


async def open_database(url: str) -> tuple[Engine, DbWriter]:
    """The caller owns both and closes them with `close_database` (the core does at stop)."""
    engine = make_engine(url)
    writer = DbWriter(engine)
    writer.start()
    try:
        await writer.run(lambda _conn: upgrade(engine))
    except BaseException:
        close_database(engine, writer)
        raise
    return engine, writer


def close_database(engine: Engine, writer: DbWriter) -> None:
    """Write what is queued, end the writer thread, release the connections."""
    writer.stop()
    engine.dispose()


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[DbWriter]:
    """For one-shot commands (the CLI): open, use, close."""
    engine, writer = await open_database(url)
    try:
        yield writer
    finally:
        close_database(engine, writer)
