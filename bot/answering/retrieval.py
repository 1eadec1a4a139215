"""Find the chunks that answer a question: dense (FAISS), lexical (BM25) and name matching."""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from types import ModuleType

import numpy as np
import Stemmer
from rapidfuzz import fuzz, process
from rapidfuzz.distance import DamerauLevenshtein

from bot.answering.embedding import Embedder, bundled_model_path
from bot.answering.index import SearchIndex
from bot.answering.ranking import HAND_SET, as_vector
from bot.knowledge import Chunk, Kind, KnowledgeBase


def _import_bm25s() -> ModuleType:
    """bm25s without the scipy.sparse it imports in case: we build with its numpy CSC backend
    (the same matrix), and skipping scipy saves a tenth of a serving process's cold start."""
    if "scipy.sparse" in sys.modules:  # already paid for (build-index has torch loaded)
        import bm25s
    else:
        sys.modules["scipy.sparse"] = None  # type: ignore[assignment] - `import` raises ImportError
        try:
            import bm25s
        finally:
            del sys.modules["scipy.sparse"]
    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import: one per start
    return bm25s


bm25s = _import_bm25s()

WORD = re.compile(r"[a-z0-9]+(?:['-][a-z]+)*")
# Words that ask a question rather than name a topic; left out of name matching.
FILLER = frozenset(bm25s.stopwords.STOPWORDS_EN_PLUS) | {
    "please", "exercise", "exercises", "perform", "properly", "correctly", "tell", "show",
    "explain", "give", "need", "want", "would", "could", "good", "best",
    "way", "ways", "get", "make", "thing", "things", "help", "helps",
}  # fmt: skip


# Asking for a movement to do, or asking why/what: nudges exercise chunks up or down.
HOWTO_INTENT = re.compile(
    r"\b(exercises?|stretch(es|ing)?|drills?|workouts?|moves?|strengthen\w*|activate|"
    r"how (do|can|should) i (do|perform|improve|fix|increase|loosen|stretch|strengthen)|"
    r"how to (do|perform)|progress(ion)?|"
    r"next step|harder|easier|loosen|mobili[sz]\w*|roll(ing)? out)\b"
)
WHY_INTENT = re.compile(r"\b(why|cause[sd]?|reason|what is|what's|what are|mean|normal|risk)\b")


# Per question type (bot/answering/understanding.py), how much each kind of chunk is preferred;
# "hub" is an overview that maps a whole area. Chosen on the dev splits.
PREFERS: dict[str, dict[str, float]] = {
    "cause": {"cause": 1.0, "hub": 0.5, "overview": 0.3, "exercise": -1.0},
    "choice": {"hub": 2.0, "exercise": 0.2, "cause": 0.2, "safety": -0.5},
    "fix": {"hub": 0.6, "exercise": 0.5, "cause": 0.2, "safety": -0.5},
    "howto": {"exercise": 1.0, "hub": -0.3},
    "duration": {"faq": 1.0, "exercise": -0.5},
    "frequency": {"faq": 0.6},
    "safe": {"faq": 0.8, "exercise": -0.5},
    "definition": {"overview": 1.0, "cause": 0.5, "exercise": -0.5, "hub": -0.3},
}


class Mode(StrEnum):
    DENSE = "dense"
    LEXICAL = "lexical"
    COMBINED = "combined"


@dataclass(frozen=True)
class Weights:
    """The evidence that decides "not covered", chosen on the dev split of the eval (`kneebot
    eval`). The ranking's own weights are fitted (bot/answering/ranking.py)."""

    lexical: float = 0.9
    name: float = 0.2
    # Evidence blends the best view (often an example question) with the chunk's own text.
    questions: float = 0.5
    bm25_half: float = 3.0  # BM25 score that maps to 0.5 after saturation
    name_floor: float = 0.85  # name similarity below this is noise, counted as 0


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # what ranks the hits
    evidence: float  # how well the text matches, without intent: decides "not covered"
    dense: float
    lexical: float
    name: float


def normalise(text: str) -> str:
    """NFKC, lower case, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.lower().split())


class Speller:
    """Corrects words the knowledge base does not know to the nearest word it does.

    A word that is a known English word (a whole word in the model's own vocabulary) is never
    "corrected", so off-topic questions are not bent into on-topic ones.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        words: set[str] = set()
        names: set[str] = set()
        for chunk in kb.chunks:
            fields = [chunk.search_text, *chunk.muscles, *chunk.tags, *chunk.steps, *chunk.triggers]
            words.update(WORD.findall(" ".join(fields).lower()))
            names.update(
                WORD.findall(" ".join([chunk.title, *chunk.aliases, *chunk.muscles]).lower())
            )
        self.vocabulary = sorted(word for word in words if len(word) >= 3)
        # Two slips are allowed only towards the names of things ("pereonus" → "peroneus"): an
        # everyday word two letters from a knowledge word is usually a different word
        # ("puncture" is not "picture").
        self.names = sorted(word for word in names if len(word) >= 6)
        self._stemmer = Stemmer.Stemmer("english")
        # "limping" is fine when "limp" is known: compare stems, not spellings.
        self._known = set(self._stemmer.stemWords([*self.vocabulary, *_english_words()]))

    def know(self, words: set[str]) -> None:
        """Words that are never corrected though the knowledge base lacks them ("thx", "lol")."""
        self._known.update(self._stemmer.stemWords(sorted(words)))

    def correct(self, text: str) -> str:
        return WORD.sub(lambda match: self._word(match.group(0)), text)

    def _word(self, word: str) -> str:
        if len(word) < 3 or word.isdigit() or self._stemmer.stemWord(word) in self._known:
            return word
        for allowed, candidates in ((1, self.vocabulary), (2, self.names)):
            if allowed == 2 and len(word) <= 5:
                break
            best = process.extractOne(
                word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=allowed
            )
            if best:
                return best[0]
        return word


def _english_words() -> set[str]:
    vocab = (bundled_model_path() / "vocab.txt").read_text(encoding="utf-8").split()
    return {token for token in vocab if token.isalpha()}


# Pasted or hostile markup carries no question: scripts, tags and template braces are dropped.
MARKUP = re.compile(r"<script\b.*?</script>|</?[a-z][^<>]{0,200}>|\{\{.*?\}\}|\{%.*?%\}", re.S)
BM25_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s.tokenize's default token pattern
BM25_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)


class LexicalIndex:
    """BM25 over one text per chunk, with English stemming."""

    def __init__(
        self, corpus: list[str], synonyms: dict[str, tuple[str, ...]] | None = None
    ) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._synonyms = synonyms or {}
        self._bm25 = bm25s.BM25(csc_backend="numpy")
        self._bm25.index(self._tokens(corpus), show_progress=False)

    def _tokens(self, texts: list[str]) -> list[list[str]]:
        return bm25s.tokenize(texts, stemmer=self._stemmer, return_ids=False, show_progress=False)

    def query_tokens(self, text: str) -> list[str]:
        """bm25s.tokenize's defaults for one text, without its per-call progress-bar set-up;
        an everyday word also searches the knowledge base's own words for it ("butt": gluteus)."""
        words = BM25_TOKEN.findall(text.lower())
        words += [extra for word in words for extra in self._synonyms.get(word, ())]
        return self._stemmer.stemWords([w for w in words if w not in BM25_STOPWORDS])

    def scores(self, text: str) -> np.ndarray:
        tokens = self.query_tokens(text)
        if not tokens:
            return np.zeros(self._bm25.scores["num_docs"], dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)


class NameMatcher:
    """How closely the question's topic words match a chunk's title or aliases (0–1)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._names: list[str] = []
        self._owner: list[int] = []
        for position, chunk in enumerate(kb.chunks):
            for name in (chunk.title, *chunk.aliases):
                self._names.append(content_words(normalise(name)))
                self._owner.append(position)
        self._count = len(kb.chunks)

    def scores(self, text: str) -> np.ndarray:
        best = np.zeros(self._count, dtype=np.float32)
        topic = content_words(text)
        if not topic:
            return best
        matrix = process.cdist([topic], self._names, scorer=fuzz.token_sort_ratio)[0]
        np.maximum.at(best, self._owner, matrix.astype(np.float32) / 100.0)
        return best


def content_words(text: str) -> str:
    """The topic words of a text; hyphens split, so "q angle" and "Q-angle" compare equal."""
    return " ".join(word for word in WORD.findall(text.replace("-", " ")) if word not in FILLER)


class Retriever:
    """Ranks chunks for a question; `rank` is pure given the question's vector."""

    def __init__(
        self,
        kb: KnowledgeBase,
        index: SearchIndex,
        embedder: Embedder,
        weights: Weights | None = None,
        synonyms: dict[str, tuple[str, ...]] | None = None,
        ranking: dict[str, float] | None = None,
    ) -> None:
        self.kb = kb
        self.index = index
        self.embedder = embedder
        self.weights = weights or Weights()
        self.ranking = as_vector(ranking or HAND_SET)
        self.speller = Speller(kb)
        texts = [
            " ".join([chunk.search_text, *chunk.aliases, *chunk.tags, *chunk.muscles])
            for chunk in kb.chunks
        ]
        self._lexical = LexicalIndex(texts, synonyms)
        # The example questions are in the words people type: matched word for word, too.
        self._question_lexical = LexicalIndex([" ".join(c.questions) for c in kb.chunks], synonyms)
        self._names = NameMatcher(kb)
        self._position = {chunk.id: position for position, chunk in enumerate(kb.chunks)}

    @cached_property
    def _row_positions(self) -> np.ndarray:
        return np.array([self._position[chunk_id] for chunk_id in self.index.rows])

    @cached_property
    def _is_exercise(self) -> np.ndarray:
        return np.array([chunk.kind is Kind.EXERCISE for chunk in self.kb.chunks])

    @cached_property
    def _is_hub(self) -> np.ndarray:
        return np.array([chunk.hub for chunk in self.kb.chunks])

    @cached_property
    def _is_red_flag(self) -> np.ndarray:
        return np.array([bool(chunk.triggers) for chunk in self.kb.chunks], dtype=np.float32)

    def prepare(self, text: str) -> str:
        """The text that is embedded and matched: normalised, markup dropped, spell-corrected."""
        plain = " ".join(MARKUP.sub(" ", normalise(text)).split())
        return self.speller.correct(plain or normalise(text))

    @cached_property
    def _is_text_view(self) -> np.ndarray:
        """The first view of each chunk is its own text; the others are its example questions."""
        first = {chunk_id: row for row, chunk_id in reversed(list(enumerate(self.index.rows)))}
        return np.isin(np.arange(len(self.index.rows)), list(first.values()))

    def dense_scores(self, vector: np.ndarray) -> np.ndarray:
        """Best cosine similarity over each chunk's views."""
        return self._dense(vector)[0]

    def _dense(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best similarity over all views, and over the chunk's own text view only."""
        scores, rows = self.index.search(vector.reshape(1, -1), len(self.index.rows))
        best = np.full(len(self.kb.chunks), -1.0, dtype=np.float32)
        np.maximum.at(best, self._row_positions[rows[0]], scores[0])
        text = np.full(len(self.kb.chunks), -1.0, dtype=np.float32)
        own = self._is_text_view[rows[0]]
        np.maximum.at(text, self._row_positions[rows[0][own]], scores[0][own])
        return best, text

    def intent(self, prepared: str) -> np.ndarray:
        """+1 for chunks of the kind the question asks for, -1 against (never for a hub), 0 when
        unclear."""
        howto = bool(HOWTO_INTENT.search(prepared))
        why = bool(WHY_INTENT.search(prepared))
        if howto == why:
            return np.zeros(len(self.kb.chunks), dtype=np.float32)
        sign = 1.0 if howto else -1.0
        nudge = np.where(self._is_exercise, sign, -sign)
        # A hub maps exercises and explanations alike: a how-to question does not count against it.
        return np.where(self._is_hub, np.maximum(nudge, 0.0), nudge).astype(np.float32)

    def prefers(self, qtype: str | None) -> np.ndarray:
        """How much each chunk suits a question type (0 for no type)."""
        table = PREFERS.get(qtype or "", {})
        kinds = ["hub" if chunk.hub else chunk.kind.value for chunk in self.kb.chunks]
        return np.array([table.get(kind, 0.0) for kind in kinds], dtype=np.float32)

    def rank(
        self,
        prepared: str,
        vector: np.ndarray,
        mode: Mode = Mode.COMBINED,
        qtype: str | None = None,
    ) -> list[Hit]:
        """All chunks, best first, under the given retriever mode (and question type)."""
        w = self.weights
        dense, text = self._dense(vector)
        lexical, name = self._lexical_and_name(prepared)
        # Ranking reads every view; "not covered" reads only the chunks' own text, because a
        # generic example question ("how do I fix this?") sounds like off-topic questions too.
        if mode is Mode.DENSE:
            total, evidence = dense, text
        elif mode is Mode.LEXICAL:
            total = evidence = lexical + w.name * name
        else:
            blended = w.questions * dense + (1 - w.questions) * text
            evidence = blended + w.lexical * lexical + w.name * name
            total = self._signals(prepared, dense, text, lexical, name, qtype) @ self.ranking
        order = np.argsort(-total, kind="stable")
        columns = (column[order].tolist() for column in (total, evidence, dense, lexical, name))
        chunks = [self.kb.chunks[i] for i in order.tolist()]
        return [Hit(chunk, *values) for chunk, *values in zip(chunks, *columns, strict=True)]

    def signals(self, prepared: str, vector: np.ndarray, qtype: str | None = None) -> np.ndarray:
        """One row per chunk, one column per ranking signal (ranking.SIGNALS): what the fitted
        weights combine, and what bot/devtools/ranking_fit.py fits them on."""
        dense, text = self._dense(vector)
        lexical, name = self._lexical_and_name(prepared)
        return self._signals(prepared, dense, text, lexical, name, qtype)

    def _saturated(self, index: LexicalIndex, prepared: str) -> np.ndarray:
        raw = index.scores(prepared)
        return raw / (raw + self.weights.bm25_half)

    def _lexical_and_name(self, prepared: str) -> tuple[np.ndarray, np.ndarray]:
        name = self._names.scores(prepared)
        lexical = self._saturated(self._lexical, prepared)
        return lexical, np.where(name >= self.weights.name_floor, name, 0.0)

    def _signals(
        self,
        prepared: str,
        dense: np.ndarray,
        text: np.ndarray,
        lexical: np.ndarray,
        name: np.ndarray,
        qtype: str | None,
    ) -> np.ndarray:
        # A hub's own text is a list of everything it maps; its example questions say what it
        # is for, so a hub's text signal is its best view.
        columns = (
            dense,
            np.where(self._is_hub, dense, text),
            np.where(self._is_hub, 0.0, lexical),
            np.where(self._is_hub, lexical, 0.0),
            name,
            self.intent(prepared),  # intent and the rest reorder; they are not match evidence
            self._is_red_flag,
            self.prefers(qtype),
            self._saturated(self._question_lexical, prepared),
        )
        return np.stack(columns, axis=1).astype(np.float32)

    def search(self, text: str, mode: Mode = Mode.COMBINED) -> list[Hit]:
        """Blocking convenience: prepare, encode, rank."""
        prepared = self.prepare(text)
        return self.rank(prepared, self.embedder.encode([prepared])[0], mode)
