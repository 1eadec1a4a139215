"""The assessment profile and the questionnaire draft."""

from __future__ import annotations

import sqlalchemy as sa

from bot.storage.base import QueryFamily
from bot.storage.base import utc_now as _now
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

    async def save_draft(self, user_id: int, state: str, answers: dict) -> None:
        """Remember where the user is in the assessment, so a restart resumes it."""
        values = {"state": state, "answers": answers, "updated_at": _now()}
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(assessment_drafts).values(user_id=user_id, **values)
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[assessment_drafts.c.user_id], set_=values
                )
            )

    async def load_draft(self, user_id: int) -> tuple[str, dict] | None:
        """(state, answers) of an unfinished assessment, or None."""
        query = sa.select(assessment_drafts.c.state, assessment_drafts.c.answers).where(
            assessment_drafts.c.user_id == user_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return (row.state, row.answers) if row else None

    async def clear_draft(self, user_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(assessment_drafts).where(assessment_drafts.c.user_id == user_id)
            )
