"""The index is rebuilt when missing, stale or corrupt, and never served stale."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from bot.answering.index import (
    MANIFEST_FILE,
    ROWS_FILE,
    VECTORS_FILE,
    IndexUnavailable,
    build_index,
    is_current,
    load_index,
    read_index,
)
from bot.config import PROJECT_ROOT
from bot.knowledge import load_knowledge


@pytest.fixture
def knowledge_copy(tmp_path):
    target = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", target)
    return target


def test_build_writes_manifest(knowledge_copy, tmp_path, embedder):
    kb = load_knowledge(knowledge_copy)
    index = build_index(kb, embedder, tmp_path / "index")
    manifest = json.loads((tmp_path / "index" / MANIFEST_FILE).read_text())
    assert manifest["knowledge_sha256"] == kb.fingerprint
    assert manifest["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["dimension"] == 384
    assert manifest["chunks"] == len(kb.chunks)
    assert index.faiss_index.ntotal == manifest["vectors"] >= len(kb.chunks)
    assert is_current(kb, embedder.name, tmp_path / "index")


def test_missing_index_is_built(knowledge_copy, tmp_path, embedder, caplog):
    kb = load_knowledge(knowledge_copy)
    with caplog.at_level(logging.WARNING):
        load_index(kb, embedder, tmp_path / "index")
    assert "is missing: building it" in caplog.text
    assert (tmp_path / "index" / VECTORS_FILE).exists()


def test_stale_index_is_rebuilt_not_served(knowledge_copy, tmp_path, embedder, caplog):
    index_dir = tmp_path / "index"
    build_index(load_knowledge(knowledge_copy), embedder, index_dir)
    clamshell = knowledge_copy / "clamshell.md"
    clamshell.write_text(clamshell.read_text().replace("title: Clamshell", "title: Clam shells"))
    kb = load_knowledge(knowledge_copy)
    assert not is_current(kb, embedder.name, index_dir)
    with caplog.at_level(logging.WARNING):
        index = load_index(kb, embedder, index_dir)
    assert "stale (knowledge files changed)" in caplog.text
    assert index.manifest["knowledge_sha256"] == kb.fingerprint
    assert read_index(index_dir).manifest["knowledge_sha256"] == kb.fingerprint


def test_corrupt_vectors_are_rebuilt(knowledge_copy, tmp_path, embedder, caplog):
    index_dir = tmp_path / "index"
    kb = load_knowledge(knowledge_copy)
    build_index(kb, embedder, index_dir)
    (index_dir / VECTORS_FILE).write_bytes(b"not a faiss index")
    with caplog.at_level(logging.WARNING):
        index = load_index(kb, embedder, index_dir)
    assert "corrupt" in caplog.text
    assert index.faiss_index.ntotal == index.manifest["vectors"]


@pytest.mark.parametrize("name", [VECTORS_FILE, ROWS_FILE])
def test_scrambled_contents_behind_a_valid_header_are_caught_and_rebuilt(
    knowledge_copy, tmp_path, embedder, caplog, name
):
    index_dir = tmp_path / "index"
    kb = load_knowledge(knowledge_copy)
    built = build_index(kb, embedder, index_dir)
    if name == VECTORS_FILE:  # same header and size, vectors scrambled: FAISS loads it happily
        raw = bytearray((index_dir / name).read_bytes())
        tail = raw[-4096:]
        raw[-4096:] = tail[::-1]
        (index_dir / name).write_bytes(bytes(raw))
    else:  # chunk ids shuffled: every row would point at the wrong chunk
        rows = json.loads((index_dir / name).read_text())
        (index_dir / name).write_text(json.dumps(rows[1:] + rows[:1]))
    with caplog.at_level(logging.WARNING):
        index = load_index(kb, embedder, index_dir)
    assert "checksum" in caplog.text and "building it" in caplog.text
    assert index.rows == built.rows
    assert read_index(index_dir).rows == built.rows


def test_garbled_manifest_is_rebuilt(knowledge_copy, tmp_path, embedder, caplog):
    index_dir = tmp_path / "index"
    kb = load_knowledge(knowledge_copy)
    build_index(kb, embedder, index_dir)
    (index_dir / MANIFEST_FILE).write_text("{ half a json")
    with caplog.at_level(logging.WARNING):
        load_index(kb, embedder, index_dir)
    assert "corrupt" in caplog.text
    assert is_current(kb, embedder.name, index_dir)


def test_unwritable_index_location_gives_clear_error(knowledge_copy, tmp_path, embedder):
    blocker = tmp_path / "index"
    blocker.write_text("a file where the index directory should be")
    with pytest.raises(IndexUnavailable, match=r"cannot write the index in .*index"):
        load_index(load_knowledge(knowledge_copy), embedder, blocker)
