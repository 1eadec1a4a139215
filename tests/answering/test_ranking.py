"""The fitted ranking weights: read when present, the hand-set ones (and a warning) when not."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.answering.ranking import HAND_SET, RANKING_FILE, SIGNALS, load_ranking, save_ranking


def test_the_committed_weights_name_every_signal() -> None:
    weights = load_ranking(RANKING_FILE)
    assert list(weights) == list(SIGNALS)
    assert weights != HAND_SET  # the fitted ones, not the fallback


def test_saved_weights_read_back_rounded(tmp_path: Path) -> None:
    path = tmp_path / "ranking.json"
    save_ranking({name: 0.123456 for name in SIGNALS}, path)
    assert load_ranking(path) == {name: 0.1235 for name in SIGNALS}


@pytest.mark.parametrize(
    "content", [None, "{not json", "[1, 2]", json.dumps({"dense": 1.0}), '{"dense": "x"}']
)
def test_missing_or_broken_weights_are_a_warning_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | None
) -> None:
    path = tmp_path / "ranking.json"
    if content is not None:
        path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="bot.answering.ranking"):
        assert load_ranking(path) == HAND_SET
    assert str(path) in caplog.text
