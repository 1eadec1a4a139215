"""Chat replies on their own budget, paced per chat the way Telegram allows.

Telegram allows about 30 messages a second per bot and about one a second per chat, with short
bursts. Reminders are sent through a Bot of their own (no PTB limiter: the dispatcher paces
them and sees every 429 itself), so a big fan-out never queues a chat reply behind it. Replies go
through `ReplyLimiter`: PTB's AIORateLimiter for the overall and group budgets, plus a token
bucket per private chat (a burst of `burst`, then `per_chat` a second), so one user who floods
gets answers at Telegram's pace instead of a 429 for everybody.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

BURST = 3  # replies one chat may get at once before the per-chat pace applies
IDLE_SECONDS = 60.0  # a chat's bucket is forgotten after this long without a reply


class ChatBuckets:
    """One token bucket per chat: `burst` at once, then `rate` per second; memory stays small."""

    def __init__(self, rate: float, burst: int = BURST) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)

    async def wait_turn(self, chat_id: int, urgent: bool = False) -> None:
        """Take a token for the chat, sleeping until one is free (urgent: never sleep)."""
        if self.rate <= 0 or urgent:
            return
        now = time.monotonic()
        tokens, at = self._buckets.get(chat_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate) - 1.0
        self._buckets[chat_id] = (tokens, now)
        if tokens < 0:
            await asyncio.sleep(-tokens / self.rate)
        if len(self._buckets) > 10_000:
            self._prune(now)

    def _prune(self, now: float) -> None:
        self._buckets = {c: v for c, v in self._buckets.items() if now - v[1] < IDLE_SECONDS}

    def __len__(self) -> int:
        return len(self._buckets)


class ReplyLimiter(AIORateLimiter):
    """AIORateLimiter (overall + groups) with a per-chat pace for private chats too."""

    def __init__(self, overall: float, per_chat: float, retries: int, burst: int = BURST) -> None:
        super().__init__(
            overall_max_rate=overall,
            overall_time_period=1,
            group_max_rate=per_chat,
            group_time_period=1,
            max_retries=retries,
        )
        self.chats = ChatBuckets(per_chat, burst)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id = data.get("chat_id")
        # Groups are paced by PTB already (negative ids); answerCallbackQuery has no chat.
        if isinstance(chat_id, int) and chat_id > 0 and endpoint.startswith("send"):
            await self.chats.wait_turn(chat_id)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


def reply_limiter(overall: float, per_chat: float, retries: int = 2) -> ReplyLimiter:
    return ReplyLimiter(overall, per_chat, retries)
