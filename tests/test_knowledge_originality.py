"""No knowledge file copies an 8-word run from the source post or the fact sheet."""

from __future__ import annotations

from bot.config import PROJECT_ROOT
from bot.devtools.originality import SHINGLES_FILE, digest, fingerprint, shingles
from bot.knowledge import Chunk, load_knowledge


def _source() -> set[str]:
    return set(SHINGLES_FILE.read_text().split())


def _prose(chunk: Chunk) -> list[str]:
    """Everything a user reads: title, summary, body, steps, mistakes and variants."""
    parts = [chunk.title, chunk.summary, chunk.body, *chunk.steps, *chunk.mistakes]
    return parts + [text for text in (chunk.easier, chunk.harder) if text]


def _copied(chunk: Chunk, source: set[str]) -> list[str]:
    return [
        " ".join(run) for text in _prose(chunk) for run in shingles(text) if digest(run) in source
    ]


def test_fingerprint_covers_the_fact_sheet():
    # The blog's claims (section 1) and the fact sheet run to well over a thousand shingles.
    assert len(_source()) > 1000


def test_no_knowledge_file_shares_an_8_word_run_with_the_sources():
    source = _source()
    kb = load_knowledge(PROJECT_ROOT / "knowledge")
    copied = {chunk.id: runs for chunk in kb.chunks if (runs := _copied(chunk, source))}
    assert copied == {}


def test_a_copied_sentence_is_caught():
    copied = "Static stretching: hold 15–30 s (30 s was as effective as 60 s for hamstrings"
    assert fingerprint(copied) & _source()


def test_own_words_are_not_flagged():
    own = "Keep the kneecap pointing at the middle toes while you lower yourself slowly."
    assert not fingerprint(own) & _source()
