"""The database: one async engine, migrations, and every query family as one object.

SQLAlchemy 2 Core over an async engine; portable types only (SQLite file by default, PostgreSQL via
KNEEBOT_DATABASE_URL). Times are stored as UTC. The schema is created by Alembic (migrations/).
Each query family (users, profiles, schedules, deliveries, sessions, dialogue) has its own module.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.config import RESOURCES, Settings
from bot.storage.base import QueryFamily
from bot.storage.checks import CheckQueries
from bot.storage.deliveries import DeliveryQueries
from bot.storage.dialogue import DialogueQueries
from bot.storage.processes import ProcessQueries
from bot.storage.profiles import ProfileQueries
from bot.storage.schedules import ScheduleQueries
from bot.storage.sessions import SessionQueries
from bot.storage.users import UserQueries

MIGRATION_LOCK = 150_015  # PostgreSQL advisory lock key held while migrating


class DatabaseDamaged(Exception):
    """The database file fails its integrity check: say so at start-up, not at the first query."""


class Database(
    UserQueries,
    ProfileQueries,
    ScheduleQueries,
    DeliveryQueries,
    SessionQueries,
    CheckQueries,
    DialogueQueries,
    ProcessQueries,
    QueryFamily,
):
    """The one door to the database; every method is one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The configured database; creates KNEEBOT_DATA_DIR for the default SQLite file."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings.resolved_database_url)

    async def migrate(self) -> None:
        """Check the file, then bring the schema to the newest revision (every start-up).

        Replicas start together: on PostgreSQL an advisory lock, on SQLite a lock file beside
        the database, lets one process migrate while the others wait and then find it done.
        """
        if self.dialect == "postgresql":
            async with self.engine.begin() as conn:
                await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                await conn.run_sync(_upgrade_head)
            return
        # The check runs under the lock too: a replica mid-migration must not make a healthy
        # file look damaged ("database is locked").
        with await asyncio.to_thread(_file_lock, self.engine.url.database):
            await self.check_integrity()
            async with self.engine.begin() as conn:
                await conn.run_sync(_upgrade_head)

    async def check_integrity(self) -> None:
        """SQLite: PRAGMA quick_check, so scrambled pages stop start-up with a clear line."""
        if self.dialect != "sqlite" or not self.engine.url.database:
            return
        try:
            async with self.engine.connect() as conn:
                found = (await conn.execute(sa.text("PRAGMA quick_check"))).scalars().all()
        except sa.exc.DatabaseError as exc:
            if _busy(exc):
                raise  # another process holds the file too long: busy, not damaged
            raise DatabaseDamaged(_damaged(self.engine.url.database, str(exc.orig))) from None
        if found != ["ok"]:
            raise DatabaseDamaged(_damaged(self.engine.url.database, "; ".join(found[:3])))

    async def close(self) -> None:
        await self.engine.dispose()


def _busy(exc: sa.exc.DatabaseError) -> bool:
    return any(word in str(exc.orig).lower() for word in ("database is locked", "busy"))


def _damaged(path: str, detail: str) -> str:
    return (
        f"the database file {path} is damaged ({detail}); restore a backup, or salvage it "
        "with `sqlite3 FILE .recover`"
    )


@contextlib.contextmanager
def _locked(handle: IO) -> Iterator[None]:
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _file_lock(database: str | None) -> contextlib.AbstractContextManager:
    """An exclusive lock on `<database>.migrate-lock` (blocking; call in a thread)."""
    if not database or database == ":memory:":
        return contextlib.nullcontext()
    handle = open(f"{database}.migrate-lock", "w")  # noqa: SIM115 - closed by _locked
    fcntl.flock(handle, fcntl.LOCK_EX)
    return _locked(handle)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work at once; wait for a busy writer instead of failing.

    synchronous=FULL: a delivery recorded `sending` or `sent` survives a power cut, which is
    what "never sent twice" rests on; it costs one WAL fsync per commit (a few per reminder).
    """
    cursor = dbapi_connection.cursor()
    # The wait first: switching a new file to WAL needs a lock that a replica migrating at the
    # same moment may hold, and without a busy timeout SQLite fails at once ("locked").
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(connection: sa.Connection | None = None) -> Any:
    """The Alembic config for migrations/, optionally bound to an open connection."""
    from alembic.config import Config

    # No alembic.ini here: the bot migrates itself, and an installed package ships no ini file.
    config = Config()
    config.set_main_option("script_location", str(RESOURCES / "migrations"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade_head(connection: sa.Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def new_owner_token() -> str:
    """A random id for one dispatcher process, written into the rows it claims."""
    return secrets.token_hex(8)


def data_file(settings: Settings, name: str) -> Path:
    """A file under KNEEBOT_DATA_DIR (created), e.g. the console's progress chart."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir / name
