"""The ONNX query model: same vectors as the reference, batch-independent, rebuilt when damaged."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.answering.batching import MicroBatcher
from bot.answering.embedding import Embedder, OnnxEmbedder, TorchEmbedder
from bot.answering.index import read_manifest, update_manifest
from bot.answering.onnx_model import (
    MIN_COSINE,
    ONNX_DATA_FILE,
    ONNX_FILE,
    load_onnx_embedder,
    onnx_problem,
)
from bot.config import PROJECT_ROOT, Settings
from bot.devtools import evaluation

SHORT = "knee pain when running"
LONG = " ".join(["why do my knees cave in when I squat and land from jumps"] * 30)


@pytest.fixture(scope="module")
def questions() -> list[str]:
    return [question.q for question in evaluation.load_questions()][:80] + ["", LONG, "🦵 genou"]


def test_serving_runs_on_onnx_by_default(embedder: Embedder) -> None:
    assert isinstance(embedder, OnnxEmbedder)
    assert (embedder.backend, embedder.dimension) == ("onnx", 384)


def test_onnx_vectors_match_sentence_transformers_float32(
    embedder: OnnxEmbedder, questions: list[str]
) -> None:
    reference = TorchEmbedder(dtype="float32").encode(questions)
    cosines = (embedder.encode(questions) * reference).sum(axis=1)
    assert cosines.min() >= MIN_COSINE


def test_long_text_is_truncated_like_sentence_transformers(embedder: OnnxEmbedder) -> None:
    """The limit is sentence-transformers' 256 tokens, not tokenizer.json's 128."""
    at_limit = embedder.encode([LONG])[0]
    longer = embedder.encode([LONG + " and then some more words that fall past the limit"])[0]
    assert np.abs(at_limit - longer).max() < 1e-6
    assert float(embedder.encode([LONG[: len(LONG) // 3]])[0] @ at_limit) < 0.9999


def test_a_vector_does_not_depend_on_its_batch(
    embedder: OnnxEmbedder, questions: list[str]
) -> None:
    alone = embedder.encode([SHORT])[0]
    for company in ([LONG], questions[:7], questions[:70]):  # padded, and across a 64-text split
        in_batch = embedder.encode([*company, SHORT])[-1]
        assert np.abs(in_batch - alone).max() < 1e-5


async def test_micro_batched_vectors_equal_lone_ones(
    embedder: OnnxEmbedder, questions: list[str]
) -> None:
    batcher = MicroBatcher(embedder.encode_async, max_batch=16)
    texts = questions[:40]
    together = await asyncio.gather(*(batcher.encode(text) for text in texts))
    alone = np.stack([embedder.encode([text])[0] for text in texts])
    assert np.abs(np.stack(together) - alone).max() < 1e-5


def _copy_index(settings: Settings, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(settings.index_dir, copy)
    return copy


def test_corrupt_onnx_file_is_detected_and_exported_again(
    runtime, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index_dir = _copy_index(settings, tmp_path)
    data = index_dir / ONNX_DATA_FILE
    scrambled = bytearray(data.read_bytes())
    middle = len(scrambled) // 2
    scrambled[middle : middle + 4096] = bytes(reversed(scrambled[middle : middle + 4096]))
    data.write_bytes(bytes(scrambled))
    assert onnx_problem(index_dir) == f"corrupt: {ONNX_DATA_FILE} checksum mismatch"
    with caplog.at_level(logging.WARNING):
        embedder = load_onnx_embedder(index_dir)
    assert "checksum mismatch: exporting it" in caplog.text
    assert onnx_problem(index_dir) is None
    expected = runtime.embedder.encode([SHORT])
    assert float(embedder.encode([SHORT])[0] @ expected[0]) >= MIN_COSINE


def test_missing_or_stale_onnx_file_is_exported_again(
    runtime, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index_dir = _copy_index(settings, tmp_path)
    (index_dir / ONNX_FILE).unlink()
    assert onnx_problem(index_dir) == "missing"
    entry = read_manifest(index_dir)["onnx"]
    entry["source"]["sha256"] = "0" * 64
    entry["source"]["size"] += 1  # the cached hash is trusted only while size and mtime match
    update_manifest(index_dir, "onnx", entry)
    assert onnx_problem(index_dir) == "missing"
    shutil.copy(settings.index_dir / ONNX_FILE, index_dir / ONNX_FILE)
    assert onnx_problem(index_dir) == "stale: bundled model weights changed"
    with caplog.at_level(logging.WARNING):
        load_onnx_embedder(index_dir)
    assert "is stale: bundled model weights changed: exporting it" in caplog.text
    assert onnx_problem(index_dir) is None


# A serving process: one `kneebot ask`, then the heavy modules it has imported by then.
ASK_THEN_MODULES = """
import json, sys
from bot.cli import main
code = main(["ask", "why do my knees cave in when I squat?"])
loaded = {name.split(".")[0] for name in sys.modules}
heavy = sorted(loaded & {"torch", "sentence_transformers", "transformers", "sklearn", "scipy"})
print(json.dumps({"code": code, "heavy": heavy}))
"""


def test_serving_process_never_imports_the_build_time_libraries(
    runtime, settings: Settings
) -> None:
    # torch and sentence-transformers embed the index; scikit-learn (and scipy) fit the intent
    # model, cached beside the index. A serving process needs none of them.
    env = os.environ | {
        "PYTHONPATH": str(PROJECT_ROOT),
        "KNEEBOT_INDEX_DIR": str(settings.index_dir),
        "KNEEBOT_EMBED_BACKEND": "onnx",
    }
    result = subprocess.run(
        [sys.executable, "-c", ASK_THEN_MODULES],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    *answer, last = result.stdout.strip().splitlines()
    assert "knee" in " ".join(answer).lower()
    assert json.loads(last) == {"code": 0, "heavy": []}
    assert "exporting" not in result.stderr and "building" not in result.stderr
