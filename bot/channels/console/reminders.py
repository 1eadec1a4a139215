"""Reminders in the console chat: the same commands as Telegram, and reminders printed live."""

from __future__ import annotations

from collections.abc import Callable

from bot.clock import Clock, utc_now
from bot.compose import Composer
from bot.config import Settings
from bot.knowledge import KnowledgeBase
from bot.reminders.commands import FORGET_YES, ProgressReply, Subscriptions
from bot.reminders.dispatcher import DispatchConfig, Dispatcher
from bot.replies import Reply
from bot.storage.database import Database, data_file
from bot.storage.records import CONSOLE_USER_ID, Delivery, Scope

COMMANDS = ("remind", "reminders", "timezone", "stop", "progress", "forget", "done", "undo")
CHART_FILE = "progress.png"


class ConsoleReminders:
    """Turns console commands and numbered choices into the reminder feature's replies."""

    def __init__(self, subscriptions: Subscriptions, settings: Settings) -> None:
        self.subscriptions = subscriptions
        self.settings = settings

    @classmethod
    def create(
        cls,
        db: Database,
        kb: KnowledgeBase,
        composer: Composer,
        settings: Settings,
        clock: Clock = utc_now,
    ) -> ConsoleReminders:
        return cls(Subscriptions(db, kb, composer, clock=clock), settings)

    async def command(self, line: str) -> Reply | None:
        """The reply to /remind, /reminders, /timezone, /stop, /progress or /forget; else None."""
        words = line.split()
        name, args = words[0][1:].lower(), words[1:]
        subs, me = self.subscriptions, CONSOLE_USER_ID
        if name not in COMMANDS:
            return None
        if name == "remind":
            return await subs.remind(me, me, args)
        if name == "timezone":
            return await subs.timezone(me, me, args)
        if name == "progress":
            return await self._progress()
        if name == "forget":
            return subs.forget_prompt()
        if name == "done":
            return await subs.done(me, args)
        if name == "undo":
            return await subs.undo(me)
        return await (subs.show(me) if name == "reminders" else subs.stop(me))

    async def tap(self, action: str) -> Reply | None:
        """A numbered choice that belongs to the reminder feature; None for any other."""
        result = await self.subscriptions.button(CONSOLE_USER_ID, CONSOLE_USER_ID, action)
        if action == FORGET_YES:
            # The chart is data about the user too: /forget leaves nothing behind.
            data_file(self.settings, CHART_FILE).unlink(missing_ok=True)
        if isinstance(result, ProgressReply):
            return await self._progress()
        return result

    async def free_text(self, line: str) -> Reply | None:
        """A reminder asked for in plain words ("remind me every day at 7am"); else None."""
        return await self.subscriptions.free_text(CONSOLE_USER_ID, CONSOLE_USER_ID, line)

    async def _progress(self) -> Reply:
        """The console cannot show a picture: the chart goes to a file and the reply names it."""
        path = data_file(self.settings, CHART_FILE)
        result = await self.subscriptions.progress(CONSOLE_USER_ID, chart_path=str(path))
        if result.chart_png is None:
            path.unlink(missing_ok=True)  # an old chart would contradict "nothing logged"
        else:
            path.write_bytes(result.chart_png)
        return result.reply

    def dispatcher(self, show: Callable[[Reply], None], clock: Clock = utc_now) -> Dispatcher:
        """A dispatcher for the console user only, printing each reminder as it comes due."""

        async def send(delivery: Delivery) -> int | None:
            reply = await self.subscriptions.reminder(delivery)
            if reply is not None:  # None: a quiet rest day
                show(reply)
            return None

        config = DispatchConfig.from_settings(self.settings, scope=Scope(only=CONSOLE_USER_ID))
        dispatcher = Dispatcher(self.subscriptions.db, send, clock, config)
        self.subscriptions.on_change = dispatcher.wake
        return dispatcher
