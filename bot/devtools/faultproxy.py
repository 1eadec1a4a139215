"""A fault-injecting HTTP proxy for benchmarks: sits between the bot and a Bot API (the stub).

Faults come in two kinds, and the difference is what the delivery semantics hinge on:
- before forwarding (the upstream never sees the request): 429 with retry_after, 5xx, a reset
  of the connection, or an outage window (every request refused for a while);
- after forwarding (the upstream processed the request): the connection is reset instead of
  answering, or the answer is held back 5-30 s (the client times out first).

A reset is ambiguous to the client whether it came before or after forwarding (the request bytes
left either way), so the bench compares the bot's `unknown` count with every reset and delay
injected. Each fault is recorded with the chat id it hit, so a benchmark can tell a lost
reminder from one the bot knowingly recorded as unknown. Random but seeded: runs repeat.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

BEFORE = ("reset_before", "429", "5xx")
AFTER = ("reset_after", "delay")
AMBIGUOUS = ("reset_before", "reset_after", "delay")  # the client cannot tell if it arrived


@dataclass
class FaultPlan:
    """How often each fault hits a faultable request (probabilities, 0..1) and for how long."""

    rates: dict[str, float] = field(default_factory=dict)  # fault name -> probability
    methods: tuple[str, ...] = ("sendmessage",)  # lower-case Bot API methods that may fail
    retry_after: int = 3  # seconds, in the 429 answers
    delay: tuple[float, float] = (5.0, 30.0)  # seconds an answer is held back
    outages: list[tuple[float, float]] = field(default_factory=list)  # (start, end) s: all 502
    storms: list[tuple[float, float]] = field(default_factory=list)  # 429 for everything
    # (window times count from the first faultable request, so worker start-up does not matter)
    seed: int = 15


@dataclass(frozen=True)
class Fault:
    """One injected fault."""

    kind: str
    method: str
    chat_id: int | None
    at: float  # seconds since the first faultable request


class FaultProxy:
    """aiohttp server on 127.0.0.1 forwarding to `upstream`, injecting faults per a FaultPlan."""

    def __init__(self, upstream: str, plan: FaultPlan) -> None:
        self.upstream = upstream.rstrip("/")
        self.plan = plan
        self.faults: list[Fault] = []
        self.forwarded = 0
        self._random = random.Random(plan.seed)
        self._first: float | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    async def start(self, port: int = 0) -> FaultProxy:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The server root to give the bot as TELEGRAM_BASE_URL."""
        return f"http://127.0.0.1:{self.port}"

    def counts(self) -> Counter[str]:
        return Counter(fault.kind for fault in self.faults)

    def ambiguous(self) -> int:
        """Faults after which the client cannot know whether the message arrived."""
        return sum(1 for fault in self.faults if fault.kind in AMBIGUOUS)

    # -- the request path ---------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        method = request.path.rsplit("/", 1)[-1].lower()
        chat_id = _chat_id(body, request.content_type)
        fault = self._choose(method)
        if fault is not None:
            self.faults.append(Fault(fault, method, chat_id, self._elapsed()))
        if fault in BEFORE:
            return self._fail_before(request, fault)
        status, headers, payload = await self._forward(request, body)
        self.forwarded += 1
        if fault == "reset_after":
            return _reset(request)
        if fault == "delay":
            await asyncio.sleep(self._random.uniform(*self.plan.delay))
        return web.Response(status=status, body=payload, content_type=headers)

    def _choose(self, method: str) -> str | None:
        if method not in self.plan.methods:
            return None
        if self._first is None:  # windows count from the first faultable request
            self._first = time.monotonic()
        now = self._elapsed()
        if any(start <= now < end for start, end in self.plan.outages):
            return "5xx"  # a gateway answering for an unreachable Bot API
        if any(start <= now < end for start, end in self.plan.storms):
            return "429"
        roll = self._random.random()
        for kind, rate in self.plan.rates.items():
            if roll < rate:
                return kind
            roll -= rate
        return None

    def _fail_before(self, request: web.Request, fault: str) -> web.StreamResponse:
        if fault == "reset_before":
            return _reset(request)
        if fault == "429":
            wait = self.plan.retry_after
            return _error(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        return _error(502, "Bad Gateway")

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, str, bytes]:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() == "content-type"}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as answer:
            return answer.status, answer.content_type, await answer.read()

    def _elapsed(self) -> float:
        return time.monotonic() - (self._first or time.monotonic())


def _reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection without an answer (the client sees a reset / disconnect)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=500)  # never reaches the client: the socket is gone


def _error(status: int, description: str, parameters: dict | None = None) -> web.Response:
    payload: dict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return web.json_response(payload, status=status)


def _chat_id(body: bytes, content_type: str) -> int | None:
    """The chat a request is for (JSON or form bodies; PTB posts JSON)."""
    try:
        if content_type == "application/json":
            value = json.loads(body or b"{}").get("chat_id")
        else:
            from urllib.parse import parse_qs

            value = (parse_qs(body.decode(errors="replace")).get("chat_id") or [None])[0]
        return int(value) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None
