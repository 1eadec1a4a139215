"""The fault bench in small: a SIGKILLed worker behind a faulty proxy loses and doubles nothing.

Real everything: worker subprocesses running the production dispatcher and sender, the fault
proxy in front of the HTTP Bot API stub, SQLite and PostgreSQL. `kneebot bench --faults` runs
the same with 1,000 users and every scenario.
"""

from __future__ import annotations

from bot.devtools.faultbench import Scenario, run_scenario
from bot.devtools.faultproxy import FaultPlan

USERS = 150


async def test_sigkill_mid_dispatch_with_faults_before_and_after_the_request(
    empty_database_url: str,
) -> None:
    plan = FaultPlan(rates={"429": 0.03, "5xx": 0.05, "reset_after": 0.03, "delay": 0.02})
    scenario = Scenario("SIGKILL mid-dispatch", plan, kill_after=USERS // 3)
    result = await run_scenario(scenario, empty_database_url, USERS, rate=200.0, timeout=90)
    assert result.kills == 1 and result.silent_deaths == 0
    assert result.doubled == 0 and result.lost == 0
    assert result.unknown <= result.ambiguous_injected  # resets, delays, sends cut by the kill
    assert result.once + result.unknown - result.unknown_delivered == USERS
