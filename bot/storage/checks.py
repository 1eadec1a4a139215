"""Self-checks (knee caving per leg, pain 0-10) and the small coaching preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from bot.storage.base import QueryFamily
from bot.storage.base import utc_now as _now
from bot.storage.tables import coaching_prefs, self_checks

CAVING = ("none", "slight", "clear")


@dataclass(frozen=True)
class SelfCheck:
    local_date: date
    left: str
    right: str
    pain: int


@dataclass(frozen=True)
class Prefs:
    rest_day_notes: bool = False  # rest-day reminders are silent unless the user asks
    timezone_chosen: bool = False  # the user set a timezone themselves (UTC included)


class CheckQueries(QueryFamily):
    async def save_check(self, user_id: int, check: SelfCheck) -> None:
        """Store a self-check; a second one the same day replaces the first."""
        if check.left not in CAVING or check.right not in CAVING or not 0 <= check.pain <= 10:
            raise ValueError(f"not a valid self-check: {check!r}")
        values = {
            "left_caving": check.left,
            "right_caving": check.right,
            "pain": check.pain,
            "recorded_at": _now(),
        }
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(self_checks).values(
                user_id=user_id, local_date=check.local_date, **values
            )
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[self_checks.c.user_id, self_checks.c.local_date], set_=values
                )
            )

    async def check_history(self, user_id: int, since: date) -> list[SelfCheck]:
        """Self-checks from `since` on, oldest first."""
        table = self_checks
        query = (
            sa.select(table.c.local_date, table.c.left_caving, table.c.right_caving, table.c.pain)
            .where(table.c.user_id == user_id, table.c.local_date >= since)
            .order_by(table.c.local_date)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [SelfCheck(*row) for row in rows]

    async def last_checks(self, user_ids: list[int]) -> dict[int, date]:
        """The date of each user's latest self-check (users without one are absent)."""
        query = (
            sa.select(self_checks.c.user_id, sa.func.max(self_checks.c.local_date))
            .where(self_checks.c.user_id.in_(sorted(set(user_ids))))
            .group_by(self_checks.c.user_id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {user_id: _as_date(day) for user_id, day in rows if day is not None}

    async def get_prefs(self, user_ids: list[int]) -> dict[int, Prefs]:
        """Each user's preferences; users who never chose any get the defaults."""
        query = sa.select(
            coaching_prefs.c.user_id,
            coaching_prefs.c.rest_day_notes,
            coaching_prefs.c.timezone_chosen,
        ).where(coaching_prefs.c.user_id.in_(sorted(set(user_ids))))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        found = {row.user_id: Prefs(row.rest_day_notes, row.timezone_chosen) for row in rows}
        return {user_id: found.get(user_id, Prefs()) for user_id in user_ids}

    async def set_prefs(self, user_id: int, **changes: bool) -> None:
        """Change some preferences (rest_day_notes, timezone_chosen); the others stay."""
        values = {**changes, "updated_at": _now()}
        async with self.engine.begin() as conn:
            await self._ensure_user(conn, user_id)
            insert = self._insert(coaching_prefs).values(user_id=user_id, **values)
            await conn.execute(
                insert.on_conflict_do_update(index_elements=[coaching_prefs.c.user_id], set_=values)
            )


def _as_date(value: date | str) -> date:
    # max() over a Date column comes back as text on SQLite.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
