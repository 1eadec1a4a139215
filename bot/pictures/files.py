"""Where the rendered pictures live: <index_dir>/pictures/<exercise id>.png and .gif."""

from __future__ import annotations

from pathlib import Path


def pictures_dir(index_dir: Path) -> Path:
    return index_dir / "pictures"


def still_path(index_dir: Path, exercise_id: str) -> Path:
    return pictures_dir(index_dir) / f"{exercise_id}.png"


def animation_path(index_dir: Path, exercise_id: str) -> Path:
    return pictures_dir(index_dir) / f"{exercise_id}.gif"
