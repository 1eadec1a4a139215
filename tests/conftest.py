"""Shared fixtures: the real model is loaded once per test session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bot.answering.embedding import Embedder  # noqa: E402
from bot.app import Runtime, build_runtime  # noqa: E402
from bot.config import PROJECT_ROOT, Settings  # noqa: E402
from bot.storage.database import Database  # noqa: E402


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once (about 5 s)."""
    return Embedder()


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kneebot")


@pytest.fixture(scope="session")
def settings(session_dir: Path) -> Settings:
    """Settings pointing at the repo's knowledge and prompts, with a private index and data dir."""
    return Settings(
        KNEEBOT_KNOWLEDGE_DIR=PROJECT_ROOT / "knowledge",
        KNEEBOT_PROMPTS_DIR=PROJECT_ROOT / "prompts",
        KNEEBOT_INDEX_DIR=session_dir / "index",
        KNEEBOT_DATA_DIR=session_dir / "data",
        TELEGRAM_BOT_TOKEN=None,
    )


@pytest.fixture(scope="session")
def runtime(settings: Settings, embedder: Embedder) -> Runtime:
    """Knowledge, index (built into a temporary dir), retriever and coach over the real model."""
    return build_runtime(settings, embedder)


@pytest.fixture(scope="session")
def coach(runtime: Runtime):
    return runtime.coach


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A real SQLite file in a fresh data dir, migrated to the newest schema."""
    database = Database.from_settings(Settings(KNEEBOT_DATA_DIR=tmp_path / "data"))
    await database.migrate()
    yield database
    await database.close()
