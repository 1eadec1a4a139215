"""Fit the ranking weights (bot/answering/ranking.py) on the labelled dev messages.

Each message contributes the signals of every chunk and the chunks that answer it. The loss is
listwise: the softmax probability of the right chunks among all chunks, so the weights learn
how much meaning, words, names and question type count against each other. L2 pulls towards
the hand-set weights, which keeps a signal that the data says little about where it was.
Only dev data is read: the old eval's dev split, the realistic dev split, the second and the
fourth writers' sets. The fifth writer's set stays out of the fit: it checks the fitted ranking
on a writer the fit never saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from bot.answering.coach import Coach
from bot.answering.ranking import HAND_SET, SIGNALS, as_vector
from bot.devtools import evaluation, realistic

TEMPERATURE = 20.0  # scores differ by hundredths; this makes the softmax as sharp as top-1
L2 = 0.03  # pull towards the hand-set weights
IN_DOMAIN = ("answer", "howto")
# The old eval's questions use the knowledge base's own words, the realistic sets everyday ones;
# its bar (top-1 ≥ 0.95) must hold too, and at weight 3 it does (all 263 questions: 0.958).
SOURCE_WEIGHT = {"old eval": 3.0}


@dataclass(frozen=True)
class Labelled:
    text: str
    chunks: tuple[str, ...]  # any of these answers it
    source: str  # which set it comes from


@dataclass(frozen=True)
class Problem:
    signals: np.ndarray  # messages × chunks × signals
    right: np.ndarray  # messages × chunks, True where the chunk answers the message
    sources: tuple[str, ...]

    @property
    def importance(self) -> np.ndarray:
        """How much each message counts in the loss (SOURCE_WEIGHT)."""
        return np.array([SOURCE_WEIGHT.get(source, 1.0) for source in self.sources])

    def subset(self, keep: np.ndarray) -> Problem:
        sources = tuple(s for s, k in zip(self.sources, keep, strict=True) if k)
        return Problem(self.signals[keep], self.right[keep], sources)


def dev_messages() -> list[Labelled]:
    """The labelled in-domain dev messages with the chunks that answer them."""
    items = [
        Labelled(q.q, q.expect, "old eval")
        for q in evaluation.load_questions(split="dev")
        if q.kind in IN_DOMAIN and q.expect
    ]
    for source, path, split in (
        ("realistic dev", realistic.MESSAGES_FILE, "dev"),
        ("second writer", realistic.SECOND_MESSAGES, None),
        ("fourth writer", realistic.FOURTH_MESSAGES, None),
    ):
        for case in realistic.load_messages(path, split):
            if case.expect in IN_DOMAIN and case.chunks:
                items.append(Labelled(case.q, case.chunks, source))
    return items


def problem(coach: Coach, items: list[Labelled]) -> Problem:
    """The signals as the answer path computes them, question type included."""
    retriever = coach.retriever
    coach.prime([item.text for item in items])
    ids = np.array([chunk.id for chunk in coach.kb.chunks])
    signals, right = [], []
    for item in items:
        prepared = retriever.prepare(item.text)
        vector = coach.vector_sync(prepared)
        qtype = coach.understand(prepared, vector).qtype.value
        signals.append(retriever.signals(prepared, vector, qtype))
        right.append(np.isin(ids, item.chunks))
    whole = Problem(np.stack(signals), np.stack(right), tuple(item.source for item in items))
    return whole.subset(whole.right.any(axis=1))  # a label naming no chunk we have teaches nothing


def loss_and_gradient(
    weights: np.ndarray, data: Problem, start: np.ndarray
) -> tuple[float, np.ndarray]:
    scores = TEMPERATURE * (data.signals @ weights)
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    p_all = exp / exp.sum(axis=1, keepdims=True)
    exp_right = np.where(data.right, exp, 0.0)
    p_right = exp_right / exp_right.sum(axis=1, keepdims=True)
    share = data.importance / data.importance.sum()
    loss = float(share @ -np.log(exp_right.sum(axis=1) / exp.sum(axis=1)))
    gradient = TEMPERATURE * np.einsum("m,mc,mcs->s", share, p_all - p_right, data.signals)
    loss += L2 * float(((weights - start) ** 2).sum())
    return float(loss), gradient + 2 * L2 * (weights - start)


def fit(data: Problem, start: np.ndarray | None = None) -> np.ndarray:
    start = as_vector(HAND_SET).astype(np.float64) if start is None else start
    found = minimize(loss_and_gradient, start, args=(data, start), jac=True, method="L-BFGS-B")
    return found.x


def top1(data: Problem, weights: np.ndarray) -> float:
    best = np.argmax(data.signals @ weights, axis=1)
    return float(data.right[np.arange(len(best)), best].mean())


def as_weights(vector: np.ndarray) -> dict[str, float]:
    return {name: float(value) for name, value in zip(SIGNALS, vector, strict=True)}


def report(data: Problem, fitted: np.ndarray) -> str:
    """Top-1 before and after, and the honest figure: each set read with weights fitted on the
    other sets only."""
    hand = as_vector(HAND_SET).astype(np.float64)
    lines = [
        f"fitted on {len(data.sources)} dev messages: top-1 {top1(data, hand):.3f} (hand-set)"
        f" -> {top1(data, fitted):.3f}"
    ]
    sources = np.array(data.sources)
    for held in dict.fromkeys(data.sources):
        train, test = data.subset(sources != held), data.subset(sources == held)
        crossed = fit(train)
        lines.append(
            f"  {held} held out ({len(test.sources)}): hand-set {top1(test, hand):.3f},"
            f" fitted on the rest {top1(test, crossed):.3f}"
        )
    return "\n".join(lines)
