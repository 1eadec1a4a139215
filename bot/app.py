"""Wire the pieces together once per process: knowledge → model → index → retriever → coach."""

from __future__ import annotations

from dataclasses import dataclass

from bot.answering.coach import Coach
from bot.answering.embedding import Embedder
from bot.answering.index import load_index
from bot.answering.retrieval import Retriever
from bot.compose import Composer
from bot.config import Settings
from bot.devtools.evaluation import load_calibration
from bot.knowledge import KnowledgeBase, load_knowledge


@dataclass(frozen=True)
class Runtime:
    kb: KnowledgeBase
    embedder: Embedder
    retriever: Retriever
    coach: Coach


def build_runtime(settings: Settings, embedder: Embedder | None = None) -> Runtime:
    """Validate knowledge first (cheap, fails fast), then load the model and a current index."""
    kb = load_knowledge(settings.knowledge_dir)
    embedder = embedder or Embedder()
    index = load_index(kb, embedder, settings.index_dir)
    retriever = Retriever(kb, index, embedder)
    coach = Coach(kb, retriever, Composer(settings.prompts_dir), load_calibration())
    return Runtime(kb, embedder, retriever, coach)
