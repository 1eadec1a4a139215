"""`kneebot bench --faults`: reminders through a fault-injecting proxy, counted at the Bot API.

The bench process hosts the Bot API stub and the FaultProxy; dispatchers run as worker
subprocesses (`python -m bot.devtools.faultbench worker …`) so they can be SIGKILLed mid-dispatch
and replaced, as a crashed replica would be. Every user is due at the same minute; each worker's
clock runs from that minute in real time (shared wall-clock epoch), so retries and takeovers
happen at their real pace. At the end each user's reminder is judged from the stub's record:
delivered once, doubled, lost, or lost-but-recorded-`unknown` (the honest ambiguous case).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.devtools.faultproxy import FaultPlan, FaultProxy

FINAL = ("sent", "unknown", "failed", "missed", "blocked", "cancelled")
CHAT_LANE = range(10**9, 10**9 + 20)  # chats the reply lane talks to, never subscribers
LEASE_SECONDS = 3.0  # workers' heartbeat lease: a SIGKILLed worker's claims move after this


@dataclass
class Scenario:
    name: str
    plan: FaultPlan = field(default_factory=FaultPlan)
    kill_after: int | None = None  # SIGKILL a worker once this many reminders arrived
    kill_in_storm: bool = False  # ... or as soon as a 429 storm has begun
    workers: int = 1
    chat_lane: bool = False  # worker 0 also sends chat replies and reports their latency


@dataclass
class ScenarioResult:
    scenario: str
    backend: str
    users: int
    once: int
    doubled: int
    lost: int  # not delivered and not recorded unknown
    unknown: int  # recorded unknown (not resent, counted in the metric)
    unknown_delivered: int  # of those, how many had in fact arrived
    ambiguous_injected: int
    faults: dict[str, int]
    kills: int
    silent_deaths: int  # workers that died unasked, or rows never settled
    seconds: float
    chat_p99_ms: float | None = None
    killed_in_flight: int = 0  # sends in flight at the SIGKILL (counted as ambiguous faults)

    def as_dict(self) -> dict:
        return asdict(self)


def standard_scenarios(users: int) -> list[Scenario]:
    """The issue's list: faults before and after the request, SIGKILL, SIGKILL in a 429 storm."""
    # A 429 pauses all sending for retry_after (as Telegram means it), so 429s are kept rare
    # here and the 40 s storm of the issue is a 10 s one: the semantics, not the wait, matter.
    mixed = {"429": 0.005, "5xx": 0.03, "reset_before": 0.01, "reset_after": 0.01, "delay": 0.01}
    before = FaultPlan(rates={"429": 0.01, "5xx": 0.08}, retry_after=1)
    return [
        Scenario("faults before the request", before),
        Scenario("faults after the request", FaultPlan(rates={"reset_after": 0.03, "delay": 0.02})),
        Scenario(
            "mixed faults + outage", FaultPlan(rates=mixed, outages=[(1.0, 4.0)], retry_after=1)
        ),
        Scenario(
            "SIGKILL mid-dispatch",
            FaultPlan(rates=mixed, retry_after=1),
            kill_after=users // 3,
        ),
        Scenario(
            "SIGKILL during a 429 storm",
            FaultPlan(storms=[(1.0, 11.0)], retry_after=2),
            kill_in_storm=True,
        ),
    ]


async def run_scenario(
    scenario: Scenario,
    database_url: str,
    users: int,
    rate: float = 400.0,
    timeout: float = 240.0,
) -> ScenarioResult:
    """One scenario against a fresh database at `database_url`."""
    from bot.devtools.botapi_stub import BotApiStub

    await _subscribe(database_url, users)
    stub = await BotApiStub().start()
    for chat_id in [*range(1, users + 1), *CHAT_LANE]:
        stub.chats[chat_id] = {"id": chat_id, "type": "private", "first_name": "U"}
    proxy = await FaultProxy(stub.url, scenario.plan).start()
    epoch = time.time()
    started = time.monotonic()
    spawn = _spawner(database_url, proxy.url, stub.token, epoch, rate)
    workers = [spawn(i, scenario.chat_lane and i == 0) for i in range(scenario.workers)]
    kills = in_flight = 0
    try:
        kills, unsettled, in_flight = await _supervise(
            scenario, database_url, stub, proxy, workers, spawn, timeout
        )
    finally:
        silent = sum(1 for w in workers if w.process.poll() not in (None, 0, -signal.SIGKILL))
        for worker in workers:
            worker.stop()
        await proxy.stop()
        await stub.stop()
    seconds = time.monotonic() - started
    unknown = await _unknown_users(database_url)
    result = _judge(scenario, database_url, users, stub, proxy, unknown, kills,
                    silent + unsettled, seconds, workers)  # fmt: skip
    result.ambiguous_injected += in_flight
    result.killed_in_flight = in_flight
    return result


@dataclass
class Worker:
    process: subprocess.Popen
    report: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _spawner(url: str, api: str, token: str, epoch: float, rate: float) -> Callable:
    def spawn(index: int, chat_lane: bool = False) -> Worker:
        report = Path(tempfile.mkstemp(prefix=f"kneebot-worker{index}-", suffix=".json")[1])
        command = [sys.executable, "-m", "bot.devtools.faultbench", "worker", url, api, token]
        command += [str(epoch), str(rate), str(report), "1" if chat_lane else "0"]
        log = open(report.with_suffix(".log"), "w")  # noqa: SIM115 - lives as long as the worker
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ)
        return Worker(process, report)

    return spawn


async def _supervise(
    scenario: Scenario,
    url: str,
    stub,
    proxy: FaultProxy,
    workers: list[Worker],
    spawn: Callable,
    timeout: float,
) -> tuple[int, int, int]:
    """Wait until every delivery is settled; kill and replace a worker when the scenario says."""
    deadline = time.monotonic() + timeout
    kills = in_flight = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        arrived = sum(1 for call in stub.calls if call.method == "sendMessage" and call.ok)
        storming = proxy.counts()["429"] >= 5
        if kills == 0 and (
            (scenario.kill_after is not None and arrived >= scenario.kill_after)
            or (scenario.kill_in_storm and storming)
        ):
            workers[0].process.kill()  # SIGKILL: no clean-up of any kind
            workers[0].process.wait()
            kills += 1
            # Rows it left 'sending' were in flight: as ambiguous as a lost answer.
            in_flight += (await _statuses(url)).get("sending", 0)
            workers.append(spawn(len(workers)))
        statuses = await _statuses(url)
        if statuses and all(status in FINAL for status in statuses):
            return kills, 0, in_flight
    statuses = await _statuses(url)
    return kills, sum(n for status, n in statuses.items() if status not in FINAL), in_flight


def _judge(scenario, url, users, stub, proxy, unknown, kills, silent, seconds, workers):
    arrived = Counter(
        call.chat_id
        for call in stub.calls
        if call.method == "sendMessage" and call.ok and call.chat_id not in CHAT_LANE
    )
    once = sum(1 for user in range(1, users + 1) if arrived[user] == 1)
    doubled = sum(1 for user in range(1, users + 1) if arrived[user] > 1)
    missing = [user for user in range(1, users + 1) if arrived[user] == 0]
    # "Once" means each user's reminder arrived; a reminder is one message for these users.
    lost = sum(1 for user in missing if user not in unknown)
    latencies = []
    for worker in workers:
        if worker.report.exists() and worker.report.stat().st_size:
            latencies += json.loads(worker.report.read_text()).get("chat_ms", [])
    return ScenarioResult(
        scenario=scenario.name,
        backend=url.split(":", 1)[0].split("+")[0],
        users=users,
        once=once,
        doubled=doubled,
        lost=lost,
        unknown=len(unknown),
        unknown_delivered=sum(1 for user in unknown if arrived[user] > 0),
        ambiguous_injected=proxy.ambiguous(),
        faults=dict(proxy.counts()),
        kills=kills,
        silent_deaths=silent,
        seconds=round(seconds, 1),
        chat_p99_ms=_p99(latencies),
    )


def _p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1)


# -- database helpers (each opens its own short-lived engine) ---------------------------------


async def _subscribe(url: str, users: int) -> None:
    from bot.devtools.fanout import subscribe_many
    from bot.storage.database import Database

    db = Database(url)
    try:
        await db.migrate()
        await subscribe_many(db, range(1, users + 1))
    finally:
        await db.close()


async def _statuses(url: str) -> dict[str, int]:
    from bot.storage.database import Database

    db = Database(url)
    try:
        return await db.delivery_counts()
    finally:
        await db.close()


async def _unknown_users(url: str) -> set[int]:
    from bot.storage.database import Database

    db = Database(url)
    try:
        return await db.users_with_status("unknown")
    finally:
        await db.close()


# -- the worker process -----------------------------------------------------------------------


async def worker_main(
    url: str, api: str, token: str, epoch: float, rate: float, report: Path, chat_lane: bool
) -> None:
    """One dispatcher with the production sender, until SIGTERM; writes its report at the end."""
    from telegram import Bot
    from telegram.ext import ExtBot

    from bot.channels.telegram.pacing import ReplyLimiter
    from bot.channels.telegram.reminders import make_sender, reminder_request
    from bot.compose import Composer
    from bot.config import Settings
    from bot.devtools.fanout import FIRE
    from bot.knowledge import load_knowledge
    from bot.reminders.commands import Subscriptions
    from bot.reminders.dispatcher import DispatchConfig, Dispatcher
    from bot.storage.database import Database

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()
    start = FIRE + timedelta(seconds=5)
    clock = lambda: start + timedelta(seconds=time.time() - epoch)  # noqa: E731
    db = Database(url)
    kb = load_knowledge(settings.knowledge_dir)
    subs = Subscriptions(db, kb, Composer(settings.prompts_dir), clock=clock)
    config = DispatchConfig(
        rate_overall=rate,
        rate_per_chat=rate,
        batch=50,
        lease=timedelta(seconds=LEASE_SECONDS),
        poll_seconds=1.0,
    )
    bot = Bot(token, f"{api}/bot", f"{api}/file/bot", request=reminder_request(config.in_flight))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    latencies: list[float] = []
    dispatcher = Dispatcher(db, make_sender(bot, subs), clock, config)
    async with bot:
        tasks = [asyncio.create_task(dispatcher.run(stop))]
        if chat_lane:
            replies = ExtBot(token, f"{api}/bot", rate_limiter=ReplyLimiter(30.0, 1.0, 2))
            await replies.initialize()
            tasks.append(asyncio.create_task(_chat_lane(replies, stop, latencies)))
        await stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
    await db.close()
    report.write_text(json.dumps({"chat_ms": latencies, "unknown": dispatcher.totals.unknown}))


async def _chat_lane(bot, stop: asyncio.Event, latencies: list[float]) -> None:
    """Ten chat replies a second over twenty chats, on the reply budget, each timed."""
    for turn in range(10**9):
        if stop.is_set():
            return
        began = time.perf_counter()
        await bot.send_message(CHAT_LANE[turn % len(CHAT_LANE)], "reply")
        latencies.append(1000 * (time.perf_counter() - began))
        await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - began)))


# -- the whole bench -------------------------------------------------------------------------


def run_fault_bench(settings, users: int, output: Path) -> list[dict]:
    """Every scenario on SQLite and PostgreSQL, then two replicas on PostgreSQL with 10,000."""
    return asyncio.run(_all(users, output))


async def _all(users: int, output: Path) -> list[dict]:
    from bot.devtools.pgserver import running_postgres

    results: list[dict] = []
    with running_postgres() as server, tempfile.TemporaryDirectory() as scratch:
        for backend in ("sqlite", "postgresql"):
            for number, scenario in enumerate(standard_scenarios(users)):
                if backend == "sqlite":
                    url = f"sqlite+aiosqlite:///{scratch}/bench{number}.sqlite3"
                else:
                    url = await server.fresh_database()
                results.append(await _report(scenario, url, users))
        replicas = Scenario("two replicas, 10,000 due", workers=2, chat_lane=True)
        results.append(await _report(replicas, await server.fresh_database(), 10_000, 150.0))
        output.write_text(json.dumps(results, indent=2))
    return results


async def _report(scenario: Scenario, url: str, users: int, rate: float = 400.0) -> dict:
    result = (await run_scenario(scenario, url, users, rate=rate)).as_dict()
    print(_line(result), flush=True)
    return result


def _line(r: dict) -> str:
    chat = f" chat p99 {r['chat_p99_ms']} ms" if r["chat_p99_ms"] is not None else ""
    return (
        f"{r['backend']:10} {r['scenario']:28} users {r['users']:5}: once {r['once']}, "
        f"doubled {r['doubled']}, lost {r['lost']}, unknown {r['unknown']} "
        f"(arrived {r['unknown_delivered']}; ambiguous faults {r['ambiguous_injected']}), "
        f"kills {r['kills']}, silent deaths {r['silent_deaths']}, {r['seconds']} s{chat}"
    )


def main(argv: list[str]) -> None:
    if argv[:1] == ["worker"]:
        url, api, token, epoch, rate, report, lane = argv[1:8]
        asyncio.run(
            worker_main(url, api, token, float(epoch), float(rate), Path(report), lane == "1")
        )


if __name__ == "__main__":
    main(sys.argv[1:])
