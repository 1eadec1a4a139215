"""Red flags: messages that must be routed to a professional before anything else."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import Stemmer

from bot.answering.examples import Examples
from bot.answering.retrieval import Hit
from bot.knowledge import Chunk, KnowledgeBase

WORD = re.compile(r"[a-z0-9]+")
BENIGN = "benign"
SAFETY_NEIGHBOURS = 2
WARNING_SIMILARITY = 0.6  # chosen on the dev splits (kneebot eval), false alarms counted too
WARNING_MARGIN = 0.03  # hyphens and apostrophes split: "knock-kneed" -> knock, kneed

# Ways of saying "cannot" / "will not", folded so one trigger word covers them all.
NEGATIONS = (
    (re.compile(r"\b(can ?not|can'?t|unable to|not able to)\b"), "cannot"),
    (re.compile(r"\b(won'?t|will not|doesn'?t|does not)\b"), "wont"),
)


@dataclass(frozen=True)
class Trigger:
    """A red-flag rule from a safety chunk: every group must have one of its words in the message.

    Written in the knowledge file as words separated by spaces, alternatives by '|':
    "pop|popped swell|swollen" matches "it popped and swelled up" but not "pop music".
    Words match in any form ("swell" matches "swelling"); a word written "=locked" matches
    only itself, for when the base form means something else ("lock your knees" is a cue).
    A group written "!in|inward" must have none of its words: "buckle !in|inward" is a knee
    giving way, while "knees buckle inward" describes the valgus itself.
    """

    groups: tuple[frozenset[str], ...]
    chunk: Chunk
    unless: frozenset[str] = frozenset()

    def matches(self, stems: set[str]) -> bool:
        return all(group & stems for group in self.groups) and not self.unless & stems


class SafetyCheck:
    """Finds the red-flag chunk a message matches, if any; checked before retrieval answers."""

    def __init__(self, kb: KnowledgeBase, dense_threshold: float = 0.85) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self.dense_threshold = dense_threshold
        self.triggers = [
            self._trigger(rule, chunk) for chunk in kb.chunks for rule in chunk.triggers
        ]

    def _trigger(self, rule: str, chunk: Chunk) -> Trigger:
        groups = rule.split()
        wanted = [self._group(group) for group in groups if not group.startswith("!")]
        unless = [self._group(group[1:]) for group in groups if group.startswith("!")]
        return Trigger(tuple(wanted), chunk, frozenset().union(*unless))

    def _group(self, group: str) -> frozenset[str]:
        return frozenset(map(self._word, group.split("|")))

    def _word(self, word: str) -> str:
        return word if word.startswith("=") else self._stemmer.stemWord(word)

    def stems(self, prepared: str) -> set[str]:
        """The message's word stems, plus its exact words marked with '='."""
        for pattern, canonical in NEGATIONS:
            prepared = pattern.sub(canonical, prepared)
        words = WORD.findall(prepared)
        return set(self._stemmer.stemWords(words)) | {f"={word}" for word in words}

    def red_flag(self, texts: list[str], hits: list[Hit]) -> Chunk | None:
        """The red-flag chunk a message matches by a trigger rule, or by meaning.

        `texts` are the message as typed and as spell-corrected: a rule may match either.
        Among several matching chunks, the one retrieval ranks higher is the better fit.
        """
        stems = set().union(*(self.stems(text) for text in texts))
        matched = {trigger.chunk.id for trigger in self.triggers if trigger.matches(stems)}
        if matched:
            return next(hit.chunk for hit in hits if hit.chunk.id in matched)
        return self._by_meaning(hits)

    def _by_meaning(self, hits: list[Hit]) -> Chunk | None:
        """A message very close in meaning to a red-flag chunk's own text."""
        flagged = [hit for hit in hits if hit.chunk.triggers]
        best = max(flagged, key=lambda hit: hit.dense, default=None)
        return best.chunk if best and best.dense >= self.dense_threshold else None


class SemanticSafety:
    """A message close in meaning to a labelled warning sign, and closer to it than to benign ones.

    The examples live in knowledge/safety_examples.yaml (warnings per safety chunk, and benign
    look-alikes); the thresholds are chosen on the dev splits, false alarms counted too.
    """

    def __init__(self, examples: Examples, kb: KnowledgeBase) -> None:
        self.examples = examples
        self.kb = kb

    def red_flag(self, vector: np.ndarray) -> Chunk | None:
        scores = self.examples.nearest(vector, SAFETY_NEIGHBOURS)
        benign = scores.pop(BENIGN, 0.0)
        if not scores:
            return None
        chunk_id, best = max(scores.items(), key=lambda item: item[1])
        if best >= WARNING_SIMILARITY and best - benign >= WARNING_MARGIN:
            return self.kb.get(chunk_id)
        return None


def safety_pairs(data: dict) -> list[tuple[str, str]]:
    """(safety chunk id | "benign", example) pairs from knowledge/safety_examples.yaml."""
    pairs = [
        (chunk_id, str(text))
        for chunk_id, texts in (data.get("warning") or {}).items()
        for text in texts
    ]
    return pairs + [(BENIGN, str(text)) for text in data.get("benign") or []]
