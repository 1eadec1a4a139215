"""`kneebot status`: one line on the reminder loops' health, read from the database.

Each dispatcher heartbeats its health into the processes table, so any process (or an operator
on another machine) sees whether reminders are going out without reading logs.
"""

from __future__ import annotations

from datetime import datetime

from bot.storage.records import ProcessHealth


def status_line(
    processes: list[ProcessHealth], counts: dict[str, int], now: datetime
) -> tuple[str, bool]:
    """(the line, healthy?): healthy means at least one live dispatcher whose last pass worked."""
    alive = [p for p in processes if p.alive_until >= now]
    failing = [p for p in alive if p.failures]
    queue = " ".join(f"{status}={counts.get(status, 0)}" for status in QUEUE_STATUSES)
    if not alive:
        last = max((p.alive_until for p in processes), default=None)
        seen = f"last seen {_ago(last, now)}" if last else "never seen"
        return f"reminders: DOWN (no live dispatcher, {seen}); {queue}", False
    parts = [f"{len(alive)} dispatcher(s) alive"]
    if failing:
        worst = max(failing, key=lambda p: p.failures)
        parts.append(f"{len(failing)} FAILING ({worst.failures} in a row: {worst.last_error})")
    last_ok = max((p.last_ok_at for p in alive if p.last_ok_at), default=None)
    parts.append(f"last good pass {_ago(last_ok, now)}" if last_ok else "no good pass yet")
    healthy = len(failing) < len(alive)
    return f"reminders: {'ok' if healthy else 'FAILING'}, {', '.join(parts)}; {queue}", healthy


QUEUE_STATUSES = ("pending", "claimed", "sending", "sent", "unknown", "failed", "missed")


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"
