"""The one-minute self-check, every two weeks: knee caving per leg (none, slight, clear) and
pain 0-10, asked with buttons whose data carries the answers so far (no state to lose)."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot import actions
from bot.actions import Action
from bot.clock import Clock
from bot.compose import Composer
from bot.privacy import user_ref
from bot.reminders.schedule import local_date
from bot.replies import Button, Reply, ReplyKind
from bot.storage.checks import CAVING, SelfCheck
from bot.storage.database import Database

log = logging.getLogger(__name__)

CHECK_EVERY = 14  # days between self-checks the reminder offers
CAVING_LABELS = {"none": "None", "slight": "Slight", "clear": "Clear"}
START = actions.check()


class SelfCheckFlow:
    """Left leg → right leg → pain → stored, compared with the previous check."""

    def __init__(self, db: Database, composer: Composer, clock: Clock) -> None:
        self.db = db
        self.composer = composer
        self.clock = clock

    async def tap(self, user_id: int, tapped: Action) -> Reply:
        answers = [tapped.verb, *tapped.args] if tapped.verb else []
        if len(answers) > 3 or any(a not in CAVING for a in answers[:2]):
            return self._reply("gone", [])
        if len(answers) < 2:
            leg = "left" if not answers else "right"
            buttons = [
                Button(label, actions.check(*answers, value))
                for value, label in CAVING_LABELS.items()
            ]
            return self._reply(leg, buttons, first=not answers)
        if len(answers) == 2:
            buttons = [Button(str(n), actions.check(*answers, n)) for n in range(11)]
            return self._reply("pain", buttons)
        if not answers[2].isdigit() or not 0 <= int(answers[2]) <= 10:
            return self._reply("gone", [])
        return await self._store(user_id, answers[0], answers[1], int(answers[2]))

    async def _store(self, user_id: int, left: str, right: str, pain: int) -> Reply:
        user = await self.db.get_user(user_id)
        today = local_date(self.clock(), user.timezone if user else "UTC")
        earlier = await self.db.check_history(user_id, today - timedelta(days=400))
        previous = next((c for c in reversed(earlier) if c.local_date < today), None)
        check = SelfCheck(today, left, right, pain)
        await self.db.save_check(user_id, check)
        log.info("self-check stored user=%s", user_ref(user_id))
        return self._reply(
            "stored",
            [Button("📈 Progress", actions.remind("progress"))],
            check=check,
            previous=previous,
            labels=CAVING_LABELS,
        )

    def _reply(self, case: str, buttons: list[Button], **context: object) -> Reply:
        rendered = self.composer.render("self_check.j2", case=case, **context)
        return Reply(ReplyKind.INFO, rendered.html, rendered.text, (), tuple(buttons))
