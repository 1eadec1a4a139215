"""The measured thresholds: read when present, a warning naming the file when not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.answering.calibration import CALIBRATION_FILE, load_calibration, save_calibration


def test_the_committed_calibration_is_read() -> None:
    assert set(load_calibration(CALIBRATION_FILE)) >= {"combined"}


def test_a_saved_calibration_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    save_calibration({"combined": 0.42}, path)
    assert load_calibration(path) == {"combined": 0.42}


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]"])
def test_a_missing_or_broken_calibration_is_a_warning_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | None
) -> None:
    path = tmp_path / "calibration.json"
    if content is not None:
        path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="bot.answering.calibration"):
        assert load_calibration(path) == {}
    assert str(path) in caplog.text
