"""Every exercise is drawn: keyframes in its front matter, a still, an animation that moves."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from bot.config import PROJECT_ROOT
from bot.knowledge import Kind, KnowledgeError, load_chunk, load_knowledge
from bot.pictures.render import (
    animation_frames,
    furthest_keyframe,
    pose_frames,
    render_animation,
    render_still,
)
from bot.pictures.sheet import contact_sheet

KNOWLEDGE = PROJECT_ROOT / "knowledge"
EXERCISES = [c for c in load_knowledge(KNOWLEDGE).chunks if c.kind is Kind.EXERCISE]


def test_every_exercise_has_keyframes() -> None:
    missing = [c.id for c in EXERCISES if c.picture is None]
    assert not missing, f"exercises without a picture: {missing}"
    assert all(2 <= len(c.picture.keyframes) <= 4 for c in EXERCISES)


@pytest.mark.parametrize("chunk", EXERCISES, ids=lambda c: c.id)
def test_exercise_renders_and_moves_between_keyframes(chunk, tmp_path: Path) -> None:
    still = render_still(chunk.picture, tmp_path / "still.png")
    image = iio.imread(still)
    assert image.shape[0] >= 300 and image.shape[1] >= 2 * image.shape[0]
    assert (image[..., :3] < 250).any(axis=-1).mean() > 0.03  # something was drawn
    keyframes = (chunk.picture.keyframes[0], furthest_keyframe(chunk.picture.keyframes))
    start, end = pose_frames(chunk.picture, keyframes, height=160)
    changed = np.abs(start.astype(int) - end.astype(int)).max(axis=-1) > 40
    assert changed.mean() > 0.002, f"{chunk.id}: start and end look the same"


def test_animation_is_a_looping_gif_whose_frames_differ(tmp_path: Path) -> None:
    picture = load_chunk(KNOWLEDGE / "calf-raise.md").picture
    path = render_animation(picture, tmp_path / "calf-raise.gif")
    frames = iio.imread(path, index=None)
    # Pillow folds the held frames at each end into one longer frame.
    assert 10 < frames.shape[0] <= len(list(animation_frames(picture, height=80)))
    assert np.abs(frames[0].astype(int) - frames[frames.shape[0] // 2]).max() > 40
    assert iio.immeta(path, index=None).get("loop") == 0


def test_heels_rise_in_the_calf_raise() -> None:
    picture = load_chunk(KNOWLEDGE / "calf-raise.md").picture
    start, end = pose_frames(picture, picture.keyframes, height=200)

    def lowest_figure_row(frame: np.ndarray) -> int:
        figure = (frame[..., 2] > 150) & (frame[..., 0] < 150)  # the blue body
        return int(np.nonzero(figure.any(axis=1))[0].max())

    def highest_figure_row(frame: np.ndarray) -> int:
        return int(np.nonzero(((frame[..., 2] > 150) & (frame[..., 0] < 150)).any(axis=1))[0].min())

    assert highest_figure_row(end) < highest_figure_row(start)  # the whole body is lifted
    assert lowest_figure_row(end) <= lowest_figure_row(start)


def _with_keyframe_line(tmp_path: Path, old: str, new: str) -> Path:
    text = (KNOWLEDGE / "clamshell.md").read_text()
    assert old in text
    path = tmp_path / "clamshell.md"
    path.write_text(text.replace(old, new, 1))
    return path


def test_impossible_angle_names_the_file_and_the_joint(tmp_path: Path) -> None:
    path = _with_keyframe_line(tmp_path, "left_knee: 80", "left_knee: 200")
    with pytest.raises(
        KnowledgeError,
        match=r"clamshell\.md: field 'picture\.keyframes\[1\]\.left_knee': 200 is outside 0\.\.160",
    ):
        load_chunk(path)


def test_unknown_prop_point_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = _with_keyframe_line(tmp_path, "{kind: mat}", "{kind: band, at: left_elbw}")
    with pytest.raises(KnowledgeError, match=r"clamshell\.md: field 'picture\.props\[0\]\.at'"):
        load_chunk(path)


def test_contact_sheet_has_a_cell_per_still(tmp_path: Path) -> None:
    stills = []
    for name in ("clamshell", "calf-raise", "goblet-squat", "wall-sit"):
        chunk = load_chunk(KNOWLEDGE / f"{name}.md")
        stills.append((chunk.title, render_still(chunk.picture, tmp_path / f"{name}.png")))
    sheet = iio.imread(contact_sheet(stills, tmp_path / "sheet.png", columns=2))
    assert sheet.shape[0] > 2 * 300 * 0.5 and sheet.shape[1] > 800
