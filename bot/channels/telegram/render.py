"""A core Reply as Telegram messages: HTML cut to Telegram's limit, buttons as a keyboard."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, InlineKeyboardButtonLimit, MessageLimit, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot import actions
from bot.answering.coach import Coach
from bot.privacy import user_ref
from bot.replies import Button, Reply

from .pictures import send_picture
from .services import services

log = logging.getLogger(__name__)

MAX_MESSAGE = MessageLimit.MAX_TEXT_LENGTH  # 4096 UTF-16 code units
MAX_CALLBACK_DATA = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64 bytes

# A tag, an entity, or one character: the pieces HTML may be cut between.
_ATOM = re.compile(r"<[^<>]*>|&#?[0-9A-Za-z]+;|.", re.S)
_TAG_NAME = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)")

Outgoing = tuple[str, InlineKeyboardMarkup | None]


def units(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


SIDE_BY_SIDE = 14  # labels up to this long share a row ("Done ✅", "07:30", "Too easy")
ROW_WIDTH = 30  # characters of labels in one row, about a phone's width
ROW_BUTTONS = 6  # most buttons in one row (the pain scale 0-10 takes two rows)


def keyboard(
    buttons: Sequence[Button], deep_links_to: str | None = None
) -> InlineKeyboardMarkup | None:
    """Short choices side by side, long ones on their own row; a button whose action is over
    64 bytes is dropped and logged. With `deep_links_to` (a bot username, in a group) personal
    buttons become t.me links that open the private chat on the feature."""
    rows: list[list[InlineKeyboardButton]] = []
    width = 0
    for button in filter(_fits, buttons):
        shown = _telegram_button(button, deep_links_to)
        short = len(button.label) <= SIDE_BY_SIDE
        last = rows[-1] if rows else None
        packs = short and last and _short_row(last) and len(last) < ROW_BUTTONS
        if packs and width + len(button.label) <= ROW_WIDTH:
            last.append(shown)
            width += len(button.label)
        else:
            rows.append([shown])
            width = len(button.label)
    return InlineKeyboardMarkup(rows) if rows else None


def _short_row(row: list[InlineKeyboardButton]) -> bool:
    return all(len(button.text) <= SIDE_BY_SIDE for button in row)


def _telegram_button(button: Button, deep_links_to: str | None) -> InlineKeyboardButton:
    if deep_links_to and actions.is_personal(button.action):
        payload = actions.start_payload(button.action)
        return InlineKeyboardButton(button.label, url=deep_link(deep_links_to, payload))
    return InlineKeyboardButton(button.label, callback_data=button.action)


def deep_link(username: str, payload: str) -> str:
    """https://t.me/<bot>?start=<payload>: opens the private chat and sends /start <payload>."""
    return f"https://t.me/{username}?start={payload}"


def _fits(button: Button) -> bool:
    size = len(button.action.encode())
    if size <= MAX_CALLBACK_DATA:
        return True
    log.warning("button dropped: callback_data is %d bytes (max %d)", size, MAX_CALLBACK_DATA)
    return False


def template_reply(coach: Coach, template: str, **context: object) -> Reply:
    """A short channel-level reply (no buttons) rendered from prompts/<template>."""
    return coach.info(template, **context)


async def edit_in_place(message: object, reply: Reply) -> bool:
    """Show a one-message reply in place of a message the bot sent; True also when it already
    did. False (the caller sends instead) for a longer reply or a message that cannot be edited."""
    parts = messages(reply)
    if len(parts) != 1 or not isinstance(message, Message):
        return False
    html, markup = parts[0]
    try:
        await message.edit_text(
            html,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        log.info("edit failed, sending instead %s: %s", user_ref(message.chat_id), exc)
        return False
    return True


async def in_private(
    update: Update, context: ContextTypes.DEFAULT_TYPE, template: str, **extra: object
) -> bool:
    """True in a private chat; in a group, send the pointer to the private chat from `template`.

    Personal features (routine, reminders, progress, /forget) use this so that nothing personal
    is shown, or changed by another member, in a group.
    """
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return chat is not None
    reply = template_reply(
        services(context).coach, template, username=context.bot.username, **extra
    )
    link = InlineKeyboardButton(
        "Open the private chat", url=deep_link(context.bot.username, _payload(template, extra))
    )
    await context.bot.send_message(
        chat.id,
        reply.html,
        parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup([[link]]),
        reply_parameters=_destination(update)[1],
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    return False


def _payload(template: str, extra: dict[str, object]) -> str:
    """The feature the private chat should open on: the routine, or the reminder menu."""
    return actions.ROUTINE_ENTRY if template.startswith("routine") else actions.REMIND_ENTRY


async def drop_buttons(query: CallbackQuery) -> None:
    """Take the keyboard off the message a button was tapped on (a failure is only logged)."""
    try:
        await query.edit_message_reply_markup(None)
    except TelegramError as exc:
        log.info("could not drop buttons %s: %s", user_ref(query.from_user.id), exc)


def messages(
    reply: Reply, limit: int = MAX_MESSAGE, deep_links_to: str | None = None
) -> list[Outgoing]:
    """The messages that carry a reply; the keyboard goes under the last one."""
    parts = split_html(reply.html, limit)
    markup = keyboard(reply.buttons, deep_links_to)
    return [(part, markup if n == len(parts) - 1 else None) for n, part in enumerate(parts)]


async def send_reply(
    target: Update | int, context: ContextTypes.DEFAULT_TYPE, reply: Reply
) -> list[Message]:
    """Send a reply to the chat of an update (quoting the message in groups) or to a chat id."""
    chat_id, quote = _destination(target)
    group = isinstance(target, Update) and _in_group(target)
    links = context.bot.username if group else None
    markup = keyboard(reply.buttons, deep_links_to=links)
    picture = await send_picture(context, chat_id, reply, quote, markup)
    if picture is not None and picture.carries_text:
        return [picture.message]
    sent = [picture.message] if picture is not None else []
    for n, (html, markup) in enumerate(messages(reply, deep_links_to=links)):
        message = await context.bot.send_message(
            chat_id,
            html,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            reply_parameters=quote if n == 0 and not sent else None,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )
        sent.append(message)
    return sent


def _in_group(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type != ChatType.PRIVATE


def _destination(target: Update | int) -> tuple[int, ReplyParameters | None]:
    if isinstance(target, int):
        return target, None
    chat = target.effective_chat
    if chat is None:
        raise ValueError(f"update {target.update_id} has no chat to reply to")
    message = target.message
    if message is None or chat.type == ChatType.PRIVATE:
        return chat.id, None
    # In a group, quote the message so it is clear whom the bot answers.
    return chat.id, ReplyParameters(message.message_id, allow_sending_without_reply=True)


# -- splitting ----------------------------------------------------------------------------------


def split_html(html: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut HTML into parts of at most `limit` units, at paragraph breaks where possible.

    Tags still open at a cut are closed at the end of one part and reopened at the start of the
    next, so every part is valid Telegram HTML on its own.
    """
    parts: list[str] = []
    rest, still_open = html.strip(), []
    while units(_opening(still_open) + rest) > limit:
        reopen = _opening(still_open)
        cut, still_open = _best_cut(rest, limit - units(reopen), still_open)
        parts.append(reopen + rest[:cut].rstrip() + _closing(still_open))
        rest = rest[cut:].lstrip()
    parts.append(_opening(still_open) + rest)
    return [part for part in parts if _visible(part)]


def _best_cut(
    html: str, budget: int, open_tags: list[tuple[str, str]]
) -> tuple[int, list[tuple[str, str]]]:
    """The last cut within budget of the best kind (paragraph > line > word > anywhere).

    `open_tags` are the tags already open where `html` starts; returns the cut index and the
    tags open there.
    """
    stack = list(open_tags)
    used = 0
    best: dict[int, tuple[int, list[tuple[str, str]]]] = {}
    for match in _ATOM.finditer(html):
        atom = match.group()
        used += units(atom)
        _track(atom, stack)
        if used + units(_closing(stack)) > budget:
            break
        best[_cut_kind(html, match.end())] = (match.end(), list(stack))
    if not best:
        raise ValueError(f"cannot fit any HTML into {budget} characters")
    return best[max(best)]


def _track(atom: str, stack: list[tuple[str, str]]) -> None:
    """Keep the stack of open tags (name, opening tag) up to date."""
    tag = _TAG_NAME.match(atom) if atom.startswith("<") and atom.endswith(">") else None
    if tag is None:
        return
    if atom.startswith("</"):
        if stack:
            stack.pop()
    else:
        stack.append((tag.group(1), atom))


def _cut_kind(html: str, index: int) -> int:
    following = html[index : index + 2]
    if following == "\n\n":
        return 3
    if following.startswith("\n"):
        return 2
    if following.startswith(" "):
        return 1
    return 0


def _opening(stack: list[tuple[str, str]]) -> str:
    return "".join(tag for _, tag in stack)


def _closing(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _visible(part: str) -> bool:
    return bool(re.sub(r"<[^<>]*>", "", part).strip())
