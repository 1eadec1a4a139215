"""Drawn pictures of the exercises: a posed figure, a still and a looping animation for each.

poses.py is the front-matter schema, figure.py the body, render.py the drawing, cache.py the
build step into <index_dir>/pictures/ and sheet.py the contact sheet for review.
"""

from __future__ import annotations

from pathlib import Path

from bot.pictures.files import animation_path, still_path
from bot.replies import Reply, ReplyKind


def picture_for(
    exercise_id: str, *, animated: bool = True, index_dir: Path | None = None
) -> Path | None:
    """The exercise's rendered animation (or still), or None if it has not been built."""
    if index_dir is None:
        from bot.config import get_settings

        index_dir = get_settings().index_dir
    path = (animation_path if animated else still_path)(index_dir, exercise_id)
    return path if path.is_file() else None


def picture_of(reply: Reply, index_dir: Path, *, animated: bool = True) -> Path | None:
    """The picture that goes with a how-to reply (its first source is the exercise), if built."""
    if reply.kind is not ReplyKind.HOWTO or not reply.sources:
        return None
    return picture_for(reply.sources[0].id, animated=animated, index_dir=index_dir)
