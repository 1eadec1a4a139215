"""The picture cache redraws an exercise when its keyframes change, and only then."""

from __future__ import annotations

from pathlib import Path

from bot.config import PROJECT_ROOT
from bot.knowledge import KnowledgeBase, load_chunk
from bot.pictures import picture_for
from bot.pictures.cache import build_pictures
from bot.pictures.files import animation_path, still_path

KNOWLEDGE = PROJECT_ROOT / "knowledge"


def _kb(*chunks) -> KnowledgeBase:
    return KnowledgeBase(chunks=tuple(chunks), fingerprint="test")


def _bent_knee(chunk):
    """The same exercise with its last keyframe's left knee bent a little further."""
    keyframes = list(chunk.picture.keyframes)
    last = keyframes[-1]
    keyframes[-1] = last.model_copy(update={"left_knee": min(last.left_knee + 10, 160)})
    picture = chunk.picture.model_copy(update={"keyframes": tuple(keyframes)})
    return chunk.model_copy(update={"picture": picture})


def test_cache_renders_once_then_keeps(tmp_path: Path) -> None:
    clamshell, calf = (
        load_chunk(KNOWLEDGE / "clamshell.md"),
        load_chunk(KNOWLEDGE / "calf-raise.md"),
    )
    first = build_pictures(_kb(clamshell, calf), tmp_path)
    assert sorted(first.rendered) == ["calf-raise", "clamshell"]
    stamp = still_path(tmp_path, "calf-raise").stat().st_mtime_ns
    again = build_pictures(_kb(clamshell, calf), tmp_path)
    assert again.rendered == [] and sorted(again.kept) == ["calf-raise", "clamshell"]
    assert still_path(tmp_path, "calf-raise").stat().st_mtime_ns == stamp


def test_changed_keyframes_redraw_only_that_exercise(tmp_path: Path) -> None:
    clamshell, calf = (
        load_chunk(KNOWLEDGE / "clamshell.md"),
        load_chunk(KNOWLEDGE / "calf-raise.md"),
    )
    build_pictures(_kb(clamshell, calf), tmp_path)
    before = still_path(tmp_path, "clamshell").read_bytes()
    report = build_pictures(_kb(_bent_knee(clamshell), calf), tmp_path)
    assert report.rendered == ["clamshell"] and report.kept == ["calf-raise"]
    assert still_path(tmp_path, "clamshell").read_bytes() != before


def test_missing_file_is_redrawn_and_removed_exercise_is_dropped(tmp_path: Path) -> None:
    clamshell, calf = (
        load_chunk(KNOWLEDGE / "clamshell.md"),
        load_chunk(KNOWLEDGE / "calf-raise.md"),
    )
    build_pictures(_kb(clamshell, calf), tmp_path)
    animation_path(tmp_path, "clamshell").unlink()
    report = build_pictures(_kb(clamshell), tmp_path)
    assert report.rendered == ["clamshell"] and report.removed == ["calf-raise"]
    assert picture_for("calf-raise", index_dir=tmp_path) is None
    assert picture_for("clamshell", index_dir=tmp_path) == animation_path(tmp_path, "clamshell")
    assert picture_for("clamshell", animated=False, index_dir=tmp_path).suffix == ".png"
