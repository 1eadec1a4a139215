"""`kneebot eval`: retrieval quality on the labelled questions, per retriever mode."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.config import PROJECT_ROOT
from bot.conversation import Coach, ReplyKind
from bot.retrieval import Mode

QUESTIONS_FILE = PROJECT_ROOT / "tests" / "data" / "eval_questions.yaml"
CALIBRATION_FILE = PROJECT_ROOT / "bot" / "calibration.json"
MAX_FALSE_REJECT = 0.02  # leaves headroom under the 3% bar for unseen questions


@dataclass(frozen=True)
class Question:
    q: str
    kind: str
    expect: tuple[str, ...]
    split: str


@dataclass(frozen=True)
class Outcome:
    question: Question
    kind: str
    top_id: str | None
    ranked_ids: tuple[str, ...]
    top_score: float


def load_questions(path: Path = QUESTIONS_FILE, split: str | None = None) -> list[Question]:
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = [Question(i["q"], i["kind"], tuple(i["expect"]), i["split"]) for i in items]
    return [q for q in questions if split in (None, q.split)]


def run(coach: Coach, questions: list[Question], mode: Mode) -> list[Outcome]:
    """Every question through the real core (one batched encode), under one retriever mode."""
    prepared = [coach.retriever.prepare(q.q) for q in questions]
    vectors = coach.retriever.embedder.encode(prepared)
    outcomes = []
    for question, text, vector in zip(questions, prepared, vectors, strict=True):
        reply = coach.decide(question.q, text, vector, mode)
        hits = coach.retriever.rank(text, vector, mode)
        top_id = reply.sources[0].id if reply.sources else None
        # The reply's own source leads (a red flag outranks retrieval); the ranking follows.
        ranked = (top_id,) * bool(top_id) + tuple(h.chunk.id for h in hits if h.chunk.id != top_id)
        outcomes.append(Outcome(question, reply.kind.value, top_id, ranked, hits[0].score))
    return outcomes


def metrics(outcomes: list[Outcome]) -> dict[str, float]:
    """Top-1, recall@3, MRR (in-domain); off-topic precision/recall; red-flag recall."""
    inside = [o for o in outcomes if o.question.kind != "unknown"]
    off = [o for o in outcomes if o.question.kind == "unknown"]
    flags = [o for o in outcomes if o.question.kind == "safety"]
    rejected = [o for o in outcomes if o.kind == ReplyKind.UNKNOWN]
    rejected_off = [o for o in rejected if o.question.kind == "unknown"]
    return {
        "top1": _mean(o.top_id in o.question.expect for o in inside),
        "recall@3": _mean(bool(set(o.ranked_ids[:3]) & set(o.question.expect)) for o in inside),
        "mrr": _mean(_reciprocal_rank(o) for o in inside),
        "kind_accuracy": _mean(o.kind == o.question.kind for o in outcomes),
        "offtopic_precision": len(rejected_off) / len(rejected) if rejected else 1.0,
        "offtopic_recall": len(rejected_off) / len(off) if off else 1.0,
        "false_reject": _mean(o.kind == ReplyKind.UNKNOWN for o in inside),
        "redflag_recall": _mean(o.kind == ReplyKind.SAFETY for o in flags),
        "questions": float(len(outcomes)),
    }


def _reciprocal_rank(outcome: Outcome) -> float:
    for rank, chunk_id in enumerate(outcome.ranked_ids, start=1):
        if chunk_id in outcome.question.expect:
            return 1.0 / rank
    return 0.0


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else 0.0


def calibrate_unknown(outcomes: list[Outcome]) -> float:
    """The threshold that rejects the most off-topic questions with ≤ 2% in-domain rejected.

    Safety questions are left out: they are caught before the threshold applies. The cut sits
    halfway between the neighbouring scores, for margin on questions not in the set.
    """
    inside = sorted(o.top_score for o in outcomes if o.question.kind in ("answer", "howto"))
    off = sorted(o.top_score for o in outcomes if o.question.kind == "unknown")
    allowed = int(MAX_FALSE_REJECT * len(inside))
    highest_cut = inside[allowed]  # rejecting anything below this rejects ≤ allowed in-domain
    below = [score for score in off if score < highest_cut]
    lowest_cut = max(below) if below else highest_cut
    return round((lowest_cut + highest_cut) / 2, 4)


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, float]:
    """Per-mode unknown thresholds; empty when never calibrated."""
    try:
        return {mode: float(value) for mode, value in json.loads(path.read_text()).items()}
    except FileNotFoundError:
        return {}


def save_calibration(thresholds: dict[str, float], path: Path = CALIBRATION_FILE) -> None:
    path.write_text(json.dumps(thresholds, indent=2, sort_keys=True) + "\n")


def table(results: dict[str, dict[str, float]]) -> str:
    """Metrics as a fixed-width table, one column per mode."""
    modes = list(results)
    names = list(next(iter(results.values())))
    lines = [f"{'metric':<20}" + "".join(f"{mode:>12}" for mode in modes)]
    for name in names:
        cells = "".join(_cell(name, results[mode][name]) for mode in modes)
        lines.append(f"{name:<20}{cells}")
    return "\n".join(lines)


def _cell(name: str, value: float) -> str:
    return f"{int(value):>12d}" if name == "questions" else f"{value:>12.3f}"
