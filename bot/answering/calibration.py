"""The measured "not covered" thresholds, one per retriever mode (written by `kneebot eval`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

# Committed on purpose: every deployment answers with the thresholds measured on the dev split.
CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "calibration.json"


def load_calibration(path: Path = CALIBRATION_FILE) -> dict[str, float]:
    """Per-mode unknown thresholds; empty (with a warning naming the file) when unreadable."""
    try:
        return {mode: float(value) for mode, value in json.loads(path.read_text()).items()}
    except (OSError, ValueError, TypeError, AttributeError) as error:
        log.warning("calibration unavailable: %s (%s); using the fallback threshold", path, error)
        return {}


def save_calibration(thresholds: dict[str, float], path: Path = CALIBRATION_FILE) -> None:
    path.write_text(json.dumps(thresholds, indent=2, sort_keys=True) + "\n")
