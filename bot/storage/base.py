"""What every query family shares: the engine, a portable INSERT … ON CONFLICT, the user row."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.tables import users

P = ParamSpec("P")
T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


def runs_to_completion(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """A write that a cancel (a stop mid-fan-out) cannot cut short: it finishes, then the
    cancel goes on. A transaction cut mid-statement can keep SQLite's write lock until its
    connection is collected, and every other writer then waits out busy_timeout and fails."""

    @functools.wraps(method)
    async def whole(*args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.ensure_future(method(*args, **kwargs))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                await asyncio.wait([task])  # its result is the caller's to lose, not the lock
            raise

    return whole


class QueryFamily:
    """Base of the query mixins that make up Database; each family lives in its own module."""

    engine: AsyncEngine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _insert(self, table: sa.Table) -> Any:
        """INSERT with ON CONFLICT support: both SQLite and PostgreSQL spell it the same way."""
        module = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(table)

    async def _ensure_user(
        self, conn: AsyncConnection, user_id: int, chat_id: int | None = None
    ) -> None:
        """The user's row inside an open transaction; every family that writes per user needs it."""
        # In a private chat the chat id is the user id; a known chat id replaces the guess.
        insert = self._insert(users).values(
            user_id=user_id, chat_id=chat_id or user_id, timezone="UTC", created_at=utc_now()
        )
        if chat_id:
            insert = insert.on_conflict_do_update(
                index_elements=[users.c.user_id], set_={"chat_id": chat_id}
            )
        else:
            insert = insert.on_conflict_do_nothing(index_elements=[users.c.user_id])
        await conn.execute(insert)
