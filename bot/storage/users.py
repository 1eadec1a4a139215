"""Users: first contact, timezone, and forgetting everything about one user."""

from __future__ import annotations

import sqlalchemy as sa

from bot.storage.base import QueryFamily
from bot.storage.records import User
from bot.storage.tables import USER_TABLES, users


class UserQueries(QueryFamily):
    async def ensure_user(self, user_id: int, chat_id: int | None = None) -> User:
        """The user's row, created on first contact (timezone UTC); chat_id kept current."""
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id, chat_id)
            row = (await conn.execute(sa.select(users).where(users.c.user_id == user_id))).one()
        return User(**row._mapping)

    async def get_user(self, user_id: int) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(users.c.user_id == user_id))).first()
        return User(**row._mapping) if row else None

    async def set_timezone(self, user_id: int, timezone: str, chat_id: int | None = None) -> None:
        """Store a validated timezone name (IANA or "UTC+HH:MM")."""
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id, chat_id)
            await conn.execute(
                sa.update(users).where(users.c.user_id == user_id).values(timezone=timezone)
            )

    async def forget_user(self, user_id: int) -> int:
        """Delete every row about the user in every table; returns how many rows went."""
        removed = 0
        async with self.engine.begin() as conn:
            for table in USER_TABLES:
                result = await conn.execute(sa.delete(table).where(table.c.user_id == user_id))
                removed += result.rowcount or 0
        return removed

    async def rows_about(self, user_id: int) -> dict[str, int]:
        """How many rows each table holds about the user (for /forget checks and tests)."""
        counts: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for table in USER_TABLES:
                query = sa.select(sa.func.count()).where(table.c.user_id == user_id)
                counts[table.name] = (await conn.execute(query)).scalar_one()
        return counts
