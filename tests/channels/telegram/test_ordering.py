"""Updates from different users run concurrently; one user's updates run one at a time, in order."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Update

from bot.channels.telegram.ordering import PerUserOrder, order_key


def message_update(update_id: int, user_id: int, chat_id: int | None = None) -> Update:
    chat_id = chat_id or user_id
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": {"id": user_id, "is_bot": False, "first_name": "A"},
                "text": "hi",
            },
        },
        None,
    )


async def test_one_users_updates_run_in_arrival_order_even_when_the_first_is_slow() -> None:
    processor = PerUserOrder()
    events: list[str] = []

    async def handle(name: str, pause: float) -> None:
        events.append(f"start {name}")
        await asyncio.sleep(pause)
        events.append(f"end {name}")

    async with processor:
        await asyncio.gather(
            processor.process_update(message_update(1, 7), handle("first", 0.05)),
            processor.process_update(message_update(2, 7), handle("second", 0)),
            processor.process_update(message_update(3, 7), handle("third", 0)),
        )
    assert events == [
        "start first",
        "end first",
        "start second",
        "end second",
        "start third",
        "end third",
    ]


async def test_different_users_run_concurrently() -> None:
    processor = PerUserOrder()
    other_started = asyncio.Event()

    async def waits_for_other() -> None:
        await other_started.wait()  # would deadlock if user 2 had to wait for user 1

    async def signals() -> None:
        other_started.set()

    async with processor, asyncio.timeout(5):
        await asyncio.gather(
            processor.process_update(message_update(1, 1), waits_for_other()),
            processor.process_update(message_update(2, 2), signals()),
        )


async def test_same_user_in_two_chats_is_not_serialised() -> None:
    assert order_key(message_update(1, 7)) != order_key(message_update(2, 7, chat_id=-100))


async def test_locks_are_released_when_a_user_goes_quiet() -> None:
    processor = PerUserOrder()

    async def boom() -> None:
        raise RuntimeError("handler failed")

    async def fine() -> None:
        return None

    async with processor:
        await processor.process_update(message_update(1, 1), fine())
        with pytest.raises(RuntimeError):
            await processor.process_update(message_update(2, 2), boom())
    assert processor._locks == {}  # one lock per active user only: memory stays flat


def test_updates_without_a_user_or_chat_are_not_serialised() -> None:
    assert order_key(Update(5)) is None  # e.g. a poll's state: nobody to keep in order
    assert order_key("not an update") is None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_one_users_updates_run_one_at_a_time_across_two_replicas(
    empty_database_url: str,
) -> None:
    """Two processors (two replicas) on one PostgreSQL database never overlap a user's updates."""
    from bot.channels.telegram.ordering import UserLeases
    from bot.storage.database import Database

    first_db, second_db = Database(empty_database_url), Database(empty_database_url)
    await first_db.migrate()
    replicas = [PerUserOrder(), PerUserOrder()]
    replicas[0].shared, replicas[1].shared = UserLeases(first_db), UserLeases(second_db)
    running: list[int] = []
    overlaps = 0

    async def handle(update_id: int) -> None:
        nonlocal overlaps
        running.append(update_id)
        overlaps += len(running) > 1
        await asyncio.sleep(0.05)
        running.remove(update_id)

    async with replicas[0], replicas[1]:
        await asyncio.gather(
            *(replicas[n % 2].process_update(message_update(n, 7), handle(n)) for n in range(10))
        )
    await first_db.close()
    await second_db.close()
    assert overlaps == 0 and running == []
