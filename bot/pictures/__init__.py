"""Drawn pictures of the exercises: a posed figure, a still and a looping animation for each.

poses.py is the front-matter schema, figure.py the body, render.py the drawing, cache.py the
build step into <index_dir>/pictures/ and sheet.py the contact sheet for review.
"""

from __future__ import annotations

from pathlib import Path

from bot.pictures.files import animation_path, still_path


def picture_for(
    exercise_id: str, *, animated: bool = True, index_dir: Path | None = None
) -> Path | None:
    """The exercise's rendered animation (or still), or None if it has not been built."""
    if index_dir is None:
        from bot.config import get_settings

        index_dir = get_settings().index_dir
    path = (animation_path if animated else still_path)(index_dir, exercise_id)
    return path if path.is_file() else None
