"""Only one process long-polls: a lease in the database, renewed while polling.

Telegram answers a second getUpdates caller with 409 Conflict. Replicas that start in polling
mode therefore take the "telegram-polling" lease first; the others wait (they still send
reminders) and take over within one lease period if the holder dies. Webhook mode is the
scale-out mode and needs no lease: every replica serves the webhook behind a load balancer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application

from bot.clock import utc_now
from bot.storage.database import Database, new_owner_token

log = logging.getLogger(__name__)

LEASE_NAME = "telegram-polling"
HOLD = timedelta(seconds=30)  # a dead poller's lease lapses after this
RENEW_SECONDS = 10.0


class PollingLease:
    """Waits for the lease, polls while holding it, stops polling if it is ever lost."""

    def __init__(self, application: Application, db: Database, owner: str | None = None) -> None:
        self.application = application
        self.db = db
        self.owner = owner or new_owner_token()
        self.polling = False

    async def run(self) -> None:
        """Until cancelled: hold the lease and poll, or wait for it."""
        try:
            while True:
                if await self._take():
                    if not self.polling:
                        await self._start()
                elif self.polling:
                    log.error("polling lease lost to another process: polling stops here")
                    await self._stop()
                elif not self.polling:
                    log.info("another process is long-polling; waiting for its lease")
                await asyncio.sleep(RENEW_SECONDS)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.db.drop_lease(LEASE_NAME, self.owner))

    async def _take(self) -> bool:
        try:
            return await self.db.take_lease(LEASE_NAME, self.owner, utc_now(), HOLD)
        except Exception as exc:  # noqa: BLE001 - keep polling through a short database outage
            log.warning("polling lease not renewed: %s: %s", type(exc).__name__, exc)
            return self.polling  # keep what we had; the lease outlives a few failed renewals

    async def _start(self) -> None:
        updater = self.application.updater
        assert updater is not None
        await updater.start_polling(allowed_updates=Update.ALL_TYPES, error_callback=_error)
        self.polling = True
        log.info("polling lease taken owner=%s: long polling", self.owner)

    async def _stop(self) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        self.polling = False


def _error(exc: TelegramError) -> None:
    """PTB retries polling by itself; one line per failure is enough."""
    log.warning("getting updates failed, retrying: %s: %s", type(exc).__name__, exc)
