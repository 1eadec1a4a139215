"""The database: one async engine, migrations, and every query family as one object.

SQLAlchemy 2 Core over an async engine; portable types only (SQLite file by default, PostgreSQL via
KNEEBOT_DATABASE_URL). Times are stored as UTC. The schema is created by Alembic (migrations/).
Each query family (users, profiles, schedules, deliveries, sessions, dialogue) has its own module.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.config import RESOURCES, Settings
from bot.storage.base import QueryFamily
from bot.storage.checks import CheckQueries
from bot.storage.deliveries import DeliveryQueries
from bot.storage.dialogue import DialogueQueries
from bot.storage.profiles import ProfileQueries
from bot.storage.schedules import ScheduleQueries
from bot.storage.sessions import SessionQueries
from bot.storage.users import UserQueries


class Database(
    UserQueries,
    ProfileQueries,
    ScheduleQueries,
    DeliveryQueries,
    SessionQueries,
    CheckQueries,
    DialogueQueries,
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
        """Bring the schema to the newest Alembic revision (runs on every start-up)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade_head)

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work at once; wait for a busy writer instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
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
