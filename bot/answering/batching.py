"""Micro-batching of query embeddings: concurrent questions share one encode call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np

BatchEncoder = Callable[[list[str]], Awaitable[np.ndarray]]


class MicroBatcher:
    """Collects texts from concurrent callers and encodes them together.

    While one batch is being encoded, new texts queue up and go out as the next batch, so a
    lone question never waits for a window and a crowd gets the model's batched throughput.
    An error in a batch reaches exactly the callers whose texts were in it.
    """

    def __init__(self, encode: BatchEncoder, max_batch: int = 64) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._pending: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def encode(self, text: str) -> np.ndarray:
        """The vector of one text, computed in a batch with whatever else is waiting."""
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._pending.append((text, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = (
                self._pending[: self._max_batch],
                self._pending[self._max_batch :],
            )
            try:
                vectors = await self._encode([text for text, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to the callers that asked
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                if not future.done():
                    future.set_result(vector)
