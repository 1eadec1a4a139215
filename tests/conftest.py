"""Shared fixtures: the real model is loaded once per test session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from bot.answering.embedding import Embedder, TorchEmbedder
from bot.answering.index import build_index
from bot.answering.onnx_model import export_onnx
from bot.app import Runtime, build_runtime
from bot.compose import Composer
from bot.config import PROJECT_ROOT, Settings
from bot.knowledge import KnowledgeBase, load_knowledge
from bot.storage.database import Database
from tests.support.databases import backend, empty_database_url, postgres_server  # noqa: F401
from tests.support.telegram import botapi, tg_app  # noqa: F401 — the Bot API stub fixtures

# Property tests explore the same examples on every run, so CI never fails on a lucky draw;
# run with --hypothesis-profile=explore locally to search fresh examples.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile("repeatable")


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    """The repo's knowledge base, validated once."""
    return load_knowledge(PROJECT_ROOT / "knowledge")


@pytest.fixture(scope="session")
def composer() -> Composer:
    """The repo's reply templates."""
    return Composer(PROJECT_ROOT / "prompts")


@pytest.fixture(scope="session")
def reference_embedder() -> TorchEmbedder:
    """The real all-MiniLM-L6-v2 on sentence-transformers/torch, loaded once (about 5 s)."""
    return TorchEmbedder()


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
def runtime(settings: Settings, kb: KnowledgeBase, reference_embedder: TorchEmbedder) -> Runtime:
    """What `kneebot build-index` writes (into a temporary dir), then a serving runtime over it:
    the real model on ONNX Runtime, the default backend."""
    build_index(kb, reference_embedder, settings.index_dir)
    export_onnx(settings.index_dir)
    return build_runtime(settings)


@pytest.fixture(scope="session")
def embedder(runtime: Runtime) -> Embedder:
    """The serving runtime's query model (ONNX)."""
    return runtime.embedder


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
