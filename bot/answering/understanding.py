"""What a message is before anything is retrieved: its intent, its question type, its language.

The intent is learned from labelled utterances (knowledge/intents.yaml) by logistic regression
over the message's one embedding, the same vector retrieval uses, so understanding costs one
matrix product. The question type is read from the question words, a small fixed grammar.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path

import numpy as np

from bot.answering.examples import Examples, replace_cached

log = logging.getLogger(__name__)

QUESTION = "question"
OFF_TOPIC = "offtopic"  # about something else; nearby_topics.yaml's examples join this class
SMALL_TALK = frozenset({"greeting", "thanks", "goodbye", "capabilities"})
FOLLOW_UPS = frozenset(
    {"harder", "easier", "dose", "why", "fix", "show", "more"}
)  # the `followup_<name>` intents
# `command_<name>` intents: a command said in words.
COMMANDS = frozenset({"remind", "routine", "today", "progress", "forget"})
ANSWERS = frozenset({"affirm", "deny"})

# A message is small talk, a follow-up or a command only when the model is this sure; otherwise it
# is treated as a question (retrieval then decides). Chosen on the dev splits.
MIN_PROBABILITY = 0.4
MIN_SIMILARITY = 0.45  # cosine to the label's closest example below which it is not trusted
C = 10.0


NO_PROGRESS = (
    r"\bnothing('?s| has)? (changed|happening|different|better)\b|"
    r"\bno (change|difference|progress|results?|improvement)\b|"
    r"\b(isn'?t|not|aren'?t) (working|helping|improving)\b"
)


class QType(StrEnum):
    """What kind of answer a question wants; each prefers a kind of chunk and a reply shape."""

    SAFE = "safe"  # is it safe / can I / should I
    DURATION = "duration"  # how long until
    FREQUENCY = "frequency"  # how often / how many
    CHOICE = "choice"  # which exercises, stretches or drills (a list: a hub answers best)
    FIX = "fix"  # how to fix / strengthen / an exercise for
    HOWTO = "howto"  # how to do this exercise
    CAUSE = "cause"  # why / what causes
    DEFINITION = "definition"  # what is
    OTHER = "other"


# First match wins, so the more specific shapes come first.
QTYPE_GRAMMAR: tuple[tuple[QType, re.Pattern[str]], ...] = tuple(
    (qtype, re.compile(pattern))
    for qtype, pattern in (
        (QType.DURATION, r"\bhow long\b|\bhow many (weeks|months|years)\b|\bwhen will\b"),
        # "two weeks of clams and nothing's changed": how long it takes, asked as a complaint
        (QType.DURATION, NO_PROGRESS),
        (QType.FREQUENCY, r"\bhow (often|many|much)\b|\b(reps|sets)\b|\b(per|a|times a) week\b"),
        (QType.HOWTO, r"\bhow (do|should|can|would) (i|you|we) (do|perform)\b|\bhow to do\b"),
        # "could my feet be the reason…" asks for a cause, though it opens like "can I…"
        (QType.CAUSE, r"\b(caus(e|es|ed|ing)|reasons?|connected|linked|to blame)\b"),
        # "why should i care if…" asks why, though it goes on like "should i…"
        (QType.CAUSE, r"^(but |so |and |ok )?why\b"),
        # "would that affect my knees", "can tight calves be making them go in"
        (
            QType.CAUSE,
            r"\b(affect\w*|matter)\b.*\bknees?\b|\bbe (why|behind|making)\b|"
            r"\b(does|would|could) (that|it|this) (matter|affect)\b",
        ),
        # "what exercises should i be doing" asks for a list, though it says "should i"
        (
            QType.CHOICE,
            r"\b(what|which|any|best|good|some)\b.*\b(exercises|stretches|drills|moves)\b",
        ),
        # "which muscle holds the arch up", "which muscles should i work on": the anatomy, which
        # a cause's explanation names, rather than one exercise
        (QType.CAUSE, r"\b(which|what) (muscles?|muscle group)\b"),
        # "what should i do about it" asks for a fix, though it says "should i"
        (QType.FIX, r"\bwhat (do|can|should|could) (i|we) do\b"),
        (
            QType.SAFE,
            r"\b(is it|is that|are they|is this) (safe|ok|okay|fine|normal|good)\b|"
            r"(?<!how )\b(can|should|could) (i|we|he|she|my)\b|\b(safe|okay|ok) to\b|"
            r"\b(what|and) if\b.*\b(hurts?|pain\w*|aches?|sore)\b",
        ),
        (QType.CHOICE, r"\b(exercises|stretches|drills|workouts|moves)\b"),
        (
            QType.FIX,
            r"\b(fix|correct|treat|get rid|improve|stop|train|strengthen|remed|solv|counter)\w*\b|"
            r"\b(sort|deal with|work on|prevent|avoid)\b|\bkeep\b.*\b(from|out|in line)\b|"
            r"\b(which|what|best|any|good) (exercise|stretch|drill|workout)\b|"
            r"\b(exercise|stretch) for\b",
        ),
        (QType.HOWTO, r"\bhow (to|do i|do you)\b|\b(form|steps?|instructions?|technique)\b"),
        (
            QType.CAUSE,
            r"\b(why|cause[sd]?|reasons?|connected|linked|related|due to)\b|"
            r"\b(to do with|because of|part in)\b",
        ),
        (QType.DEFINITION, r"\b(what is|what's|whats|what are|meaning|define|mean)\b"),
    )
)


def question_type(prepared: str) -> QType:
    """The question's type from its question words (the prepared, lower-cased text)."""
    return next((qtype for qtype, rule in QTYPE_GRAMMAR if rule.search(prepared)), QType.OTHER)


# Which way a harder/easier request points. MiniLM puts "too easy" and "too hard" almost on top
# of each other, so the model says *that* a variant is wanted and these words say which.
HARDER = re.compile(
    r"\btoo (easy|simple|light)\b|\b(harder|tougher|challeng\w*|advanced|level up|step it up)\b|"
    r"\bmore (difficult|intense|challenging)\b|\bnext (step|level|one)\b|\bprogress(ion)?\b|"
    r"\b(is|are|feels?|getting|got|now) (so |really |way )?(easy|boring)\b|\bwhats? next\b"
)
EASIER = re.compile(
    r"\btoo (hard|difficult|tough|much|intense|heavy)\b|\b(easier|gentler|simpler|lighter)\b|"
    r"\bless (intense|difficult|hard)\b|\bbeginners?\b|\bregress(ion)?\b|"
    r"\b(can'?t|cannot) (do|manage|hold|finish)\b"
)


# "How long until it works?" asks how long improvement takes, not how long to hold a stretch.
TIME_TO_RESULTS = re.compile(
    r"\bhow (soon|many weeks|many months)\b|\bwhen (will|do|does|should) (i|it|you)\b.*\b("
    r"work|results?|better|improve|notice|see|change|kick in)|"
    r"\bhow long\b.*\b(until|till|til|before|"
    r"work\w*|fix\w*|results?|improve\w*|better|notice|difference|take|takes|change)\b|"
    + NO_PROGRESS
)


def asks_time_to_results(prepared: str) -> bool:
    return TIME_TO_RESULTS.search(prepared) is not None


def variant_wanted(prepared: str) -> str | None:
    """'harder' or 'easier' when the words say which way (and not both), else None."""
    harder, easier = bool(HARDER.search(prepared)), bool(EASIER.search(prepared))
    if harder == easier:
        return None
    return "harder" if harder else "easier"


@dataclass(frozen=True)
class Understood:
    intent: str  # "question", a small-talk intent, "affirm"/"deny", a follow-up or a command
    score: float
    qtype: QType
    nearest: str = QUESTION  # the likeliest intent other than "question", for unclear messages
    off_topic: float = 0.0  # the model's probability that the message is about something else

    @property
    def follow_up(self) -> str | None:
        """'harder', 'dose', … for a follow-up intent, else None."""
        name = self.intent.removeprefix("followup_")
        return name if name in FOLLOW_UPS and name != self.intent else None

    @property
    def command(self) -> str | None:
        name = self.intent.removeprefix("command_")
        return name if name in COMMANDS and name != self.intent else None


class IntentClassifier:
    """A multinomial logistic regression over the embeddings of labelled utterances.

    The chunks' own example questions join the "question" class, so a new question about knees
    is recognised as one however it is worded; everything else must be clearly something else.
    """

    def __init__(self, examples: Examples, model: SoftmaxModel) -> None:
        self.examples = examples
        self.model = model
        self.labels = list(model.classes)

    def classify(self, vector: np.ndarray, prepared: str) -> Understood:
        probabilities = self.model.probabilities(vector)
        # MiniLM puts any short chatty line near some example; a label is trusted only when the
        # message is really close to one of its own examples.
        close = self.examples.nearest(vector, 1)
        order = np.argsort(-probabilities)
        trusted = [
            (self.labels[i], float(probabilities[i]))
            for i in order
            if self.labels[i] == QUESTION or close.get(self.labels[i], 0.0) >= MIN_SIMILARITY
        ]
        label, score = trusted[0] if trusted else (QUESTION, 0.0)
        nearest = next((name for name, _ in trusted if name not in (QUESTION, OFF_TOPIC)), QUESTION)
        # Off-topic is not an intent of its own: retrieval weighs it when deciding "not covered".
        intent = label if score >= MIN_PROBABILITY and label != OFF_TOPIC else QUESTION
        off_topic = (
            float(probabilities[self.labels.index(OFF_TOPIC)]) if OFF_TOPIC in self.labels else 0.0
        )
        return Understood(str(intent), score, question_type(prepared), str(nearest), off_topic)


@dataclass(frozen=True)
class SoftmaxModel:
    """A fitted logistic regression as plain arrays: serving needs numpy, not scikit-learn
    (importing it, and scipy with it, was most of a cold start)."""

    classes: tuple[str, ...]
    coef: np.ndarray  # (classes, dimension)
    intercept: np.ndarray  # (classes,)

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        """scikit-learn's predict_proba: the softmax of the logits."""
        logits = self.coef @ vector + self.intercept
        odds = np.exp(logits - logits.max())
        return odds / odds.sum()


def fit_intents(examples: Examples, questions: np.ndarray, cache_dir: Path) -> SoftmaxModel:
    """The intent model for these examples and question vectors, fitted once and cached beside
    the index under a hash of its training data (`kneebot build-index` warms the cache)."""
    vectors = np.vstack([examples.vectors, questions]).astype(np.float32)
    labels = [*examples.labels, *[QUESTION] * len(questions)]
    digest = hashlib.sha256(json.dumps([C, labels]).encode() + vectors.tobytes()).hexdigest()
    path = cache_dir / f"intent-model-{digest[:16]}.npz"
    try:
        with np.load(path) as saved:
            return SoftmaxModel(tuple(saved["classes"]), saved["coef"], saved["intercept"])
    except (OSError, ValueError, KeyError):
        pass
    model = _fit(vectors, labels)
    arrays = {"classes": np.array(model.classes), "coef": model.coef, "intercept": model.intercept}
    replace_cached(path, "intent-model-*.npz", lambda handle: np.savez(handle, **arrays))
    log.info("fitted the intent model on %d utterances", len(labels))
    return model


def _fit(vectors: np.ndarray, labels: list[str]) -> SoftmaxModel:
    from sklearn.linear_model import LogisticRegression  # only here: it takes a second to import

    fitted = LogisticRegression(C=C, max_iter=500, class_weight="balanced").fit(vectors, labels)
    classes = tuple(str(name) for name in fitted.classes_)
    return SoftmaxModel(
        classes, fitted.coef_.astype(np.float32), fitted.intercept_.astype(np.float32)
    )


def intent_pairs(data: dict) -> list[tuple[str, str]]:
    """(intent, example) pairs from knowledge/intents.yaml."""
    return [
        (entry["intent"], str(example))
        for entry in data.get("intents", [])
        for example in entry.get("examples", [])
    ]


WORD = re.compile(r"[^\W\d_]+")
MIN_WORDS_TO_DETECT = 3  # shorter messages ("heyyy", "cheers mate") are small talk, not a language
KNOWN_SHARE = (
    0.5  # a message mostly in the knowledge base's words is English whatever it looks like
)
FOREIGN_CONFIDENCE = 0.9
# Under this many words lingua's low-accuracy mode is often sure of the wrong language for
# English jargon ("plantar fasciitis cure" reads as Italian at 0.9): only near-certainty counts.
SHORT_MESSAGE_WORDS = 5
FOREIGN_CONFIDENCE_SHORT = 0.99
NON_LATIN_SHARE = 0.3


class LanguageCheck:
    """Is a message English? Cheap rules first; lingua (bundled models) only for the unclear."""

    def __init__(self, known_words: set[str]) -> None:
        self.known_words = known_words

    def is_english(self, text: str) -> bool:
        letters = [ch for ch in text if ch.isalpha()]
        if letters and sum(not ch.isascii() for ch in letters) / len(letters) > NON_LATIN_SHARE:
            return False
        words = WORD.findall(text.lower())
        if len(words) < MIN_WORDS_TO_DETECT:
            return True
        if sum(word in self.known_words for word in words) / len(words) >= KNOWN_SHARE:
            return True
        top = self._detector.compute_language_confidence_values(text)[0]
        sure = FOREIGN_CONFIDENCE_SHORT if len(words) < SHORT_MESSAGE_WORDS else FOREIGN_CONFIDENCE
        return top.language.name == "ENGLISH" or top.value < sure

    @cached_property
    def _detector(self):  # noqa: ANN202 — lingua's type, imported lazily (most text never needs it)
        from lingua import Language, LanguageDetectorBuilder

        languages = [
            Language.ENGLISH, Language.SPANISH, Language.FRENCH, Language.GERMAN,
            Language.ITALIAN, Language.PORTUGUESE, Language.DUTCH, Language.TURKISH,
            Language.POLISH, Language.RUSSIAN,
        ]  # fmt: skip
        return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
