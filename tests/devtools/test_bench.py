"""The benchmark's measurements run against the real core (figures are the bench's business)."""

from __future__ import annotations

from bot.devtools.bench import concurrency, full_path, questions, raw_encode, repeated


async def test_each_measurement_runs_on_the_current_core(runtime) -> None:
    texts = questions(4)
    assert len(raw_encode(runtime, texts)) == len(texts)
    assert len(await full_path(runtime, texts)) == len(texts)
    mix = await repeated(runtime, texts, count=12)
    assert 0 < mix["hit_rate"] < 1
    crowd = await concurrency(runtime, texts, users=3, per_user=2)
    assert crowd["answers"] == 6
