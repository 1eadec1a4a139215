"""`kneebot bench`: the answer path next to the cost of one embedding, both backends in one run."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.answering.index import build_index
from bot.answering.onnx_model import export_onnx
from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.devtools import evaluation
from bot.devtools.bench_table import render_table

USER_LEVELS = (1, 8, 32, 128)
BACKENDS = ("torch", "onnx")  # the reference first, then what serving uses


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {f"p{q}": round(percentile(ms, q), 2) for q in (50, 95, 99)} | {"n": len(ms)}


def questions(count: int) -> list[str]:
    """Distinct realistic questions: the labelled set, then numbered variants of it."""
    base = [q.q for q in evaluation.load_questions()]
    return [
        base[i % len(base)] + ("" if i < len(base) else f" ({i // len(base)})")
        for i in range(count)
    ]


def raw_encode(runtime: Runtime, texts: list[str]) -> list[float]:
    """(1) the floor: the model's encode of one question at a time."""
    samples = []
    for text in texts:
        started = time.perf_counter()
        runtime.embedder.encode([text])
        samples.append(time.perf_counter() - started)
    return samples


async def full_path(runtime: Runtime, texts: list[str]) -> list[float]:
    """(2) the whole core, one question at a time, the vector cache cleared so nothing is reused."""
    coach = runtime.coach
    samples = []
    for text in texts:
        coach.vectors.clear()
        started = time.perf_counter()
        await coach.reply(text)
        samples.append(time.perf_counter() - started)
    return samples


async def repeated(runtime: Runtime, texts: list[str], count: int) -> dict[str, object]:
    """(3) a Zipf-like mix where popular questions repeat: a repeat reuses its cached vector (the
    reply itself is composed again, since it depends on the conversation)."""
    coach = runtime.coach
    coach.vectors.clear()
    rng = random.Random(7)
    weights = [1 / (rank + 1) for rank in range(len(texts))]
    mix = rng.choices(texts, weights=weights, k=count)
    seen: set[str] = set()
    hits, misses = [], []
    for text in mix:
        started = time.perf_counter()
        await coach.reply(text)
        (hits if text in seen else misses).append(time.perf_counter() - started)
        seen.add(text)
    return {
        "cached": summary_ms(hits),
        "uncached": summary_ms(misses),
        "hit_rate": len(hits) / count,
    }


async def concurrency(runtime: Runtime, texts: list[str], users: int, per_user: int) -> dict:
    """(4) simulated users sending questions through the async core at once."""
    coach = runtime.coach
    coach.vectors.clear()
    latencies: list[float] = []
    lag = await _with_ticker(lambda: _users(coach.reply, texts, users, per_user, latencies))
    wall = lag.pop("wall")
    return {
        "users": users,
        "answers": len(latencies),
        "throughput_per_s": round(len(latencies) / wall, 1),
        "latency_ms": summary_ms(latencies),
        "loop_lag_max_ms": lag["max_ms"],
    }


async def _users(reply, texts: list[str], users: int, per_user: int, out: list[float]) -> None:
    async def user(number: int) -> None:
        for turn in range(per_user):
            text = texts[(number * per_user + turn) % len(texts)] + f" [{number}.{turn}]"
            started = time.perf_counter()
            await reply(text)
            out.append(time.perf_counter() - started)

    await asyncio.gather(*(user(n) for n in range(users)))


async def _with_ticker(work: Callable[[], Awaitable[None]]) -> dict[str, float]:
    """Run `work` beside a 10 ms ticker; report the worst extra delay the ticker saw."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - started - 0.01)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await work()
    wall = time.perf_counter() - started
    done.set()
    await task
    return {"max_ms": round(worst * 1000, 2), "wall": wall}


# Children report their own high-water mark (VmHWM): ru_maxrss survives fork+exec on Linux.
PEAK_RSS = "int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024"
HEAVY = (
    "sorted({m.split('.')[0] for m in sys.modules}"
    " & {'torch', 'sentence_transformers', 'sklearn', 'scipy'})"
)

# First answer timed; then 128 concurrent questions, so the peak RSS is that of a serving bot.
COLD_ANSWER = f"""
import asyncio, json, sys, time
t0 = time.perf_counter()
from bot.config import get_settings
from bot.app import build_runtime
coach = build_runtime(get_settings()).coach
reply = coach.reply_sync("why do my knees cave in when I squat?")
seconds = time.perf_counter() - t0
from bot.devtools.bench import questions
async def load():
    await asyncio.gather(*(coach.reply(q) for q in questions(128)))
asyncio.run(load())
print(json.dumps({{"seconds": seconds, "rss_mb": {PEAK_RSS}, "imported": {HEAVY}}}))
"""

BARE_MODEL = f"""
import json, sys, time
t0 = time.perf_counter()
from bot.config import get_settings
from bot.app import load_embedder
load_embedder(get_settings()).encode(["why do my knees cave in when I squat?"])
seconds = time.perf_counter() - t0
print(json.dumps({{"seconds": seconds, "rss_mb": {PEAK_RSS}, "imported": {HEAVY}}}))
"""


def cold_starts(settings: Settings, runs: int) -> dict[str, dict]:
    """(5)+(6) process start to first answer, next to a bare model load; best of `runs`.

    The backends take turns, run after run, so a busy moment of the machine hits both.
    """
    answers: dict[str, list[dict]] = {backend: [] for backend in BACKENDS}
    bares: dict[str, list[dict]] = {backend: [] for backend in BACKENDS}
    for _ in range(runs):
        for backend in BACKENDS:
            answers[backend].append(_child(COLD_ANSWER, settings, backend))
            bares[backend].append(_child(BARE_MODEL, settings, backend))
    return {backend: _best(answers[backend], bares[backend]) for backend in BACKENDS}


def _best(answers: list[dict], bares: list[dict]) -> dict[str, object]:
    answer = min(answers, key=lambda r: r["seconds"])
    bare = min(bares, key=lambda r: r["seconds"])
    return {
        "first_answer_s": round(answer["seconds"], 2),
        "bare_model_s": round(bare["seconds"], 2),
        "ratio": round(answer["seconds"] / bare["seconds"], 2),
        "serving_peak_rss_mb": round(max(r["rss_mb"] for r in answers), 1),
        "bare_model_peak_rss_mb": round(max(r["rss_mb"] for r in bares), 1),
        "serving_imported": sorted({name for r in answers for name in r["imported"]}),
    }


def _child(code: str, settings: Settings, backend: str) -> dict:
    env = os.environ | {
        "KNEEBOT_INDEX_DIR": str(settings.index_dir),
        "KNEEBOT_EMBED_BACKEND": backend,
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def fan_out(runtime: Runtime, subscribers: int) -> dict[str, object]:
    """(7) reminders due in the same minute, sent through HTTP to the local Bot API stub."""
    from collections import Counter

    from telegram import Bot

    from bot.devtools.botapi_stub import BotApiStub
    from bot.devtools.fanout import fan_out_benchmark
    from bot.storage.database import Database

    stub = BotApiStub()
    await stub.start()
    user_ids = range(1_000_000, 1_000_000 + subscribers)
    for user_id in user_ids:
        stub.chats[user_id] = {"id": user_id, "type": "private", "first_name": "U"}
    try:
        with tempfile.TemporaryDirectory() as directory:
            db = Database(f"sqlite+aiosqlite:///{directory}/bench.sqlite3")
            await db.migrate()
            bot = Bot(stub.token, f"{stub.url}/bot", f"{stub.url}/file/bot")
            async with bot:
                result = await fan_out_benchmark(
                    bot, db, runtime.kb, runtime.coach.composer, user_ids
                )
            await db.close()
    finally:
        await stub.stop()
    sends = Counter(call.chat_id for call in stub.calls if call.method == "sendMessage")
    return {
        "subscribers": subscribers,
        "delivered_once": sends == Counter(dict.fromkeys(user_ids, 1)),
        "seconds": round(result.plan_seconds + result.send_seconds, 2),
        "per_reminder_ms": round(result.per_reminder_ms, 3),
        "overhead_ms_per_reminder": round(result.overhead_per_reminder_ms or 0.0, 3),
        "chats_remembered_after": result.chats_remembered,
    }


def build_seconds(runtime: Runtime) -> dict[str, float]:
    """What `kneebot build-index` does: embed with the reference model, export ONNX once."""
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        build_index(runtime.kb, runtime.embedder, Path(directory))
        index_s = time.perf_counter() - started
        started = time.perf_counter()
        export_onnx(Path(directory))
        return {
            "index_s": round(index_s, 2),
            "onnx_export_s": round(time.perf_counter() - started, 2),
        }


async def _measure(runtimes: dict[str, Runtime], texts: list[str], quick: bool) -> dict:
    """(1)–(4) for every backend; the backends take turns at each step so noise hits both."""
    results: dict[str, dict] = {backend: {} for backend in runtimes}
    raw: dict[str, list[float]] = {backend: [] for backend in runtimes}
    full: dict[str, list[float]] = {backend: [] for backend in runtimes}
    for runtime in runtimes.values():
        await runtime.coach.reply("warm up the model and the caches")
    for text in texts:
        for backend, runtime in runtimes.items():
            raw[backend] += raw_encode(runtime, [text])
            full[backend] += await full_path(runtime, [text])
    for backend, runtime in runtimes.items():
        results[backend] = {
            "raw_encode_ms": summary_ms(raw[backend]),
            "full_answer_ms": summary_ms(full[backend]),
            "full_to_raw_p50": round(
                percentile(full[backend], 50) / percentile(raw[backend], 50), 2
            ),
            "repeated": await repeated(runtime, texts[:150], 600 if quick else 2000),
            "concurrency": [],
        }
    for users in USER_LEVELS:
        for backend, runtime in runtimes.items():
            level = await concurrency(runtime, texts, users, 4 if quick else 8)
            results[backend]["concurrency"].append(level)
    for measured in results.values():
        one_user = measured["concurrency"][0]["throughput_per_s"]
        for level in measured["concurrency"]:
            level["speedup_vs_1"] = round(level["throughput_per_s"] / one_user, 2)
    return results


def run_bench(settings: Settings, quick: bool, output: Path) -> dict[str, object]:
    """Every measurement for both backends, printed as a table and written to `output` as JSON."""
    runtimes = {
        backend: build_runtime(settings.model_copy(update={"embed_backend": backend}))
        for backend in BACKENDS
    }
    texts = questions(200 if quick else 400)
    results: dict[str, object] = {"machine": _machine(), "quick": quick}
    results |= asyncio.run(_measure(runtimes, texts, quick))
    for backend, cold in cold_starts(settings, runs=1 if quick else 3).items():
        results[backend]["cold_start"] = cold
    results["build"] = build_seconds(runtimes["torch"])
    results["fan_out"] = asyncio.run(fan_out(runtimes["onnx"], 1_000 if quick else 10_000))
    results["bench_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(render_table(results))
    print(f"\nwritten: {output}")
    return results


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
