"""The console chat (`kneebot chat`): a thin channel over the conversation core, no token needed."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

from bot import actions
from bot.answering.coach import Coach
from bot.answering.conversation import Conversations
from bot.app import Runtime, open_features
from bot.channels.console.reminders import ConsoleReminders
from bot.coaching.flow import RoutineFlow
from bot.coaching.guide import SessionGuide, Timer
from bot.config import Settings
from bot.pictures import picture_of
from bot.replies import Button, Reply
from bot.storage.records import CONSOLE_USER_ID

PROMPT = "you> "
TAP = re.compile(r"\btap\b", re.IGNORECASE)
TICK_SECONDS = 5  # hold seconds between two countdown lines


class ConsoleChat:
    """Turns lines of input into replies; buttons become numbered choices."""

    def __init__(
        self,
        coach: Coach,
        routine: RoutineFlow | None = None,
        reminders: ConsoleReminders | None = None,
        guide: SessionGuide | None = None,
        out: Callable[[str], None] = print,
        timer_speed: float = 1.0,
        conversations: Conversations | None = None,
        index_dir: Path | None = None,
    ) -> None:
        self.coach = coach
        self.routine = routine
        self.reminders = reminders
        self.guide = guide
        self.out = out  # where a countdown prints while it runs
        self.timer_speed = timer_speed
        self.conversations = conversations
        self.index_dir = index_dir  # where the drawn pictures are, for a how-to's file path
        self.choices: list[Button] = []

    async def handle(self, line: str) -> str:
        """The text to print for one line of input."""
        line = line.strip()
        if not line:
            return ""
        typed = await self.routine.typed(CONSOLE_USER_ID, line) if self.routine else None
        if typed is not None:  # an answer to the open questionnaire, by number or in words
            return self.show(typed.reply)
        if line.isdigit() and self.choices:
            return await self._choose(int(line))
        if line.startswith("/"):
            reply = await self._routine_command(line) or await self._reminder_command(line)
            return self.show(reply or self._command(line))
        asked = await self.reminders.free_text(line) if self.reminders else None
        if asked is not None:
            return self.show(asked)
        if self.conversations is None:
            reply = await self.coach.reply(line)
        else:
            reply = await self.conversations.reply(CONSOLE_USER_ID, line)
        if not reply.command:
            return self.show(reply)
        # A command said in words runs as if typed: "/remind 07:00", "/routine", "/forget".
        command = "/" + reply.command
        followed = await self._routine_command(command) or await self._reminder_command(command)
        shown = self.show(followed) if followed else ""
        return "\n\n".join(part for part in (reply.text, shown) if part)

    def show(self, reply: Reply) -> str:
        """Plain text plus numbered follow-ups, remembered for the next line."""
        self.choices = list(reply.buttons)
        lines = [console_words(reply.text), *self._picture_line(reply)]
        if self.choices:
            lines.append("")
            lines += [f"  [{n}] {b.label}" for n, b in enumerate(self.choices, start=1)]
            lines.append("  (type a number to choose)")
        return "\n".join(lines)

    def _picture_line(self, reply: Reply) -> list[str]:
        """The saved picture's path under a how-to, when one has been drawn."""
        still = picture_of(reply, self.index_dir, animated=False) if self.index_dir else None
        if still is None:
            return []
        animation = picture_of(reply, self.index_dir)
        rendered = self.coach.composer.render("picture.j2", still=still, animation=animation)
        return ["", rendered.text]

    async def _choose(self, number: int) -> str:
        if not 1 <= number <= len(self.choices):
            return f"Please pick a number between 1 and {len(self.choices)}."
        action = self.choices[number - 1].action
        if self.guide is not None and self.guide.handles(action) and self.reminders:
            today = await self.reminders.subscriptions.local_today(CONSOLE_USER_ID)
            step = await self.guide.tap(CONSOLE_USER_ID, action, today)
            if step.timer is None:
                return self.show(step.reply)
            return self.show(await self._count_down(step.timer))
        if self.routine is not None and self.routine.handles(action):
            return self.show((await self.routine.tap(CONSOLE_USER_ID, action)).reply)
        reply = await self.reminders.tap(action) if self.reminders else None
        return self.show(reply or self.action(action))

    async def _count_down(self, timer: Timer) -> Reply:
        """A printed countdown, a line every few seconds; then what comes after the hold."""
        left = timer.seconds
        while left > 0:
            self.out(console_words(self.guide.countdown(timer.title, left).text))
            step = min(TICK_SECONDS, left)
            await asyncio.sleep(step / self.timer_speed)
            left -= step
        return timer.after

    def action(self, action: str) -> Reply:
        """What a tapped button does; the same actions as the Telegram channel."""
        return self.coach.tap(action)

    async def _routine_command(self, line: str) -> Reply | None:
        """/routine, /today and /cancel go to the routine flow (the same one Telegram uses)."""
        command = line.split()[0][1:].lower()
        if self.routine is None or command not in ("routine", "today", "cancel"):
            return None
        if command == "today":
            return (await self.routine.tap(CONSOLE_USER_ID, actions.routine("today"))).reply
        step = self.routine.open if command == "routine" else self.routine.cancel
        return (await step(CONSOLE_USER_ID)).reply

    async def _reminder_command(self, line: str) -> Reply | None:
        """/remind, /reminders, /timezone, /stop, /progress and /forget (as on Telegram)."""
        return await self.reminders.command(line) if self.reminders else None

    def _command(self, line: str) -> Reply:
        command = line.split()[0][1:].lower()
        handlers: dict[str, Callable[[], Reply]] = {
            "start": self.coach.welcome,
            "help": self.coach.help,
        }
        handler = handlers.get(command)
        return handler() if handler else self.coach.unknown_command(line.split()[0])


def console_words(text: str) -> str:
    """Telegram's "tap" in knowledge text reads "choose" here: the buttons are numbers."""
    return TAP.sub(lambda match: _same_case(match.group(), "choose"), text)


def _same_case(model: str, word: str) -> str:
    if model.isupper():
        return word.upper()
    return word.capitalize() if model[0].isupper() else word


async def run_console(runtime: Runtime, settings: Settings) -> int:
    """Read lines until EOF or /quit; reply to each."""
    opened = await open_features(settings, runtime)
    reminders = ConsoleReminders(opened.subscriptions, settings)
    chat = ConsoleChat(
        runtime.coach,
        routine=opened.routine,
        reminders=reminders,
        guide=opened.guide,
        timer_speed=settings.timer_speed,
        conversations=opened.conversations,
        index_dir=settings.index_dir,
    )
    print(chat.show(runtime.coach.welcome()))
    print("\n(type /help for commands, /quit to leave)\n")
    # Reminders fire while the session is open, printed between prompts.
    dispatcher = reminders.dispatcher(
        lambda reply: print(f"\n{chat.show(reply)}\n\n{PROMPT}", end="")
    )
    ticking = asyncio.create_task(dispatcher.run())
    try:
        return await _chat_loop(chat)
    finally:
        ticking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticking
        await opened.close()


async def _chat_loop(chat: ConsoleChat) -> int:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, _read_line)
        if line is None or line.strip().lower() in ("/quit", "/exit"):
            print("Bye — look after your knees.")
            return 0
        output = await chat.handle(line)
        if output:
            print(output, end="\n\n", flush=True)


def _read_line() -> str | None:
    try:
        return input(PROMPT) if sys.stdin.isatty() else (sys.stdin.readline() or None)
    except EOFError:
        return None
