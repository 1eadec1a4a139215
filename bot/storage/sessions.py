"""The session log: done or skipped, one row per user and local date."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from bot.storage.base import QueryFamily
from bot.storage.base import utc_now as _now
from bot.storage.records import DONE, SKIPPED
from bot.storage.tables import session_log


class SessionQueries(QueryFamily):
    async def record_session(
        self, user_id: int, local_date: date, status: str, effort: str | None = None
    ) -> bool:
        """Mark a local day done or skipped; a day counts once (undo_last takes an entry back).

        Skip after Done changes nothing; Done after Skip upgrades the day; a Done with an effort
        ("easy", "hard") after a plain Done records how it felt. Returns True when this changed
        something (a repeated or overruled tap returns False).
        """
        if status not in (DONE, SKIPPED):
            raise ValueError(f"unknown session status {status!r}")
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(session_log).values(
                user_id=user_id,
                local_date=local_date,
                status=status,
                recorded_at=_now(),
                effort=effort,
            )
            keys = [session_log.c.user_id, session_log.c.local_date]
            # A session done that day stays done even if an older reminder's Skip is tapped later.
            statement = (
                insert.on_conflict_do_update(
                    index_elements=keys,
                    set_={
                        "status": DONE,
                        "recorded_at": insert.excluded.recorded_at,
                        "effort": sa.func.coalesce(insert.excluded.effort, session_log.c.effort),
                    },
                    where=sa.or_(
                        session_log.c.status != DONE,
                        sa.and_(
                            insert.excluded.effort.is_not(None),
                            sa.func.coalesce(session_log.c.effort, "") != insert.excluded.effort,
                        ),
                    ),
                )
                if status == DONE
                else insert.on_conflict_do_nothing(index_elements=keys)
            )
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def session_history(self, user_id: int, since: date) -> dict[date, str]:
        """{local date: "done" | "skipped"} from `since` on."""
        query = sa.select(session_log.c.local_date, session_log.c.status).where(
            session_log.c.user_id == user_id, session_log.c.local_date >= since
        )
        async with self.engine.connect() as conn:
            return {day: status for day, status in (await conn.execute(query)).all()}

    async def undo_last(self, user_id: int) -> date | None:
        """Delete the user's most recently recorded entry; its local date, or None if none."""
        latest = (
            sa.select(session_log.c.local_date)
            .where(session_log.c.user_id == user_id)
            .order_by(session_log.c.recorded_at.desc(), session_log.c.local_date.desc())
            .limit(1)
        )
        async with self.engine.begin() as conn:
            day = (await conn.execute(latest)).scalar_one_or_none()
            if day is None:
                return None
            await conn.execute(
                sa.delete(session_log).where(
                    session_log.c.user_id == user_id, session_log.c.local_date == day
                )
            )
        return day
