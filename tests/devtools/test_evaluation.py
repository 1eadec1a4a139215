"""The quality bars of the labelled question set, on the real model and index."""

from __future__ import annotations

import pytest

from bot.answering.retrieval import Mode
from bot.app import build_runtime
from bot.devtools import evaluation


@pytest.fixture(scope="module")
def results(coach):
    questions = evaluation.load_questions()
    return {mode: evaluation.metrics(evaluation.run(coach, questions, mode)) for mode in Mode}


def test_question_set_is_big_and_varied():
    questions = evaluation.load_questions()
    kinds = [q.kind for q in questions]
    assert len(questions) >= 120
    assert kinds.count("unknown") >= 25
    assert kinds.count("safety") >= 20


def test_combined_top1_at_least_95_percent(results):
    assert results[Mode.COMBINED]["top1"] >= 0.95


def test_every_red_flag_is_caught(results):
    assert results[Mode.COMBINED]["redflag_recall"] == 1.0


def test_off_topic_rejected_without_rejecting_in_domain(results):
    combined = results[Mode.COMBINED]
    assert combined["offtopic_recall"] >= 0.95
    assert combined["false_reject"] <= 0.03


def test_combined_beats_each_retriever_alone(results):
    for mode in (Mode.DENSE, Mode.LEXICAL):
        assert results[Mode.COMBINED]["mrr"] >= results[mode]["mrr"]


def test_onnx_and_torch_backends_give_the_same_figures(settings, runtime, reference_embedder):
    """Serving on ONNX must not move any eval figure by more than half a point."""
    torch_coach = build_runtime(settings, reference_embedder).coach
    assert (runtime.embedder.backend, torch_coach.retriever.embedder.backend) == ("onnx", "torch")
    questions = evaluation.load_questions()
    for mode in Mode:
        onnx = evaluation.metrics(evaluation.run(runtime.coach, questions, mode))
        torch = evaluation.metrics(evaluation.run(torch_coach, questions, mode))
        for name, value in onnx.items():
            assert abs(value - torch[name]) <= 0.005, (mode, name, value, torch[name])
