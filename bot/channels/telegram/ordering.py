"""Concurrent updates, but each user's updates in a chat handled one at a time, in order.

Within a process a per-key asyncio lock keeps order. Across replicas on one PostgreSQL database
(webhook behind a load balancer) a per-key lease row in the database also makes a user's
updates run one at a time, whichever replica received them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Hashable
from datetime import timedelta

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.clock import utc_now
from bot.storage.database import Database, new_owner_token

MAX_CONCURRENT_UPDATES = 256
LEASE_HOLD = timedelta(seconds=60)  # longer than any one update; lapses if the holder dies
LEASE_POLL_SECONDS = 0.05


def order_key(update: object) -> Hashable | None:
    """Updates with the same key are serialised: one user in one chat."""
    if not isinstance(update, Update):
        return None
    chat = update.effective_chat
    user = update.effective_user
    if chat is None and user is None:
        return None
    return (chat.id if chat else None, user.id if user else None)


class PerUserOrder(BaseUpdateProcessor):
    """Different users run concurrently; one user's messages wait for the previous one.

    PTB starts update tasks in arrival order and asyncio.Lock wakes waiters first-in first-out,
    so a per-key lock keeps a user's replies in the order they wrote.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: Counter[Hashable] = Counter()
        self.shared: UserLeases | None = None  # set when replicas share a PostgreSQL database

    async def do_process_update(self, update: object, coroutine: Awaitable[object]) -> None:
        key = order_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                if self.shared is None:
                    await coroutine
                else:
                    async with self.shared.hold(key):
                        await coroutine
        finally:
            self._release(key)

    def _release(self, key: Hashable) -> None:
        """Forget a key's lock once nobody holds or waits for it, so the dict stays small."""
        self._users[key] -= 1
        if self._users[key] <= 0:
            del self._users[key]
            self._locks.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class UserLeases:
    """One replica at a time per user: a lease row named after the key, polled until free."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.owner = new_owner_token()

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        name = f"user:{key}"[:64]
        while not await self.db.take_lease(name, self.owner, utc_now(), LEASE_HOLD):
            await asyncio.sleep(LEASE_POLL_SECONDS)
        try:
            yield
        finally:
            await asyncio.shield(self.db.drop_lease(name, self.owner))
