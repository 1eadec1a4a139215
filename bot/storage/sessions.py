"""The session log: done or skipped, one row per user and local date."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from bot.storage.base import QueryFamily
from bot.storage.base import utc_now as _now
from bot.storage.records import DONE, SKIPPED
from bot.storage.tables import session_log


class SessionQueries(QueryFamily):
    async def record_session(self, user_id: int, local_date: date, status: str) -> bool:
        """Mark a local day done or skipped; a day counts once and a Done is never undone.

        Skip after Done changes nothing; Done after Skip upgrades the day. Returns True when
        this changed something (a repeated or overruled tap returns False).
        """
        if status not in (DONE, SKIPPED):
            raise ValueError(f"unknown session status {status!r}")
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(session_log).values(
                user_id=user_id, local_date=local_date, status=status, recorded_at=_now()
            )
            keys = [session_log.c.user_id, session_log.c.local_date]
            # A session done that day stays done even if an older reminder's Skip is tapped later.
            statement = (
                insert.on_conflict_do_update(
                    index_elements=keys,
                    set_={"status": DONE, "recorded_at": insert.excluded.recorded_at},
                    where=session_log.c.status != DONE,
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
