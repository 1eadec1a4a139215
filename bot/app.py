"""The one place that builds kneebot: settings → knowledge → model → index → coach, and one
database (migrated once) → the routine flow and the reminder subscriptions. Channels get these
ready-made and only translate their messages into calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.answering.calibration import load_calibration
from bot.answering.coach import Coach
from bot.answering.embedding import Embedder, TorchEmbedder
from bot.answering.index import load_index
from bot.answering.onnx_model import load_onnx_embedder
from bot.answering.retrieval import Retriever
from bot.clock import Clock, shifted, utc_now
from bot.compose import Composer
from bot.config import Settings
from bot.knowledge import KnowledgeBase, load_knowledge

if TYPE_CHECKING:
    from bot.coaching.flow import RoutineFlow
    from bot.reminders.commands import Subscriptions
    from bot.storage.database import Database


@dataclass(frozen=True)
class Runtime:
    """The answering side: what a question needs (no database)."""

    kb: KnowledgeBase
    embedder: Embedder
    retriever: Retriever
    coach: Coach


@dataclass(frozen=True)
class Features:
    """The stateful side over one database: the routine flow and the reminder subscriptions."""

    db: Database
    routine: RoutineFlow
    subscriptions: Subscriptions
    clock: Clock
    own_db: bool  # opened here, so closed here; a caller's database is the caller's to close

    async def close(self) -> None:
        if self.own_db:
            await self.db.close()


def load_embedder(settings: Settings) -> Embedder:
    """The query model on the configured backend (ONNX unless KNEEBOT_EMBED_BACKEND=torch)."""
    if settings.embed_backend == "torch":
        return TorchEmbedder()
    return load_onnx_embedder(settings.index_dir)


def build_runtime(settings: Settings, embedder: Embedder | None = None) -> Runtime:
    """Validate knowledge first (cheap, fails fast), then load the model and a current index."""
    kb = load_knowledge(settings.knowledge_dir)
    embedder = embedder or load_embedder(settings)
    # The index is always embedded by the torch reference; only a rebuild loads it.
    reference = (lambda: embedder) if embedder.backend == "torch" else TorchEmbedder
    index = load_index(kb, embedder, settings.index_dir, reference)
    retriever = Retriever(kb, index, embedder)
    calibration = load_calibration(settings.calibration_file)
    coach = Coach(kb, retriever, Composer(settings.prompts_dir), calibration)
    return Runtime(kb, embedder, retriever, coach)


async def open_features(
    settings: Settings, runtime: Runtime, db: Database | None = None, clock: Clock = utc_now
) -> Features:
    """One database for every feature, migrated once, and the features built over it."""
    # Imported here, not at the top: `ask` and `eval` answer without a database, and SQLAlchemy
    # and the features cost a serving process's cold start about a third of its imports.
    from bot.coaching.flow import RoutineFlow
    from bot.reminders.commands import Subscriptions
    from bot.storage.database import Database

    own_db = db is None
    db = db or Database.from_settings(settings)
    try:
        await db.migrate()
    except BaseException:
        if own_db:
            await db.close()
        raise
    clock = shifted(clock, settings.clock_offset_seconds)
    composer = runtime.coach.composer
    routine = RoutineFlow.create(runtime.kb, composer, db, settings.knowledge_dir, clock=clock)
    subscriptions = Subscriptions(db, runtime.kb, composer, clock=clock)
    return Features(db, routine, subscriptions, clock, own_db)
