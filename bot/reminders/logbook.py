"""The session log as the user keeps it: Done (with how it felt), /done for another day, undo."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from functools import cache

from bot import actions
from bot.clock import Clock
from bot.compose import Composer
from bot.privacy import user_ref
from bot.reminders.progress import Progress
from bot.replies import Button, Reply, ReplyKind
from bot.storage.database import Database
from bot.storage.records import DONE

log = logging.getLogger(__name__)

UNDO = actions.remind("undo")
EASE = actions.routine("hard")  # the routine's "which exercise is too hard" menu


class Logbook:
    """Logs days done or skipped and takes the last entry back; replies from reminder_ack.j2."""

    def __init__(
        self,
        db: Database,
        composer: Composer,
        clock: Clock,
        stats: Callable[[int], Awaitable[Progress]],
    ) -> None:
        self.db = db
        self.composer = composer
        self.clock = clock
        self.stats = stats
        # Too easy / Too hard also adjust the stored routine (wired in bot/app.py): True if it did.
        self.on_effort: Callable[[int, date, str], Awaitable[bool]] | None = None

    async def record(
        self, user_id: int, day: date, status: str, effort: str | None = None
    ) -> Reply:
        """Log a day once; a repeat says so, and every reply offers Undo."""
        changed = await self.db.record_session(user_id, day, status, effort)
        if not changed:  # a repeat, or a Skip after Done: say what the day is logged as
            status = (await self.db.session_history(user_id, day)).get(day, status)
        log.info("session logged user=%s status=%s changed=%s", user_ref(user_id), status, changed)
        case = ("done" if status == DONE else "skipped") if changed else "again"
        adjusted = bool(changed and effort and self.on_effort)
        if adjusted:
            adjusted = await self.on_effort(user_id, day, effort)
        buttons = [Button("↩️ Undo", UNDO)]
        if effort == "hard":
            buttons.append(Button("Make an exercise easier", EASE))
        return self._reply(
            case,
            buttons,
            status=status,
            effort=effort if changed else None,
            adjusted=adjusted,
            day=_label(day),
            p=await self.stats(user_id),
        )

    async def undo(self, user_id: int) -> Reply:
        """Delete the last entry (a wrong tap, or a day logged by mistake)."""
        day = await self.db.undo_last(user_id)
        log.info("session undone user=%s found=%s", user_ref(user_id), day is not None)
        if day is None:
            return self._reply("nothing_to_undo", [])
        return self._reply("undone", [], day=_label(day), p=await self.stats(user_id))

    def _reply(self, case: str, buttons: list[Button], **context: object) -> Reply:
        rendered = self.composer.render("reminder_ack.j2", case=case, **context)
        return Reply(ReplyKind.INFO, rendered.html, rendered.text, (), tuple(buttons))


def _label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def parse_day(text: str, today: date) -> date | None:
    """The day /done names: nothing or "today", "yesterday", a weekday (the last one), a date."""
    words = " ".join(text.lower().split())
    if words in ("", "today", "now"):
        return today
    if words in ("yesterday", "yday"):
        return today - timedelta(days=1)
    if len(words) > 40:
        return None
    found = _day_parser().get_date_data(words)
    if found is None or found.date_obj is None:
        return None
    day = found.date_obj.date()
    # dateparser reads "monday" relative to the real today: count back from the user's today.
    if re.fullmatch(r"(last )?[a-z]+day", words) and day.weekday() <= 6:
        back = (today.weekday() - day.weekday()) % 7 or 7
        return today - timedelta(days=back)
    return day


@cache
def _day_parser():
    from dateparser.date import DateDataParser

    return DateDataParser(languages=["en"], settings={"PREFER_DATES_FROM": "past"})
