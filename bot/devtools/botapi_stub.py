"""A small Telegram Bot API server for tests: real HTTP on 127.0.0.1, Telegram-like validation.

The bot under test talks to it through TELEGRAM_BASE_URL exactly as it talks to Telegram. The stub
records every call, answers 400 where Telegram would (text length, HTML entities, callback_data,
reply_markup shape), 401 for unknown tokens, and lets tests push updates, inject failures and
await what the bot sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

TOKEN = "123456789:AAEkneebot-stub-token_0123456789abcdef"
BOT_ID = 123456789
BOT_USERNAME = "kneebot_test_bot"

MAX_TEXT = 4096  # UTF-16 code units after entity parsing
MAX_CAPTION = 1024
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024  # bytes
MAX_UPLOAD = 50 * 1024 * 1024
MAX_CALLBACK_DATA = 64  # bytes
MAX_CALLBACK_ANSWER = 200

# Telegram's HTML parse mode: these tags only (td/telegram MessageEntity.cpp, parse_html).
HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "a", "tg-emoji", "code", "pre", "blockquote",
}  # fmt: skip
HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
ENTITY = re.compile(r"&(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
ATTRIBUTE = re.compile(r"\s*([a-zA-Z-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?")
BUTTON_ACTIONS = {
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
}  # fmt: skip
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}  # fmt: skip
JSON_FIELDS = {
    "reply_markup", "commands", "allowed_updates", "entities", "caption_entities", "scope",
    "reply_parameters", "link_preview_options", "media",
}  # fmt: skip


class ApiError(Exception):
    """An error answer: HTTP status, Telegram's description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Call:
    """One request the bot made, with the stub's answer."""

    method: str
    params: dict[str, Any]
    status: int = 200
    result: Any = None
    description: str = ""
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None and str(value).lstrip("-").isdigit() else None

    @property
    def html(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def text(self) -> str:
        """What the user sees: the text with HTML markup removed."""
        return parse_html(self.html) if self.params.get("parse_mode") == "HTML" else self.html

    @property
    def buttons(self) -> list[dict]:
        markup = self.params.get("reply_markup") or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


@dataclass
class Failure:
    """An injected failure for the next `times` calls of a method (optionally for one chat)."""

    method: str
    times: int
    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    drop: bool = False
    chat_id: int | None = None

    def matches(self, method: str, params: dict) -> bool:
        if self.times <= 0 or self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)


# -- Telegram's HTML ---------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The plain text of Telegram HTML; raises ApiError(400) where Telegram would."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            match = ENTITY.match(text, i)
            out.append(_entity(match) if match else "&")  # Telegram keeps a bare '&'
            i = match.end() if match else i + 1
        elif char == "<":
            i = _tag(text, i, stack)
        else:
            out.append(char)
            i += 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _entity(match: re.Match) -> str:
    decimal, hexadecimal, name = match.groups()
    if name:
        return HTML_ENTITIES[name]
    return chr(int(decimal) if decimal else int(hexadecimal, 16))


def _entities_error(message: str) -> ApiError:
    return bad_request(f"can't parse entities: {message}")


def _tag(text: str, start: int, stack: list[str]) -> int:
    """Check the tag at `start`, update the open-tag stack, return the index after it."""
    offset = len(text[:start].encode())
    end = text.find(">", start)
    if end == -1:
        raise _entities_error(f"Unclosed start tag at byte offset {offset}")
    inner = text[start + 1 : end]
    if inner.startswith("/"):
        name = inner[1:].strip().lower()
        if not stack:
            raise _entities_error(f"Unexpected end tag at byte offset {offset}")
        if name and name != stack[-1]:
            raise _entities_error(
                f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>", '
                f'found "</{name}>"'
            )
        stack.pop()
        return end + 1
    match = TAG_NAME.match(inner)
    name = match.group(0).lower() if match else ""
    if name not in HTML_TAGS:
        raise _entities_error(f'Unsupported start tag "{name}" at byte offset {offset}')
    _check_attributes(name, inner[len(name) :], stack, offset)
    stack.append(name)
    return end + 1


def _check_attributes(name: str, rest: str, stack: list[str], offset: int) -> None:
    attributes = {key.lower(): (value or "").strip("\"'") for key, value in ATTRIBUTE.findall(rest)}
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise _entities_error('Tag "span" must have class "tg-spoiler"')
    if name == "a" and "href" not in attributes:
        raise _entities_error(f'Tag "a" must have attribute "href" at byte offset {offset}')
    if name == "tg-emoji" and not attributes.get("emoji-id", "").isdigit():
        raise _entities_error(
            f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {offset}'
        )
    if stack and stack[-1] in ("pre", "code") and not (name == "code" and stack[-1] == "pre"):
        raise _entities_error(f'Entities can\'t be nested in "{stack[-1]}" at byte offset {offset}')


def check_text(
    params: dict, key: str = "text", limit: int = MAX_TEXT, required: bool = True
) -> str:
    """Validate a text or caption with its parse mode; return the plain text."""
    raw = params.get(key)
    if raw is None or raw == "":
        if required:
            raise bad_request("message text is empty")
        return ""
    mode = params.get("parse_mode")
    if mode not in (None, "", "HTML", "MarkdownV2", "Markdown"):
        raise bad_request(f"unsupported parse_mode {mode!r}")
    plain = parse_html(str(raw)) if mode == "HTML" else str(raw)
    if required and not plain.strip():
        raise bad_request("text must be non-empty")
    if utf16_len(plain.strip()) > limit:
        raise bad_request("message is too long" if key == "text" else "message caption is too long")
    return plain


def check_reply_markup(markup: Any) -> None:
    """Inline keyboards as Telegram checks them; other keyboard kinds by their shape only."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            raise bad_request("can't parse reply keyboard markup JSON object")
        return
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    for button in itertools.chain.from_iterable(rows):
        _check_button(button)


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not str(button.get("text", "")).strip():
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    actions = BUTTON_ACTIONS & button.keys()
    if len(actions) != 1:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in actions:
        data = str(button["callback_data"])
        if not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in actions and not re.match(r"^(https?|tg)://", str(button["url"])):
        raise bad_request("BUTTON_URL_INVALID")


# -- the server --------------------------------------------------------------------------------


class BotApiStub:
    """The Bot API on 127.0.0.1:<random port>; see the module docstring."""

    def __init__(self, token: str = TOKEN, username: str = BOT_USERNAME) -> None:
        self.token = token
        self.me = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Kneebot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[Call] = []
        self.commands: list[dict] = []
        self.webhook: dict[str, Any] = {}
        self.webhook_responses: list[int] = []
        self.chats: dict[int, dict] = {}
        self.messages: dict[tuple[int, int], dict] = {}
        self.files: dict[str, bytes] = {}
        self.uploads: dict[str, bytes] = {}  # file_id -> what was uploaded with it
        self._failures: list[Failure] = []
        self._updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count] = {}
        self._open_queries: set[str] = set()
        self._query_ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._deliveries: asyncio.Queue[dict] = asyncio.Queue()
        self._delivery_task: asyncio.Task | None = None
        self._closing = False
        self.port = 0

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self) -> BotApiStub:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._client = aiohttp.ClientSession()
        self._delivery_task = asyncio.create_task(self._deliver_webhooks())
        return self

    async def stop(self) -> None:
        self._closing = True  # ends pending long polls, so the server shuts down at once
        await self._notify()
        if self._delivery_task:
            self._delivery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery_task
        if self._client:
            await self._client.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The server root, as TELEGRAM_BASE_URL takes it (like a self-hosted Bot API server)."""
        return f"http://127.0.0.1:{self.port}"

    # -- what tests use ------------------------------------------------------------------------

    def fail(self, method: str, times: int = 1, status: int = 500, **kwargs: Any) -> None:
        """Make the next `times` calls of `method` fail (status 500/429/403…, or drop=True)."""
        description = {
            429: f"Too Many Requests: retry after {kwargs.get('retry_after', 1)}",
            403: "Forbidden: bot was blocked by the user",
            502: "Bad Gateway",
        }.get(status, "Internal Server Error")
        kwargs.setdefault("description", description)
        if status == 429:
            kwargs.setdefault("retry_after", 1)
        self._failures.append(Failure(method, times, status, **kwargs))

    def mark(self) -> int:
        """A position in the call log; pass it as `since` to look only at later calls."""
        return len(self.calls)

    def sent(
        self, method: str = "sendMessage", since: int = 0, chat_id: int | None = None
    ) -> list[Call]:
        """Successful calls of `method` (case-insensitive) after `since`."""
        return [
            call
            for call in self.calls[since:]
            if call.method.lower() == method.lower()
            and call.ok
            and (chat_id is None or call.chat_id == chat_id)
        ]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        since: int = 0,
        count: int = 1,
        timeout: float = 10.0,
        ok: bool | None = True,
    ) -> list[Call]:
        """The first `count` matching calls of `method` after `since`; AssertionError on timeout."""

        def matching() -> list[Call]:
            return [
                call
                for call in self.calls[since:]
                if call.method.lower() == method.lower()
                and (ok is None or call.ok == ok)
                and (predicate is None or predicate(call))
            ]

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= count)
        except TimeoutError:
            seen = ", ".join(f"{c.method}:{c.status}" for c in self.calls[since:][-15:])
            raise AssertionError(f"no {count}× {method} within {timeout} s; saw: {seen}") from None
        return matching()[:count]

    def push(self, kind: str, payload: dict) -> dict:
        """Queue an update of `kind` (e.g. 'message'); delivered by getUpdates or the webhook."""
        update = {"update_id": next(self._update_ids), kind: payload}
        if self.webhook.get("url"):
            self._deliveries.put_nowait(update)
        else:
            self._updates.append(update)
            asyncio.get_running_loop().create_task(self._notify())
        return update

    def new_message(self, chat: dict, user: dict | None, **fields: Any) -> dict:
        """A message as Telegram would deliver it, with command and mention entities."""
        self.chats[chat["id"]] = chat
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
        }
        if user is not None:
            message["from"] = user
        message.update(fields)
        if "text" in message:
            entities = text_entities(message["text"])
            if entities:
                message["entities"] = entities
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def new_callback_query(self, user: dict, message: dict, data: str) -> dict:
        query_id = f"{next(self._query_ids)}{int(time.time())}"
        self._open_queries.add(query_id)
        return {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(message["chat"]["id"]),
            "data": data,
        }

    # -- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params, files = await _read_params(request)
        call = Call(method, params, files=files)
        if request.match_info["token"] != self.token:
            return await self._answer(call, ApiError(401, "Unauthorized"))
        failure = next((f for f in self._failures if f.matches(method, params)), None)
        if failure is not None:
            failure.times -= 1
            if failure.drop:
                await self._record(call, 0, None, "connection dropped")
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=500)
            error = ApiError(failure.status, failure.description)
            if failure.retry_after is not None:
                error.parameters = {"retry_after": failure.retry_after}
            return await self._answer(call, error)
        handler = getattr(self, f"api_{method.lower()}", None)
        if handler is None:
            return await self._answer(call, ApiError(404, "Not Found: method not found"))
        try:
            result = await handler(params, files)
        except ApiError as error:
            return await self._answer(call, error)
        return await self._answer(call, result)

    async def _answer(self, call: Call, outcome: Any) -> web.Response:
        if isinstance(outcome, ApiError):
            body: dict[str, Any] = {
                "ok": False,
                "error_code": outcome.status,
                "description": outcome.description,
            }
            if outcome.parameters:
                body["parameters"] = outcome.parameters
            await self._record(call, outcome.status, None, outcome.description)
            return web.json_response(body, status=outcome.status)
        await self._record(call, 200, outcome, "")
        return web.json_response({"ok": True, "result": outcome})

    async def _record(self, call: Call, status: int, result: Any, description: str) -> None:
        call.status, call.result, call.description = status, result, description
        self.calls.append(call)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        payload = self.files.get(request.match_info["path"])
        if payload is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=payload)

    async def _deliver_webhooks(self) -> None:
        """Telegram's side of a webhook: POST each update, with the secret header if one was set."""
        while True:
            update = await self._deliveries.get()
            headers = {}
            if self.webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
            assert self._client is not None
            try:
                async with self._client.post(
                    self.webhook["url"], json=update, headers=headers
                ) as response:
                    self.webhook_responses.append(response.status)
            except aiohttp.ClientError:
                self.webhook_responses.append(0)
            await self._notify()

    # -- Bot API methods -----------------------------------------------------------------------

    async def api_getme(self, params: dict, files: dict) -> dict:
        return self.me

    async def api_getupdates(self, params: dict, files: dict) -> list[dict]:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        allowed = params.get("allowed_updates") or None
        limit = int(params.get("limit") or 100)

        def pending() -> list[dict]:
            found = [u for u in self._updates if allowed is None or _update_kind(u) in allowed]
            return found[:limit]

        timeout = float(params.get("timeout") or 0)
        if not pending() and timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout), self._changed:
                    await self._changed.wait_for(lambda: bool(pending()) or self._closing)
        return pending()

    async def api_sendmessage(self, params: dict, files: dict) -> dict:
        chat = self._chat(params)
        plain = check_text(params)
        check_reply_markup(params.get("reply_markup"))
        return self._bot_message(chat, text=plain, reply_markup=params.get("reply_markup"))

    async def api_sendphoto(self, params: dict, files: dict) -> dict:
        chat = self._chat(params)
        photo, file_id = self._media(params, files, "photo", MAX_PHOTO_UPLOAD)
        caption = check_text(params, "caption", MAX_CAPTION, required=False)
        check_reply_markup(params.get("reply_markup"))
        if photo is not None:
            self.files[f"photos/{file_id}.jpg"] = photo
        sizes = [{"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600}]
        extra = {"caption": caption} if caption else {}
        return self._bot_message(
            chat, photo=sizes, reply_markup=params.get("reply_markup"), **extra
        )

    async def api_sendanimation(self, params: dict, files: dict) -> dict:
        """A GIF or MP4 comes back as an animation (and a document); anything else as a file."""
        chat = self._chat(params)
        payload, file_id = self._media(params, files, "animation", MAX_UPLOAD)
        caption = check_text(params, "caption", MAX_CAPTION, required=False)
        check_reply_markup(params.get("reply_markup"))
        payload = payload if payload is not None else self.uploads[file_id]
        document = {"file_id": file_id, "file_unique_id": file_id, "file_size": len(payload)}
        fields: dict[str, Any] = {"document": document}
        if _is_animation(payload):
            width, height = _gif_size(payload)
            fields["animation"] = {**document, "width": width, "height": height, "duration": 2}
        if caption:
            fields["caption"] = caption
        return self._bot_message(chat, reply_markup=params.get("reply_markup"), **fields)

    def _media(
        self, params: dict, files: dict, name: str, max_size: int
    ) -> tuple[bytes | None, str]:
        """An upload (bytes, new file_id) or a file_id sent before (None, that file_id)."""
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value.removeprefix("attach://"))
        value = value if value is not None else files.get(name)
        if not value:
            raise bad_request(f"there is no {name} in the request")
        if isinstance(value, str):
            if value not in self.uploads:
                raise bad_request("wrong file identifier/HTTP URL specified")
            return None, value
        if len(value) > max_size:
            raise ApiError(413, "Request Entity Too Large")
        file_id = f"{name}{len(self.uploads) + 1}"
        self.uploads[file_id] = value
        return value, file_id

    async def api_editmessagetext(self, params: dict, files: dict) -> dict:
        message = self._own_message(params)
        plain = check_text(params)
        markup = params.get("reply_markup")
        check_reply_markup(markup)
        if message.get("text") == plain and message.get("reply_markup") == markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message["text"] = plain
        message["edit_date"] = int(time.time())
        _set_markup(message, markup)
        return message

    async def api_editmessagereplymarkup(self, params: dict, files: dict) -> dict:
        message = self._own_message(params)
        markup = params.get("reply_markup")
        check_reply_markup(markup)
        if message.get("reply_markup") == markup:
            raise bad_request("message is not modified")
        _set_markup(message, markup)
        return message

    async def api_answercallbackquery(self, params: dict, files: dict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER:
            raise bad_request("MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        return True

    async def api_setmycommands(self, params: dict, files: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for item in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(item.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    async def api_deletemycommands(self, params: dict, files: dict) -> bool:
        self.commands = []
        return True

    async def api_getmycommands(self, params: dict, files: dict) -> list[dict]:
        return self.commands

    async def api_sendchataction(self, params: dict, files: dict) -> bool:
        self._chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def api_setwebhook(self, params: dict, files: dict) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {"url": url, "secret_token": secret} if url else {}
        return True

    async def api_deletewebhook(self, params: dict, files: dict) -> bool:
        self.webhook = {}
        if str(params.get("drop_pending_updates")).lower() == "true":
            self._updates.clear()
        return True

    async def api_getwebhookinfo(self, params: dict, files: dict) -> dict:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def api_getfile(self, params: dict, files: dict) -> dict:
        file_id = str(params.get("file_id"))
        path = f"photos/{file_id}.jpg"
        if path not in self.files:
            raise bad_request("invalid file_id")
        return {"file_id": file_id, "file_unique_id": file_id, "file_path": path}

    async def api_close(self, params: dict, files: dict) -> bool:
        return True

    async def api_logout(self, params: dict, files: dict) -> bool:
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _chat(self, params: dict) -> dict:
        chat_id = params.get("chat_id")
        try:
            return self.chats[int(chat_id)]  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError):
            raise bad_request("chat not found") from None

    def _own_message(self, params: dict) -> dict:
        chat = self._chat(params)
        message = self.messages.get((chat["id"], int(params.get("message_id") or 0)))
        if message is None:
            raise bad_request("message to edit not found")
        if message.get("from", {}).get("id") != self.me["id"]:
            raise bad_request("message can't be edited")
        return message

    def _bot_message(self, chat: dict, reply_markup: dict | None = None, **fields: Any) -> dict:
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": {k: self.me[k] for k in ("id", "is_bot", "first_name", "username")},
            **fields,
        }
        _set_markup(message, reply_markup)
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)


def _set_markup(message: dict, markup: dict | None) -> None:
    if markup and "inline_keyboard" in markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _is_animation(payload: bytes) -> bool:
    return payload[:4] == b"GIF8" or payload[4:8] == b"ftyp"


def _gif_size(payload: bytes) -> tuple[int, int]:
    """A GIF's logical screen size (its header); an MP4 gets a nominal size."""
    if payload[:4] != b"GIF8":
        return 640, 480
    return int.from_bytes(payload[6:8], "little"), int.from_bytes(payload[8:10], "little")


def _update_kind(update: dict) -> str:
    return next(key for key in update if key != "update_id")


def text_entities(text: str) -> list[dict]:
    """bot_command at offset 0 and @mentions, with UTF-16 offsets, as Telegram adds them."""
    entities = []
    command = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{5,32})?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for mention in re.finditer(r"(?<![\w@])@[A-Za-z0-9_]{5,32}", text):
        if command and mention.start() < command.end():
            continue
        offset = utf16_len(text[: mention.start()])
        entities.append({"type": "mention", "offset": offset, "length": utf16_len(mention.group())})
    return entities


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Query string plus a form, multipart or JSON body; JSON-valued fields decoded."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, bytes] = {}
    if request.content_type == "multipart/form-data":
        async for part in await request.multipart():
            if part.filename is not None:
                files[part.name] = bytes(await part.read())
            else:
                params[part.name] = await part.text()
    elif request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        params.update(await request.post())
    for key in JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                params[key] = {"unparsable": params[key]}
    return params, files
