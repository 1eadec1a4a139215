"""The FAISS index over knowledge chunks: build it, save it, load it (rebuilding when stale)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from bot.answering.embedding import Embedder
from bot.knowledge import Chunk, KnowledgeBase

log = logging.getLogger(__name__)

VECTORS_FILE = "vectors.faiss"
ROWS_FILE = "chunks.json"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 6  # 6: example questions are views too
KEPT = ("onnx",)  # see bot/answering/onnx_model.py


class IndexUnavailable(Exception):
    """The index cannot be read or written; the message says where and why."""


@dataclass(frozen=True)
class SearchIndex:
    """FAISS inner-product index; row i is a view of chunk rows[i] (a chunk has several views)."""

    faiss_index: faiss.Index
    rows: list[str]
    manifest: dict

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row numbers of the k nearest views of each query vector."""
        return self.faiss_index.search(query, min(k, len(self.rows)))


def chunk_views(chunk: Chunk) -> list[str]:
    """The texts embedded for a chunk: title, aliases and summary (its lead text), and each of
    its example questions, so a message is matched question to question as well.

    Measured on the labelled questions, one vector of the chunk's names and lead text beats
    vectors of each body paragraph; the body is still matched word by word (BM25).
    """
    return [f"{chunk.title}. {', '.join(chunk.aliases)}. {chunk.summary}", *chunk.questions]


def build_index(kb: KnowledgeBase, embedder: Embedder, index_dir: Path) -> SearchIndex:
    """Embed every view of every chunk and write vectors, rows and manifest."""
    rows: list[str] = []
    texts: list[str] = []
    for chunk in kb.chunks:
        for view in chunk_views(chunk):
            rows.append(chunk.id)
            texts.append(view)
    vectors = embedder.encode(texts)
    faiss_index = faiss.IndexFlatIP(embedder.dimension)
    faiss_index.add(vectors)
    manifest = {
        "format": FORMAT_VERSION,
        "knowledge_sha256": kb.fingerprint,
        "model": embedder.name,
        "dimension": embedder.dimension,
        "dtype": embedder.dtype,
        "chunks": len(kb.chunks),
        "vectors": len(rows),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    # Entries that other builders keep in the manifest (the ONNX query model) survive a rebuild.
    manifest |= {key: value for key, value in read_manifest(index_dir).items() if key in KEPT}
    _write(index_dir, faiss_index, rows, manifest)
    log.info("index built: %d chunks, %d vectors in %s", len(kb.chunks), len(rows), index_dir)
    return SearchIndex(faiss_index, rows, manifest)


def _write(index_dir: Path, faiss_index: faiss.Index, rows: list[str], manifest: dict) -> None:
    """Write to temporary names and rename, so a crash never leaves a half-written index."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        parts = {
            VECTORS_FILE: faiss.serialize_index(faiss_index).tobytes(),
            ROWS_FILE: json.dumps(rows).encode(),
        }
        # Checksums of the files in the manifest: scrambled contents behind a valid header are
        # caught on load (and rebuilt) instead of being served. The manifest is written last.
        files = {**manifest.get("files", {}), **{n: _sha256(b) for n, b in parts.items()}}
        manifest["files"] = files
        parts[MANIFEST_FILE] = json.dumps(manifest, indent=2).encode()
        for name, payload in parts.items():
            tmp = index_dir / f".{name}.tmp"
            tmp.write_bytes(payload)
            tmp.replace(index_dir / name)
    except OSError as exc:
        raise IndexUnavailable(
            f"cannot write the index in {index_dir}: {exc.strerror or exc}"
        ) from exc


def read_manifest(index_dir: Path) -> dict:
    """The saved manifest, or {} when there is none or it cannot be parsed."""
    try:
        manifest = json.loads((index_dir / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def update_manifest(index_dir: Path, key: str, entry: dict) -> None:
    """Set one entry of the manifest, written to a temporary name and renamed."""
    manifest = read_manifest(index_dir) | {key: entry}
    tmp = index_dir / f".{MANIFEST_FILE}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(manifest, indent=2))
        tmp.replace(index_dir / MANIFEST_FILE)
    except OSError as exc:
        raise IndexUnavailable(f"cannot write {MANIFEST_FILE} in {index_dir}: {exc}") from exc


def read_index(index_dir: Path) -> SearchIndex:
    """Read a saved index as it is; raises ValueError/OSError when it is missing or corrupt."""
    manifest = json.loads((index_dir / MANIFEST_FILE).read_text())
    payloads = {name: (index_dir / name).read_bytes() for name in (VECTORS_FILE, ROWS_FILE)}
    for name, payload in payloads.items():
        if manifest.get("files", {}).get(name) != _sha256(payload):
            raise ValueError(f"{name} does not match the checksum in the manifest")
    rows = json.loads(payloads[ROWS_FILE])
    raw = np.frombuffer(payloads[VECTORS_FILE], dtype=np.uint8)
    try:
        faiss_index = faiss.deserialize_index(raw)
    except RuntimeError as exc:
        raise ValueError(f"vectors file is corrupt ({exc})") from exc
    if not faiss_index.ntotal == len(rows) == manifest.get("vectors"):
        raise ValueError("vectors, rows and manifest disagree")
    return SearchIndex(faiss_index, rows, manifest)


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def stale_reason(index: SearchIndex, kb: KnowledgeBase, embedder: Embedder) -> str | None:
    """Why a readable index must not be served, or None when it matches the knowledge base."""
    manifest = index.manifest
    if manifest.get("format") != FORMAT_VERSION:
        return "index format changed"
    if manifest.get("knowledge_sha256") != kb.fingerprint:
        return "knowledge files changed"
    if manifest.get("model") != embedder.name or manifest.get("dimension") != embedder.dimension:
        return "embedding model changed"
    if set(index.rows) != {chunk.id for chunk in kb.chunks}:
        return "chunk ids differ"
    return None


def load_index(
    kb: KnowledgeBase,
    embedder: Embedder,
    index_dir: Path,
    reference: Callable[[], Embedder] | None = None,
) -> SearchIndex:
    """The saved index if it is current; otherwise rebuilt (and logged), never served stale.

    A rebuild embeds the knowledge with `reference()` (the torch model, when serving on ONNX),
    so the torch import happens only on that path.
    """
    found = _current_or_why(kb, embedder, index_dir)
    if isinstance(found, SearchIndex):
        return found
    log.warning("index in %s is %s: building it", index_dir, found)
    return build_index(kb, reference() if reference else embedder, index_dir)


def _current_or_why(kb: KnowledgeBase, embedder: Embedder, index_dir: Path) -> SearchIndex | str:
    """The current index, or why it must be built: missing, corrupt (…) or stale (…)."""
    if not any((index_dir / name).exists() for name in (VECTORS_FILE, ROWS_FILE)):
        return "missing"
    try:
        index = read_index(index_dir)
    except PermissionError as exc:
        raise IndexUnavailable(f"cannot read the index in {index_dir}: {exc.strerror}") from exc
    except (OSError, ValueError, TypeError) as exc:
        return f"corrupt ({exc})"
    reason = stale_reason(index, kb, embedder)
    return f"stale ({reason})" if reason else index


def is_current(kb: KnowledgeBase, model_name: str, index_dir: Path) -> bool:
    """A cheap check (no model needed) that the saved manifest matches the knowledge base."""
    try:
        manifest = json.loads((index_dir / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    return (
        manifest.get("format") == FORMAT_VERSION
        and manifest.get("knowledge_sha256") == kb.fingerprint
        and manifest.get("model") == model_name
        and all((index_dir / name).exists() for name in (VECTORS_FILE, ROWS_FILE))
    )
