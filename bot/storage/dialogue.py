"""Conversation state: one row per user, written with optimistic concurrency (a version column)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from bot.storage.base import QueryFamily
from bot.storage.records import ConversationState
from bot.storage.tables import conversation_state

FIELDS = ("topic", "exercise", "reply_kind", "open_question", "safety")


class DialogueQueries(QueryFamily):
    async def load_conversation(self, user_id: int) -> ConversationState | None:
        """The stored state as it is (expiry is the caller's rule), or None."""
        table = conversation_state
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.user_id == user_id))).first()
        if row is None:
            return None
        values = row._mapping
        return ConversationState(
            **{name: values[name] for name in FIELDS},
            version=values["version"],
            updated_at=values["updated_at"],
        )

    async def save_conversation(
        self, user_id: int, state: ConversationState, expected_version: int, now: datetime
    ) -> bool:
        """Write the state if the row is still at `expected_version` (0: no row yet).

        False means another writer (a second replica, a quick double message) got there first;
        its state stands and this one is dropped.
        """
        table = conversation_state
        values = {name: getattr(state, name) for name in FIELDS}
        values |= {"version": expected_version + 1, "updated_at": now}
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            if expected_version == 0:
                insert = self._insert(table).values(user_id=user_id, **values)
                result = await conn.execute(
                    insert.on_conflict_do_nothing(index_elements=[table.c.user_id])
                )
            else:
                update = sa.update(table).where(
                    table.c.user_id == user_id, table.c.version == expected_version
                )
                result = await conn.execute(update.values(**values))
        return (result.rowcount or 0) == 1
