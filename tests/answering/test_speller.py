"""Spelling correction towards the knowledge base's words, and only where it is a slip."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("pereonus strech", "peroneus stretch"),  # two slips in a name
        ("tibalis anterrior", "tibialis anterior"),
        ("hamstrig", "hamstring"),
    ],
)
def test_slips_are_corrected(coach, typed, meant):
    assert coach.retriever.speller.correct(typed) == meant


@pytest.mark.parametrize("text", ["fix a puncture on my bike", "lower back twinges"])
def test_an_everyday_word_is_not_bent_into_a_knowledge_word(coach, text):
    assert coach.retriever.speller.correct(text) == text
