"""Concurrent updates, but each user's updates in a chat handled one at a time, in order."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Hashable

from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT_UPDATES = 256


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

    async def do_process_update(self, update: object, coroutine: Awaitable[object]) -> None:
        key = order_key(update)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
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
