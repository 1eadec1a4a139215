"""`kneebot eval`: retrieval quality on the labelled questions, per retriever mode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from bot.answering.coach import Coach
from bot.answering.retrieval import Mode
from bot.replies import ReplyKind

QUESTIONS_FILE = Path(__file__).resolve().parent / "data" / "eval_questions.yaml"
MISS_COST = 3  # wrongly refusing a real question is worse than answering an off-topic one


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
    evidence: float  # the best match evidence over all chunks


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
        hits = coach.retriever.rank(text, vector, mode, coach.understand(text, vector).qtype.value)
        reply = coach.respond(question.q, text, hits, mode)
        top_id = reply.sources[0].id if reply.sources else None
        # The reply's own source leads (a red flag outranks retrieval); the ranking follows.
        ranked = (top_id,) * bool(top_id) + tuple(h.chunk.id for h in hits if h.chunk.id != top_id)
        evidence = max(hit.evidence for hit in hits)
        outcomes.append(Outcome(question, reply.kind.value, top_id, ranked, evidence))
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
    """The evidence cut that best separates off-topic from in-domain questions.

    Rejecting a real question costs MISS_COST times more than letting an off-topic one through.
    The cuts with the lowest cost form intervals; the middle of the widest leaves the most
    margin for questions not in the set. Safety questions are left out: rules catch them first.
    """
    inside = np.array([o.evidence for o in outcomes if o.question.kind in ("answer", "howto")])
    off = np.array([o.evidence for o in outcomes if o.question.kind == "unknown"])
    scores = np.unique(np.concatenate([inside, off]))
    cuts = np.concatenate([[scores[0] - 0.01], (scores[:-1] + scores[1:]) / 2, [scores[-1] + 0.01]])
    cost = np.array([(off >= cut).sum() + MISS_COST * (inside < cut).sum() for cut in cuts])
    best = np.flatnonzero(cost == cost.min())
    runs = np.split(best, np.flatnonzero(np.diff(best) > 1) + 1)
    widest = max(runs, key=lambda run: cuts[run[-1]] - cuts[run[0]])
    return round(float((cuts[widest[0]] + cuts[widest[-1]]) / 2), 4)


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
