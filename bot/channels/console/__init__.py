"""The console chat: the same core as Telegram, with numbered choices instead of buttons."""
