"""Replicas: each dispatcher's heartbeat (owner liveness) and named leases (one holder each)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.storage.base import QueryFamily, runs_to_completion
from bot.storage.records import ProcessHealth
from bot.storage.tables import leases, processes

FORGET_DEAD_AFTER = timedelta(days=1)  # a dead process's row stays this long for `status`


class ProcessQueries(QueryFamily):
    @runs_to_completion
    async def heartbeat(
        self,
        owner: str,
        now: datetime,
        lease: timedelta,
        ok: bool = True,
        error: str | None = None,
    ) -> None:
        """Say this process is alive until now + lease, and whether its last pass worked."""
        health = {"last_ok_at": now} if ok else {"last_error": (error or "")[:200]}
        values = {"alive_until": now + lease, **health}
        insert = self._insert(processes).values(owner=owner, started_at=now, **values)
        failures = sa.literal(0) if ok else processes.c.failures + 1
        statement = insert.on_conflict_do_update(
            index_elements=[processes.c.owner], set_={**values, "failures": failures}
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def retire(self, owner: str) -> None:
        """A clean stop: the process is gone now, not when its heartbeat would lapse."""
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(processes).where(processes.c.owner == owner))
            await conn.execute(sa.delete(leases).where(leases.c.owner == owner))

    async def process_health(self, now: datetime) -> list[ProcessHealth]:
        """Every dispatcher seen in the last day, newest first (dead ones are dropped later)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(processes).where(processes.c.alive_until < now - FORGET_DEAD_AFTER)
            )
            rows = (
                await conn.execute(sa.select(processes).order_by(processes.c.alive_until.desc()))
            ).all()
        return [ProcessHealth(**row._mapping) for row in rows]

    # -- leases ----------------------------------------------------------------------------

    async def take_lease(self, name: str, owner: str, now: datetime, hold: timedelta) -> bool:
        """Take or renew the lease `name` until now + hold; False while someone else holds it."""
        insert = self._insert(leases).values(name=name, owner=owner, until=now + hold)
        statement = insert.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={"owner": owner, "until": now + hold},
            # Ours already, or the holder let it lapse.
            where=sa.or_(leases.c.owner == owner, leases.c.until < now),
        ).returning(leases.c.owner)
        async with self.engine.begin() as conn:
            holder = (await conn.execute(statement)).scalar_one_or_none()
        return holder == owner

    async def drop_lease(self, name: str, owner: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(leases).where(leases.c.name == name, leases.c.owner == owner)
            )
