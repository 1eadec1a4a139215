"""A how-to's picture on Telegram: the animation, with the steps as its caption when they fit.

A missing picture or a failed upload never costs the user the text: the caller sends the text
messages whenever the picture did not carry them.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from telegram import InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import MessageLimit, ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.pictures import picture_of
from bot.privacy import user_ref
from bot.replies import Reply

from .services import SERVICES_KEY

log = logging.getLogger(__name__)

MAX_CAPTION = MessageLimit.CAPTION_LENGTH  # 1024 characters after entity parsing
FILE_IDS_KEY = "picture_file_ids"  # path and mtime -> Telegram file_id, to upload each once


@dataclass(frozen=True)
class SentPicture:
    message: Message
    carries_text: bool  # the reply went out as the caption: nothing more to send


def caption_fits(reply_html: str) -> bool:
    """Telegram counts a caption's length in UTF-16 units of the text without its markup."""
    plain = html.unescape(re.sub(r"<[^<>]*>", "", reply_html)).strip()
    return len(plain.encode("utf-16-le")) // 2 <= MAX_CAPTION


async def send_picture(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    reply: Reply,
    quote: ReplyParameters | None,
    markup: InlineKeyboardMarkup | None,
) -> SentPicture | None:
    """Send the reply's animation if it has one; None when there is none or the upload failed."""
    path = _picture(context, reply)
    if path is None:
        return None
    captioned = caption_fits(reply.html)
    file_ids = context.application.bot_data.setdefault(FILE_IDS_KEY, {})
    key = (str(path), path.stat().st_mtime_ns)
    try:
        message = await context.bot.send_animation(
            chat_id,
            file_ids.get(key) or path,
            caption=reply.html if captioned else None,
            parse_mode=ParseMode.HTML if captioned else None,
            reply_markup=markup if captioned else None,
            reply_parameters=quote,
            filename=path.name,
        )
    except (TelegramError, OSError) as exc:
        log.warning("picture not sent chat=%s file=%s: %s", user_ref(chat_id), path.name, exc)
        return None
    uploaded = message.animation or message.document
    if uploaded is not None:
        file_ids[key] = uploaded.file_id
    return SentPicture(message, captioned)


def _picture(context: ContextTypes.DEFAULT_TYPE, reply: Reply) -> Path | None:
    svc = context.application.bot_data.get(SERVICES_KEY)
    return picture_of(reply, svc.settings.index_dir) if svc is not None else None
