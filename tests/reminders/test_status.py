"""`kneebot status` reads each dispatcher's heartbeat: down, failing and healthy all show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.reminders.status import status_line
from bot.storage.database import Database

NOW = datetime(2025, 6, 2, 7, 30, tzinfo=UTC)
LEASE = timedelta(seconds=15)


async def line(db: Database, now: datetime = NOW) -> tuple[str, bool]:
    return status_line(await db.process_health(now), await db.delivery_counts(), now)


async def test_no_heartbeat_reads_down(db: Database) -> None:
    text, healthy = await line(db)
    assert not healthy and text.startswith("reminders: DOWN")


async def test_a_failing_loop_reads_failing_with_its_error(db: Database) -> None:
    await db.heartbeat("a", NOW, LEASE, ok=True)
    await db.heartbeat("a", NOW, LEASE, ok=False, error="OperationalError: database is locked")
    await db.heartbeat("a", NOW, LEASE, ok=False, error="OperationalError: database is locked")
    text, healthy = await line(db)
    assert not healthy and "2 in a row" in text and "database is locked" in text


async def test_a_healthy_loop_reads_ok_and_a_lapsed_one_reads_down(db: Database) -> None:
    await db.heartbeat("a", NOW, LEASE)
    text, healthy = await line(db, NOW + timedelta(seconds=5))
    assert healthy and "1 dispatcher(s) alive" in text and "5 s ago" in text
    text, healthy = await line(db, NOW + timedelta(seconds=60))
    assert not healthy and "DOWN" in text
