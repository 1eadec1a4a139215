"""Labelled example utterances (knowledge/*.yaml) and their vectors, cached beside the index.

Understanding and the semantic safety check compare a message's one embedding with these
examples. Embedding a few hundred short lines costs seconds, so the vectors are cached in the
index directory under a hash of the model and the texts, and rebuilt only when either changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import yaml

from bot.answering.embedding import Embedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Examples:
    """Example texts with one label each, and their unit vectors (row i is texts[i])."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    vectors: np.ndarray

    def nearest(self, vector: np.ndarray, k: int = 3) -> dict[str, float]:
        """Per label, the mean cosine similarity of its k closest examples to the vector."""
        sims = self.vectors @ vector
        scores: dict[str, float] = {}
        for label in dict.fromkeys(self.labels):
            mine = np.sort(sims[self._rows(label)])[::-1][:k]
            scores[label] = float(mine.mean())
        return scores

    def _rows(self, label: str) -> np.ndarray:
        cache = self.__dict__.setdefault("_label_rows", {})
        if label not in cache:
            cache[label] = np.array([i for i, name in enumerate(self.labels) if name == label])
        return cache[label]


# libyaml's loader parses the example files in a fifth of the pure-Python time (cold start).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}  # noqa: S506


def embed_examples(
    name: str, pairs: list[tuple[str, str]], embedder: Embedder, cache_dir: Path
) -> Examples:
    """(label, text) pairs with vectors, read from the cache when model and texts are unchanged."""
    labels = tuple(label for label, _ in pairs)
    texts = tuple(text for _, text in pairs)
    digest = hashlib.sha256(json.dumps([embedder.name, labels, texts]).encode()).hexdigest()
    path = cache_dir / f"examples-{name}-{digest[:16]}.npy"
    try:
        vectors = np.load(path)
        if vectors.shape == (len(texts), embedder.dimension):
            return Examples(texts, labels, vectors)
    except (OSError, ValueError):
        pass
    vectors = embedder.encode(list(texts))
    replace_cached(path, f"examples-{name}-*.npy", lambda handle: np.save(handle, vectors))
    log.info("embedded %d %s examples", len(texts), name)
    return Examples(texts, labels, vectors)


def replace_cached(path: Path, pattern: str, save: Callable[[BinaryIO], None]) -> None:
    """Write a cache file atomically and drop its older versions (files matching `pattern`).

    A read-only index directory only costs the cache: the caller already has what it computed.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(pattern):
            old.unlink(missing_ok=True)
        tmp = path.parent / f".{path.name}.tmp"
        with tmp.open("wb") as handle:
            save(handle)
        tmp.replace(path)
    except OSError as exc:
        log.warning("cannot write the cache %s: %s", path, exc)
