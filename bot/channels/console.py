"""The console chat (`kneebot chat`): a thin channel over the conversation core, no token needed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from bot.config import Settings
from bot.conversation import Button, Coach, Reply
from bot.runtime import Runtime

PROMPT = "you> "
CONSOLE_USER_ID = 0  # the console has one local user


class ConsoleChat:
    """Turns lines of input into replies; buttons become numbered choices."""

    def __init__(self, coach: Coach) -> None:
        self.coach = coach
        self.choices: list[Button] = []

    async def handle(self, line: str) -> str:
        """The text to print for one line of input."""
        line = line.strip()
        if not line:
            return ""
        if line.isdigit() and self.choices:
            return await self._choose(int(line))
        if line.startswith("/"):
            return self.show(self._command(line))
        return self.show(await self.coach.reply(line))

    def show(self, reply: Reply) -> str:
        """Plain text plus numbered follow-ups, remembered for the next line."""
        self.choices = list(reply.buttons)
        lines = [reply.text]
        if self.choices:
            lines.append("")
            lines += [f"  [{n}] {b.label}" for n, b in enumerate(self.choices, start=1)]
            lines.append("  (type a number to choose)")
        return "\n".join(lines)

    async def _choose(self, number: int) -> str:
        if not 1 <= number <= len(self.choices):
            return f"Please pick a number between 1 and {len(self.choices)}."
        return self.show(self.action(self.choices[number - 1].action))

    def action(self, action: str) -> Reply:
        """What a tapped button does; the same actions as the Telegram channel."""
        kind, _, value = action.partition(":")
        if kind in ("howto", "topic"):
            return self.coach.topic(value)
        return self.coach.help()

    def _command(self, line: str) -> Reply:
        command = line.split()[0][1:].lower()
        handlers: dict[str, Callable[[], Reply]] = {
            "start": self.coach.welcome,
            "help": self.coach.help,
        }
        return handlers.get(command, self.coach.help)()


async def run_console(runtime: Runtime, settings: Settings) -> int:
    """Read lines until EOF or /quit; reply to each."""
    chat = ConsoleChat(runtime.coach)
    print(chat.show(runtime.coach.welcome()))
    print("\n(type /help for commands, /quit to leave)\n")
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
