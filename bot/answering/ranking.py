"""How the retrieval signals add up to one ranking score: weights fitted on labelled messages
(`kneebot eval --fit-ranking`, bot/devtools/ranking_fit.py), committed in bot/ranking.json."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Committed on purpose, like bot/calibration.json: every deployment ranks with the fitted weights.
RANKING_FILE = Path(__file__).resolve().parent.parent / "ranking.json"

# One column per signal of Retriever.signals, in this order.
SIGNALS = (
    "dense",  # best cosine over a chunk's views (its text and its example questions)
    "text",  # cosine to the chunk's own text (a hub's best view: its text is a bare list)
    "lexical",  # BM25, saturated to 0–1
    "hub_lexical",  # the same for a hub, which names every topic it maps
    "name",  # the message's topic words against a title or alias
    "intent",  # +1 for the kind of chunk the wording asks for, -1 against
    "red_flag",  # 1 for a warning page: those are reached by their trigger rules
    "qtype",  # how much the chunk's kind suits the question type (retrieval.PREFERS)
    "question_lexical",  # BM25 over the chunk's example questions, which use everyday words
)

# The hand-set weights the fitted ones replaced; used when the file cannot be read.
HAND_SET = {
    "dense": 0.5,
    "text": 0.5,
    "lexical": 0.7,
    "hub_lexical": 0.35,
    "name": 0.2,
    "intent": 0.15,
    "red_flag": -0.1,
    "qtype": 0.16,
    "question_lexical": 0.0,
}


def as_vector(weights: dict[str, float]) -> np.ndarray:
    return np.array([weights[name] for name in SIGNALS], dtype=np.float32)


def load_ranking(path: Path = RANKING_FILE) -> dict[str, float]:
    """The fitted weights; the hand-set ones (with a warning naming the file) when unreadable."""
    try:
        weights = {name: float(value) for name, value in json.loads(path.read_text()).items()}
        missing = sorted(set(SIGNALS) - set(weights))
        if missing:
            raise ValueError(f"no weight for {', '.join(missing)}")
        return {name: weights[name] for name in SIGNALS}
    except (OSError, ValueError, TypeError, AttributeError) as error:
        log.warning("ranking weights unavailable: %s (%s); using the hand-set ones", path, error)
        return dict(HAND_SET)


def save_ranking(weights: dict[str, float], path: Path = RANKING_FILE) -> None:
    rounded = {name: round(float(weights[name]), 4) for name in SIGNALS}
    path.write_text(json.dumps(rounded, indent=2) + "\n")
