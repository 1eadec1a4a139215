"""The assessment profile and the questionnaire draft."""

from __future__ import annotations

import sqlalchemy as sa

from bot.storage.base import QueryFamily
from bot.storage.base import utc_now as _now
from bot.storage.records import StaleDraft
from bot.storage.tables import assessment_drafts, profiles


class ProfileQueries(QueryFamily):
    async def save_profile(self, user_id: int, answers: dict, routine: dict) -> None:
        """Store (replace) the user's assessment answers and built routine."""
        values = {"answers": answers, "routine": routine, "updated_at": _now()}
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(profiles).values(user_id=user_id, **values)
            await conn.execute(
                insert.on_conflict_do_update(index_elements=[profiles.c.user_id], set_=values)
            )

    async def load_profile(self, user_id: int) -> tuple[dict, dict] | None:
        """(answers, routine), or None before the first assessment."""
        query = sa.select(profiles.c.answers, profiles.c.routine).where(
            profiles.c.user_id == user_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row.answers, row.routine) if row else None

    async def save_draft(
        self, user_id: int, state: str, answers: dict, version: int | None = None
    ) -> int:
        """Remember where the user is in the assessment, so a restart resumes it.

        With `version` (as read by load_draft_versioned; 0 = no draft yet) the save only
        happens if nobody saved since, else StaleDraft: two replicas handling two taps of the
        same user cannot overwrite each other's answers. Returns the new version.
        """
        values = {"state": state, "answers": answers, "updated_at": _now()}
        table = assessment_drafts
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            if version:
                statement = (
                    sa.update(table)
                    .where(table.c.user_id == user_id, table.c.version == version)
                    .values(**values, version=table.c.version + 1)
                    .returning(table.c.version)
                )
            else:
                insert = self._insert(table).values(user_id=user_id, version=1, **values)
                statement = insert.on_conflict_do_update(
                    index_elements=[table.c.user_id],
                    set_={**values, "version": table.c.version + 1},
                    where=None if version is None else sa.false(),
                ).returning(table.c.version)
            saved = (await conn.execute(statement)).scalar_one_or_none()
        if saved is None:
            raise StaleDraft(f"draft of user {user_id} changed since version {version}")
        return saved

    async def load_draft(self, user_id: int) -> tuple[str, dict] | None:
        """(state, answers) of an unfinished assessment, or None."""
        found = await self.load_draft_versioned(user_id)
        return (found[0], found[1]) if found else None

    async def load_draft_versioned(self, user_id: int) -> tuple[str, dict, int] | None:
        """(state, answers, version) of an unfinished assessment, or None."""
        table = assessment_drafts
        query = sa.select(table.c.state, table.c.answers, table.c.version).where(
            table.c.user_id == user_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row.state, row.answers, row.version) if row else None

    async def clear_draft(self, user_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(assessment_drafts).where(assessment_drafts.c.user_id == user_id)
            )
