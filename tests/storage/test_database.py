"""Storage on a real SQLite file: migrations, the profile API, the atomic claim, /forget."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.config import Settings
from bot.storage.checks import SelfCheck
from bot.storage.database import Database, DatabaseDamaged, alembic_config
from bot.storage.records import (
    CLAIMED,
    DONE,
    PENDING,
    SENT,
    SKIPPED,
    UNKNOWN,
    ConversationState,
    Outcome,
    PlannedDelivery,
    ScheduleMove,
    Scope,
    StaleDraft,
)
from bot.storage.tables import USER_TABLES, metadata

NOW = datetime(2025, 6, 2, 7, 30, tzinfo=UTC)


async def queue(db: Database, user_id: int, day: date, due: datetime = NOW) -> None:
    """A due daily delivery for a user, through the same path the planner uses."""
    await db.save_schedule(user_id, user_id, "07:30", 127, due, day)
    planned = PlannedDelivery(user_id, user_id, day, "daily", due)
    await db.plan([(planned, ScheduleMove(user_id, due, due + timedelta(days=1), day))])


async def test_the_data_dir_is_created_and_migrating_twice_is_harmless(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    database = Database.from_settings(Settings(KNEEBOT_DATA_DIR=data_dir))
    await database.migrate()
    await database.migrate()
    await database.close()
    assert (data_dir / "kneebot.sqlite3").is_file()


async def test_the_migration_creates_exactly_the_declared_schema(db: Database) -> None:
    def differences(connection: sa.Connection) -> list:
        return compare_metadata(MigrationContext.configure(connection), metadata)

    async with db.engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).one()
    assert version[0] == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_profile_and_draft_round_trip(db: Database) -> None:
    answers = {"signs": ["feet-flat"], "note": "<b>{{ x }}</b> ü"}
    routine = {"items": [{"exercise_id": "clamshell"}]}
    assert await db.load_profile(42) is None
    await db.save_profile(42, answers, routine)
    await db.save_profile(42, answers, {"items": []})
    assert await db.load_profile(42) == (answers, {"items": []})
    await db.save_draft(42, "kit", {"pain": ["none"]})
    assert await db.load_draft(42) == ("kit", {"pain": ["none"]})
    await db.clear_draft(42)
    assert await db.load_draft(42) is None


async def test_a_new_user_defaults_to_utc_and_keeps_the_timezone_set(db: Database) -> None:
    user = await db.ensure_user(7, chat_id=7)
    assert user.timezone == "UTC"
    await db.set_timezone(7, "Europe/Berlin")
    assert (await db.get_user(7)).timezone == "Europe/Berlin"


async def test_forget_leaves_no_row_about_the_user_in_any_table(db: Database) -> None:
    await db.save_profile(9, {"a": 1}, {"b": 2})
    await db.save_draft(9, "pain", {})
    await queue(db, 9, date(2025, 6, 2))
    await db.record_session(9, date(2025, 6, 2), DONE)
    await db.save_check(9, SelfCheck(date(2025, 6, 2), "slight", "none", 2))
    await db.set_prefs(9, rest_day_notes=True)
    await db.save_conversation(9, ConversationState(topic="flat-feet"), 0, datetime.now(UTC))
    await db.save_profile(10, {"a": 1}, {"b": 2})  # someone else
    assert all(await db.rows_about(9))
    removed = await db.forget_user(9)
    assert removed == len(USER_TABLES)
    assert set((await db.rows_about(9)).values()) == {0}
    assert await db.load_profile(10) is not None


async def test_a_session_is_recorded_once_and_a_done_is_never_undone(db: Database) -> None:
    day = date(2025, 6, 2)
    assert await db.record_session(3, day, DONE) is True
    assert await db.record_session(3, day, DONE) is False
    assert await db.session_history(3, day) == {day: DONE}
    assert await db.record_session(3, day, SKIPPED) is False  # a later Skip does not undo it
    assert await db.session_history(3, day - timedelta(days=5)) == {day: DONE}
    with pytest.raises(ValueError):
        await db.record_session(3, day, "maybe")


async def test_done_after_skip_upgrades_the_day_and_skip_twice_counts_once(db: Database) -> None:
    day = date(2025, 6, 3)
    assert await db.record_session(4, day, SKIPPED) is True
    assert await db.record_session(4, day, SKIPPED) is False
    assert await db.session_history(4, day) == {day: SKIPPED}
    assert await db.record_session(4, day, DONE) is True
    assert await db.record_session(4, day, SKIPPED) is False
    assert await db.session_history(4, day) == {day: DONE}


async def test_planning_the_same_fire_twice_queues_one_delivery(db: Database) -> None:
    day = date(2025, 6, 2)
    await db.save_schedule(5, 5, "07:30", 127, NOW, day)
    step = (PlannedDelivery(5, 5, day, "daily", NOW), ScheduleMove(5, NOW, NOW + timedelta(1), day))
    assert await db.plan([step]) == 1
    assert await db.plan([step]) == 0  # the schedule moved on: a second planner queues nothing
    assert await db.delivery_counts() == {PENDING: 1}


async def test_a_stopped_schedule_is_not_planned(db: Database) -> None:
    day = date(2025, 6, 2)
    await db.save_schedule(5, 5, "07:30", 127, NOW, day)
    due = await db.due_schedules(NOW, 10)
    await db.disable_schedule(5, "stopped")
    planned = PlannedDelivery(5, 5, day, "daily", NOW)
    assert await db.plan([(planned, ScheduleMove(5, NOW, None, None))]) == 0
    assert [s.user_id for s in due] == [5] and await db.due_schedules(NOW, 10) == []


async def test_two_processes_claiming_at_once_never_share_a_row(db: Database) -> None:
    first, second = db, Database(db.url)
    for user_id in range(1, 201):
        await queue(first, user_id, date(2025, 6, 2))

    async def drain(db: Database, owner: str) -> list[int]:
        await db.heartbeat(owner, NOW, timedelta(minutes=1))  # alive: its claims stay its own
        await both_connected.wait()
        taken: list[int] = []
        while batch := await db.claim_deliveries(owner, NOW, 3):
            taken += [d.id for d in batch]
            # A pause between claims, as sending takes: SQLite's busy handler backs off for up
            # to 100 ms, and without it one process could drain everything while the other waits.
            await asyncio.sleep(0.005)
        return taken

    both_connected = asyncio.Barrier(2)
    a, b = await asyncio.gather(drain(first, "a"), drain(second, "b"))
    await second.close()
    assert not set(a) & set(b)
    assert len(a) + len(b) == 200 and a and b


async def test_a_claim_is_taken_over_once_its_owner_stops_heartbeating_never_once_sending(
    db: Database,
) -> None:
    await queue(db, 1, date(2025, 6, 2))
    await queue(db, 2, date(2025, 6, 2))
    await db.heartbeat("dead", NOW, timedelta(seconds=15))
    first, second = await db.claim_deliveries("dead", NOW, 10)
    assert await db.mark_sending([first.id], "dead") == {first.id}
    while_alive = NOW + timedelta(seconds=10)
    assert await db.claim_deliveries("alive", while_alive, 10) == []
    assert await db.abandon_dead_sends(while_alive) == []
    lapsed = NOW + timedelta(seconds=16)  # seconds after the last heartbeat, not minutes
    taken = await db.claim_deliveries("alive", lapsed, 10)
    assert [d.id for d in taken] == [second.id]  # the one mid-send is never taken over
    assert await db.mark_sending([second.id], "dead") == set()  # the dead owner lost its claim
    abandoned = await db.abandon_dead_sends(lapsed)
    assert [d.id for d in abandoned] == [first.id]
    assert (await db.get_delivery(first.id)).status == UNKNOWN


async def test_a_claim_cancelled_mid_statement_still_ends_its_transaction(db: Database) -> None:
    for user_id in (1, 2, 3):
        await queue(db, user_id, date(2025, 6, 2))
    claiming = asyncio.create_task(db.claim_deliveries("me", NOW, 10))
    await asyncio.sleep(0.001)  # the UPDATE is on its way to the database
    claiming.cancel()
    with pytest.raises(asyncio.CancelledError):
        await claiming
    # The claim finished (the stop path hands such rows back), and the write lock is free again.
    assert await db.delivery_counts() == {CLAIMED: 3}
    await asyncio.wait_for(db.release_all("me"), timeout=5)
    assert await db.delivery_counts() == {PENDING: 3}


async def test_stop_cancels_claimed_rows_so_their_owner_never_sends_them(db: Database) -> None:
    await queue(db, 1, date(2025, 6, 2))
    (claimed,) = await db.claim_deliveries("me", NOW, 10)
    await db.disable_schedule(1, "stopped")
    assert await db.mark_sending([claimed.id], "me") == set()
    assert (await db.get_delivery(claimed.id)).status == "cancelled"


async def test_planning_counts_queued_rows_on_every_backend(db: Database) -> None:
    day = date(2025, 6, 2)
    steps = []
    for user_id in (1, 2, 3):
        await db.save_schedule(user_id, user_id, "07:30", 127, NOW, day)
        planned = PlannedDelivery(user_id, user_id, day, "daily", NOW)
        steps.append((planned, ScheduleMove(user_id, NOW, NOW + timedelta(days=1), day)))
    assert await db.plan(steps) == 3  # asyncpg reports no count for a multi-row execute
    assert await db.plan(steps) == 0  # already queued (and the schedules moved on)


async def test_a_draft_saved_from_a_stale_read_is_refused(db: Database) -> None:
    first = await db.save_draft(7, "pain", {}, version=0)
    assert await db.load_draft_versioned(7) == ("pain", {}, first)
    await db.save_draft(7, "signs", {"pain": ["none"]}, version=first)  # one replica wins
    with pytest.raises(StaleDraft):
        await db.save_draft(7, "goals", {}, version=first)  # the other read the old version
    with pytest.raises(StaleDraft):
        await db.save_draft(7, "pain", {}, version=0)  # "no draft yet" is stale too
    assert (await db.load_draft(7))[0] == "signs"


async def test_a_lease_has_one_holder_until_it_lapses(db: Database) -> None:
    hold = timedelta(seconds=30)
    assert await db.take_lease("polling", "a", NOW, hold)
    assert not await db.take_lease("polling", "b", NOW + timedelta(seconds=10), hold)
    assert await db.take_lease("polling", "a", NOW + timedelta(seconds=20), hold)  # renewed
    assert not await db.take_lease("polling", "b", NOW + timedelta(seconds=45), hold)
    assert await db.take_lease("polling", "b", NOW + timedelta(seconds=51), hold)  # lapsed


async def test_finish_records_sent_and_requeues_a_retry(db: Database) -> None:
    await queue(db, 1, date(2025, 6, 2))
    await queue(db, 2, date(2025, 6, 2))
    one, two = await db.claim_deliveries("me", NOW, 10)
    assert await db.mark_sending([one.id, two.id], "me") == {one.id, two.id}
    retry_at = NOW + timedelta(seconds=30)
    await db.finish(
        [Outcome(one.id, SENT, message_id=77), Outcome(two.id, PENDING, due_at=retry_at)], "me"
    )
    sent, retried = await db.get_delivery(one.id), await db.get_delivery(two.id)
    assert (sent.status, retried.status, retried.due_at) == (SENT, PENDING, retry_at)
    assert await db.claim_deliveries("me", NOW, 10) == []
    assert [d.id for d in await db.claim_deliveries("me", retry_at, 10)] == [two.id]
    assert (await db.get_delivery(two.id)).status == CLAIMED


async def test_release_hands_unstarted_claims_back(db: Database) -> None:
    await queue(db, 1, date(2025, 6, 2))
    (claimed,) = await db.claim_deliveries("me", NOW, 10)
    await db.release([claimed.id], "me")
    assert (await db.get_delivery(claimed.id)).status == PENDING


async def test_a_scope_keeps_console_and_telegram_users_apart(db: Database) -> None:
    await queue(db, 0, date(2025, 6, 2))
    await queue(db, 1, date(2025, 6, 2))
    telegram = await db.claim_deliveries("tg", NOW, 10, Scope(skip=0))
    console = await db.claim_deliveries("console", NOW, 10, Scope(only=0))
    assert [d.user_id for d in telegram] == [1] and [d.user_id for d in console] == [0]


async def test_next_due_is_the_earliest_fire_or_queued_row(db: Database) -> None:
    assert await db.next_due() is None
    await db.save_schedule(1, 1, "07:30", 127, NOW + timedelta(hours=3), date(2025, 6, 2))
    assert await db.next_due() == NOW + timedelta(hours=3)
    await queue(db, 2, date(2025, 6, 2), due=NOW + timedelta(hours=1))
    assert await db.next_due() == NOW + timedelta(hours=1)


async def test_times_come_back_as_aware_utc(db: Database) -> None:
    berlin_time = datetime(2025, 6, 2, 9, 30, tzinfo=UTC).astimezone()
    await db.save_schedule(1, 1, "09:30", 127, berlin_time, date(2025, 6, 2))
    schedule = await db.get_schedule(1)
    assert schedule.next_fire_at == berlin_time and schedule.next_fire_at.tzinfo == UTC


async def test_a_database_file_with_scrambled_pages_is_a_clear_start_up_error(
    tmp_path: Path,
) -> None:
    settings = Settings(KNEEBOT_DATA_DIR=tmp_path)
    database = Database.from_settings(settings)
    await database.migrate()
    for user_id in range(1, 400):
        await queue(database, user_id, date(2025, 6, 2))
    await database.close()
    path = tmp_path / "kneebot.sqlite3"
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    raw = bytearray(path.read_bytes())
    page = 4096
    assert len(raw) > 6 * page
    raw[2 * page : 5 * page] = bytes(reversed(raw[2 * page : 5 * page]))  # header page intact
    path.write_bytes(bytes(raw))
    damaged = Database.from_settings(settings)
    with pytest.raises(DatabaseDamaged, match="damaged"):
        await damaged.migrate()
    await damaged.close()


async def test_a_start_waits_for_another_process_holding_a_new_file(tmp_path: Path) -> None:
    import sqlite3
    import threading

    path = tmp_path / "kneebot.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE elsewhere (x)")
    other.execute("BEGIN EXCLUSIVE")  # a replica mid-write, before the file is WAL
    threading.Timer(0.5, lambda: other.execute("COMMIT")).start()
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()  # switching to WAL waits for the lock instead of "locked"
    assert await database.delivery_counts() == {}
    await database.close()
    other.close()
