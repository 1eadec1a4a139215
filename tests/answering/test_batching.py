"""The micro-batcher and the reply cache: each caller gets its own answer, errors its own error."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from bot.answering.batching import MicroBatcher
from bot.replies import ReplyKind


async def test_concurrent_callers_share_batches_and_get_their_own_vectors(embedder):
    calls: list[list[str]] = []

    async def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return await embedder.encode_async(texts)

    batcher = MicroBatcher(encode, max_batch=8)
    texts = [f"question number {n} about knee valgus" for n in range(20)]
    vectors = await asyncio.gather(*(batcher.encode(text) for text in texts))
    expected = embedder.encode(texts)
    for got, want in zip(vectors, expected, strict=True):
        assert np.allclose(got, want, atol=1e-5)
    assert len(calls) < len(texts)  # batched, not one call per text
    assert all(len(batch) <= 8 for batch in calls)
    assert [text for batch in calls for text in batch] == texts  # arrival order kept


async def test_error_reaches_only_the_callers_of_that_batch():
    async def encode(texts: list[str]) -> np.ndarray:
        await asyncio.sleep(0)
        if any("boom" in text for text in texts):
            raise RuntimeError("encoder failed")
        return np.array([[float(len(text))] for text in texts])

    batcher = MicroBatcher(encode, max_batch=1)
    results = await asyncio.gather(
        batcher.encode("fine"), batcher.encode("boom"), batcher.encode("also fine"),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0][0] == 4.0
    assert isinstance(results[1], RuntimeError)
    assert results[2][0] == 9.0


async def test_batcher_recovers_after_an_error():
    fail = True

    async def encode(texts: list[str]) -> np.ndarray:
        nonlocal fail
        if fail:
            fail = False
            raise RuntimeError("once")
        return np.ones((len(texts), 1))

    batcher = MicroBatcher(encode)
    with pytest.raises(RuntimeError):
        await batcher.encode("first")
    assert (await batcher.encode("second"))[0] == 1.0


async def test_repeated_question_is_served_from_cache(coach):
    first = await coach.reply("How do I do a clamshell?")
    cached = coach.vectors[coach.retriever.prepare("How do I do a clamshell?")]
    again = await coach.reply("  how do i do a CLAMSHELL?  ")
    assert again == first  # the one embedding is reused, not recomputed
    assert coach.vectors[coach.retriever.prepare("  how do i do a CLAMSHELL?  ")] is cached
    assert first.kind is ReplyKind.HOWTO


async def test_cache_keeps_different_questions_apart(coach):
    one = await coach.reply("wall sit")
    two = await coach.reply("glute bridge")
    assert one.sources[0].id == "wall-sit"
    assert two.sources[0].id == "glute-bridge"
