"""Render every exercise's still and animation into <index_dir>/pictures/, only when it changed.

The manifest maps each exercise id to a hash of its picture spec and the renderer version, so a
keyframe edit (or a change to how figures are drawn) re-renders that exercise and nothing else.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.knowledge import Chunk, Kind, KnowledgeBase
from bot.pictures.files import animation_path, pictures_dir, still_path
from bot.pictures.poses import Picture
from bot.pictures.render import render_animation, render_still

log = logging.getLogger(__name__)

# Bump when the drawing code changes so that every cached picture is redrawn.
RENDERER_VERSION = "1"
MANIFEST = "manifest.json"


@dataclass
class BuildReport:
    rendered: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def picture_hash(picture: Picture) -> str:
    payload = RENDERER_VERSION + picture.model_dump_json()
    return hashlib.sha256(payload.encode()).hexdigest()


def build_pictures(kb: KnowledgeBase, index_dir: Path) -> BuildReport:
    """Render what is missing or changed, drop pictures of exercises that are gone."""
    folder = pictures_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(folder)
    report, current = BuildReport(), {}
    for chunk in _drawable(kb):
        digest = picture_hash(chunk.picture)
        current[chunk.id] = digest
        if manifest.get(chunk.id) == digest and _files_exist(index_dir, chunk.id):
            report.kept.append(chunk.id)
            continue
        _render(chunk, index_dir)
        report.rendered.append(chunk.id)
    for gone in sorted(set(manifest) - set(current)):
        for path in (still_path(index_dir, gone), animation_path(index_dir, gone)):
            path.unlink(missing_ok=True)
        report.removed.append(gone)
    _write_manifest(folder, current)
    log.debug("pictures: %d rendered, %d kept", len(report.rendered), len(report.kept))
    return report


def _drawable(kb: KnowledgeBase) -> list[Chunk]:
    return [chunk for chunk in kb.of_kind(Kind.EXERCISE) if chunk.picture is not None]


def _files_exist(index_dir: Path, exercise_id: str) -> bool:
    paths = (still_path(index_dir, exercise_id), animation_path(index_dir, exercise_id))
    return all(path.is_file() for path in paths)


def _render(chunk: Chunk, index_dir: Path) -> None:
    """Write to temporary names first so a reader never sees half a file."""
    for final, draw in (
        (still_path(index_dir, chunk.id), render_still),
        (animation_path(index_dir, chunk.id), render_animation),
    ):
        partial = final.with_name(f".{final.name}.tmp{final.suffix}")
        draw(chunk.picture, partial)
        partial.replace(final)


def _read_manifest(folder: Path) -> dict[str, str]:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(folder: Path, manifest: dict[str, str]) -> None:
    partial = folder / f".{MANIFEST}.tmp"
    partial.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    partial.replace(folder / MANIFEST)
