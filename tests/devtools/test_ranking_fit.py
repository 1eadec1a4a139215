"""Fitting the ranking weights: the gradient is the loss's, and the fit ranks its data better."""

from __future__ import annotations

import numpy as np
import pytest

from bot.answering.ranking import HAND_SET, RANKING_FILE, SIGNALS, as_vector, load_ranking
from bot.devtools import ranking_fit


@pytest.fixture(scope="module")
def dev(coach) -> ranking_fit.Problem:
    return ranking_fit.problem(coach, ranking_fit.dev_messages())


def test_the_fit_reads_dev_sets_only_and_keeps_the_fifth_writer_out() -> None:
    sources = {item.source for item in ranking_fit.dev_messages()}
    assert sources == {"old eval", "realistic dev", "second writer", "fourth writer"}


def test_the_signals_are_what_the_ranking_combines(coach, dev) -> None:
    prepared = coach.retriever.prepare("why do my knees go in when i squat")
    vector = coach.vector_sync(prepared)
    signals = coach.retriever.signals(prepared, vector, "cause")
    assert signals.shape == (len(coach.kb.chunks), len(SIGNALS))
    hits = coach.retriever.rank(prepared, vector, qtype="cause")
    best = coach.kb.chunks[int(np.argmax(signals @ coach.retriever.ranking))]
    assert hits[0].chunk.id == best.id


def test_the_gradient_matches_finite_differences(dev) -> None:
    small = dev.subset(np.arange(len(dev.sources)) % 10 == 0)
    start = as_vector(HAND_SET).astype(np.float64)
    weights = start + 0.05 * np.arange(len(SIGNALS))
    _, gradient = ranking_fit.loss_and_gradient(weights, small, start)
    step = 1e-5
    for i in range(len(SIGNALS)):
        bump = np.eye(len(SIGNALS))[i] * step
        up, _ = ranking_fit.loss_and_gradient(weights + bump, small, start)
        down, _ = ranking_fit.loss_and_gradient(weights - bump, small, start)
        assert gradient[i] == pytest.approx((up - down) / (2 * step), rel=1e-3, abs=1e-4)


def test_the_fit_ranks_its_own_data_better_than_the_hand_set_weights(dev) -> None:
    hand = as_vector(HAND_SET).astype(np.float64)
    fitted = ranking_fit.fit(dev)
    assert ranking_fit.top1(dev, fitted) > ranking_fit.top1(dev, hand)
    assert "held out" in ranking_fit.report(dev.subset(np.arange(len(dev.sources)) < 150), fitted)


def test_the_committed_weights_are_the_fit_of_todays_knowledge_and_data(dev) -> None:
    """Refit (`kneebot eval --fit-ranking`) after changing the knowledge or the dev sets."""
    fitted = ranking_fit.as_weights(ranking_fit.fit(dev))
    committed = load_ranking(RANKING_FILE)
    for name in SIGNALS:
        assert fitted[name] == pytest.approx(committed[name], abs=0.02), name
