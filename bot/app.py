"""The one place that builds kneebot: settings → knowledge → model → index → coach, and one
database (migrated once) → the routine flow and the reminder subscriptions. Channels get these
ready-made and only translate their messages into calls."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answering.calibration import load_calibration
from bot.answering.coach import Coach, Understanding
from bot.answering.conversation import Conversations
from bot.answering.dialogue import MemoryDialogue
from bot.answering.embedding import Embedder, TorchEmbedder
from bot.answering.examples import embed_examples, read_yaml
from bot.answering.index import load_index
from bot.answering.onnx_model import load_onnx_embedder
from bot.answering.ranking import load_ranking
from bot.answering.retrieval import Retriever
from bot.answering.safety import SemanticSafety, safety_pairs
from bot.answering.understanding import (
    OFF_TOPIC,
    WORD,
    IntentClassifier,
    LanguageCheck,
    fit_intents,
    intent_pairs,
)
from bot.clock import Clock, shifted, utc_now
from bot.compose import Composer
from bot.config import Settings
from bot.knowledge import KnowledgeBase, load_knowledge, load_synonyms

if TYPE_CHECKING:  # the stateful side loads only when a process opens it (`ask` never does)
    from bot.coaching.flow import RoutineFlow
    from bot.coaching.guide import PictureFor, SessionGuide
    from bot.reminders.commands import Subscriptions
    from bot.storage.database import Database


@dataclass(frozen=True)
class Runtime:
    """The answering side: what a question needs (no database)."""

    kb: KnowledgeBase
    embedder: Embedder
    retriever: Retriever
    coach: Coach

    def memory_conversations(self) -> Conversations:
        """Conversations remembered in this process only (`kneebot ask`, the eval)."""
        return Conversations(self.coach, MemoryDialogue())


@dataclass(frozen=True)
class Features:
    """The stateful side over one database: the routine flow and the reminder subscriptions."""

    db: Database
    routine: RoutineFlow
    subscriptions: Subscriptions
    conversations: Conversations
    clock: Clock
    guide: SessionGuide
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
    synonyms = load_synonyms(settings.knowledge_dir)
    ranking = load_ranking(settings.ranking_file)
    retriever = Retriever(kb, index, embedder, synonyms=synonyms, ranking=ranking)
    calibration = load_calibration(settings.calibration_file)
    understanding = build_understanding(settings, kb, embedder, retriever)
    coach = Coach(kb, retriever, Composer(settings.prompts_dir), calibration, understanding)
    return Runtime(kb, embedder, retriever, coach)


def build_understanding(
    settings: Settings, kb: KnowledgeBase, embedder: Embedder, retriever: Retriever
) -> Understanding:
    """Intents, warning-sign and nearby-topic examples from knowledge/*.yaml, embedded once."""
    directory, cache = settings.knowledge_dir, settings.index_dir
    pairs = intent_pairs(read_yaml(directory / "intents.yaml"))
    # Chat words ("thx", "lol") are not misspelt knee words: the speller leaves them alone.
    chat = {
        word for label, text in pairs if label != "question" for word in WORD.findall(text.lower())
    }
    retriever.speller.know(chat)
    topics = read_yaml(directory / "nearby_topics.yaml").get("topics", [])
    nearby_pairs = [(topic["id"], example) for topic in topics for example in topic["examples"]]
    # The close-sounding topics we decline are off-topic examples too.
    pairs += [(OFF_TOPIC, example) for _, example in nearby_pairs]
    intents = embed_examples("intents", pairs, embedder, cache)
    warnings = embed_examples(
        "safety", safety_pairs(read_yaml(directory / "safety_examples.yaml")), embedder, cache
    )
    nearby = embed_examples("nearby", nearby_pairs, embedder, cache)
    known = {
        word
        for chunk in kb.chunks
        for word in WORD.findall(" ".join([chunk.search_text, *chunk.questions]).lower())
    }
    questions = [
        i for i, chunk_id in enumerate(retriever.index.rows) if kb.by_id(chunk_id).questions
    ]
    first_views = {retriever.index.rows.index(chunk.id) for chunk in kb.chunks}
    rows = [i for i in questions if i not in first_views]
    question_vectors = (
        retriever.index.faiss_index.reconstruct_batch(rows) if rows else intents.vectors[:0]
    )
    return Understanding(
        IntentClassifier(intents, fit_intents(intents, question_vectors, cache)),
        SemanticSafety(warnings, kb),
        nearby,
        {topic["id"]: topic for topic in topics},
        LanguageCheck(known),
    )


async def open_features(
    settings: Settings,
    runtime: Runtime,
    db: Database | None = None,
    clock: Clock = utc_now,
    picture_for: PictureFor | None = None,
) -> Features:
    """One database for every feature, migrated once, and the features built over it."""
    from bot.answering.dialogue import DatabaseDialogue
    from bot.coaching.flow import RoutineFlow
    from bot.coaching.guide import SessionGuide
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
    subscriptions.logbook.on_effort = routine.report  # Too easy / Too hard move the ladder
    # The guided session logs through the reminder feature's log book; `picture_for` is the hook
    # for exercise pictures (None: steps in words only).
    guide = SessionGuide(
        runtime.kb,
        composer,
        subscriptions.session_for,
        lambda user_id, day: subscriptions.logbook.record(user_id, day, "done"),
        picture_for=picture_for or exercise_stills(settings.index_dir),
    )
    conversations = Conversations(runtime.coach, DatabaseDialogue(db, clock))
    return Features(db, routine, subscriptions, conversations, clock, guide, own_db)


def exercise_stills(index_dir: Path) -> PictureFor:
    """The guided session's pictures: each exercise's drawn still, once `build-index` drew it."""

    from bot.pictures import picture_for as drawn_picture

    def still(exercise_id: str) -> bytes | None:
        path = drawn_picture(exercise_id, animated=False, index_dir=index_dir)
        return path.read_bytes() if path is not None else None

    return still
