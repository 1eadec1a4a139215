"""Conversation state: what the current conversation is about, per user, and where it is kept.

`load(user) -> State | None` and `save(user, state, expected_version) -> bool` are the whole
interface. The database store makes the state survive restarts and be shared by replicas; the
memory store serves `kneebot ask` and the eval. A state idle for IDLE_MINUTES is forgotten.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Protocol

from bot.clock import Clock, utc_now
from bot.storage.records import ConversationState as State

IDLE_MINUTES = 30
IDLE = timedelta(minutes=IDLE_MINUTES)

__all__ = ["IDLE_MINUTES", "DatabaseDialogue", "DialogueStore", "MemoryDialogue", "State"]


class DialogueStore(Protocol):
    async def load(self, user: object) -> State | None: ...

    async def save(self, user: object, state: State, expected_version: int) -> bool: ...


def fresh(state: State | None, clock: Clock) -> State | None:
    """The state, or a blank one keeping its version when it has been idle too long."""
    if state is None or state.updated_at is None or clock() - state.updated_at <= IDLE:
        return state
    return State(version=state.version, updated_at=state.updated_at)


class MemoryDialogue:
    """States in a dict: one process, gone at exit (the CLI and the eval)."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock
        self._states: dict[object, State] = {}

    async def load(self, user: object) -> State | None:
        return fresh(self._states.get(user), self.clock)

    async def save(self, user: object, state: State, expected_version: int) -> bool:
        current = self._states.get(user)
        if (current.version if current else 0) != expected_version:
            return False
        self._states[user] = replace(state, version=expected_version + 1, updated_at=self.clock())
        return True

    async def forget(self, user: object) -> None:
        self._states.pop(user, None)


class SupportsConversations(Protocol):
    async def load_conversation(self, user_id: int) -> State | None: ...

    async def save_conversation(
        self, user_id: int, state: State, expected_version: int, now: object
    ) -> bool: ...


class DatabaseDialogue:
    """States in the conversation_state table (bot/storage/dialogue.py); /forget deletes them."""

    def __init__(self, db: SupportsConversations, clock: Clock = utc_now) -> None:
        self.db = db
        self.clock = clock

    async def load(self, user: object) -> State | None:
        return fresh(await self.db.load_conversation(int(user)), self.clock)  # type: ignore[arg-type]

    async def save(self, user: object, state: State, expected_version: int) -> bool:
        return await self.db.save_conversation(int(user), state, expected_version, self.clock())  # type: ignore[arg-type]
