"""The database fixtures: one real SQLite file, or one real PostgreSQL database, per test.

`db` in tests/storage, tests/reminders and tests/coaching runs every test on both backends (see
their conftest.py); elsewhere `db` is SQLite only. The PostgreSQL server starts once per session,
on first use. KNEEBOT_TEST_BACKENDS=sqlite skips the PostgreSQL half (e.g. a quick local run).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.storage.database import Database
from tests.support.postgres import PostgresServer, running_postgres

BACKENDS = tuple(os.environ.get("KNEEBOT_TEST_BACKENDS", "sqlite,postgresql").split(","))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the whole test session."""
    with running_postgres() as server:
        yield server


def sqlite_url(tmp_path: Path) -> str:
    return Settings(KNEEBOT_DATA_DIR=tmp_path / "data").resolved_database_url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The URL of an empty database (nothing migrated) on the test's backend."""
    if backend == "sqlite":
        (tmp_path / "data").mkdir(exist_ok=True)
        return sqlite_url(tmp_path)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return await server.fresh_database()


@pytest.fixture
async def both_backends_db(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Database]:
    """A migrated database on SQLite and on PostgreSQL (the test runs once for each)."""
    if backend == "sqlite":
        database = Database.from_settings(Settings(KNEEBOT_DATA_DIR=tmp_path / "data"))
        await database.migrate()
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        database = Database(await server.migrated_database())
    yield database
    await database.close()
