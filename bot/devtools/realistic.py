"""Realistic-message eval: single messages and multi-turn conversations, scored like real use.

Each row: `q`, `expect` (answer | howto | safety | unknown | smalltalk), `match` (a regex the
reply's first 800 characters must contain), optional `accept` (other kinds that also count) and
`split`. A conversation is `turns` of such rows sent by one user, in order, with context.
The shared real-user dev files are read from ../shared only when they are there (never in CI).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import PROJECT_ROOT
from bot.replies import Reply

DATA = Path(__file__).resolve().parent / "data"
MESSAGES_FILE = DATA / "realistic_messages.jsonl"
DIALOGUES_FILE = DATA / "realistic_dialogues.jsonl"
# Written apart from the set above, by a second writer who saw the knowledge but not that set;
# all of it is dev (tuned on), so it is reported with the dev split only.
SECOND_MESSAGES = DATA / "second_writer_messages.jsonl"
SECOND_DIALOGUES = DATA / "second_writer_dialogues.jsonl"
# A third writer's set, written last and never tuned on: reported with the test split.
THIRD_MESSAGES = DATA / "third_writer_messages.jsonl"
THIRD_DIALOGUES = DATA / "third_writer_dialogues.jsonl"
# A fourth writer's set, written after the ranking weights were first fitted: dev, like the second.
FOURTH_MESSAGES = DATA / "fourth_writer_messages.jsonl"
FOURTH_DIALOGUES = DATA / "fourth_writer_dialogues.jsonl"
# A fifth writer's, written after the fourth's was tuned on: dev too.
FIFTH_MESSAGES = DATA / "fifth_writer_messages.jsonl"
FIFTH_DIALOGUES = DATA / "fifth_writer_dialogues.jsonl"
# A sixth writer's, written in the session after the fifth's was tuned on. It was held out for one
# stop (measured, failures unread) and became dev the stop after, when the seventh's was written.
SIXTH_MESSAGES = DATA / "sixth_writer_messages.jsonl"
SIXTH_DIALOGUES = DATA / "sixth_writer_dialogues.jsonl"
# A seventh writer's, written while the sixth's became dev; never tuned on: reported with the test
# split, like the third.
SEVENTH_MESSAGES = DATA / "seventh_writer_messages.jsonl"
SEVENTH_DIALOGUES = DATA / "seventh_writer_dialogues.jsonl"
ALL_FILES = (
    MESSAGES_FILE,
    DIALOGUES_FILE,
    SECOND_MESSAGES,
    SECOND_DIALOGUES,
    THIRD_MESSAGES,
    THIRD_DIALOGUES,
    FOURTH_MESSAGES,
    FOURTH_DIALOGUES,
    FIFTH_MESSAGES,
    FIFTH_DIALOGUES,
    SIXTH_MESSAGES,
    SIXTH_DIALOGUES,
    SEVENTH_MESSAGES,
    SEVENTH_DIALOGUES,
)
# ../shared next to the clone, or next to the folder of worktrees the clone sits in.
SHARED = next(
    (p / "shared" for p in PROJECT_ROOT.parents[:2] if (p / "shared").is_dir()),
    PROJECT_ROOT.parent / "shared",
)
SHARED_MESSAGES = SHARED / "real-user-messages-dev.jsonl"
SHARED_DIALOGUES = SHARED / "real-user-dialogues-dev.jsonl"
READ_CHARS = 800  # what a person reads before deciding the reply helped

# Bars from issue 11, per bucket.
BARS = {
    "in_domain": 0.90,
    "red_flags": 1.00,
    "off_topic": 0.90,
    "small_talk": 0.95,
    "follow_ups": 0.85,
}
BUCKET = {
    "answer": "in_domain",
    "howto": "in_domain",
    "safety": "red_flags",
    "unknown": "off_topic",
    "smalltalk": "small_talk",
}

Answer = Callable[[str, str], Awaitable[Reply]]  # (user, text) -> reply, with that user's context


@dataclass(frozen=True)
class Case:
    q: str
    expect: str
    match: str
    accept: tuple[str, ...] = ()
    split: str = ""
    chunks: tuple[str, ...] = ()  # the chunks that answer it, where the row names them


@dataclass(frozen=True)
class Scored:
    case: Case
    kind: str
    ok: bool


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def case(row: dict, split: str = "") -> Case:
    accept = tuple(row.get("accept", ()))
    chunks = tuple(row.get("chunk", ()))
    return Case(row["q"], row["expect"], row["match"], accept, row.get("split", split), chunks)


def load_messages(path: Path = MESSAGES_FILE, split: str | None = None) -> list[Case]:
    cases = [case(row) for row in read_jsonl(path)]
    return [c for c in cases if split in (None, c.split)]


def load_dialogues(path: Path = DIALOGUES_FILE, split: str | None = None) -> list[list[Case]]:
    dialogues = []
    for row in read_jsonl(path):
        if split in (None, row.get("split")):
            dialogues.append([case(turn, row.get("split", "")) for turn in row["turns"]])
    return dialogues


def correct(c: Case, reply: Reply) -> bool:
    """The right kind of reply, saying what a correct reply says near its top."""
    if reply.kind.value not in (c.expect, *c.accept):
        return False
    return re.search(c.match, reply.text[:READ_CHARS], re.IGNORECASE) is not None


async def score_messages(answer: Answer, cases: list[Case], name: str = "") -> list[Scored]:
    """Each message from a user of its own: no context carries over."""
    scored = []
    for number, c in enumerate(cases):
        reply = await answer(f"eval-message-{name}-{number}", c.q)
        scored.append(Scored(c, reply.kind.value, correct(c, reply)))
    return scored


async def score_dialogues(
    answer: Answer, dialogues: list[list[Case]], name: str = ""
) -> list[list[Scored]]:
    """Each conversation turn by turn from one user, so follow-ups have their context."""
    results = []
    for number, turns in enumerate(dialogues):
        user = f"eval-dialogue-{name}-{number}"
        scored = []
        for c in turns:
            reply = await answer(user, c.q)
            scored.append(Scored(c, reply.kind.value, correct(c, reply)))
        results.append(scored)
    return results


def rates(messages: list[Scored], dialogues: list[list[Scored]]) -> dict[str, tuple[int, int]]:
    """(right, total) per bar; follow-ups are the turns after a conversation's first."""
    counts: dict[str, list[int]] = {name: [0, 0] for name in BARS}
    for s in messages:
        bucket = counts[BUCKET[s.case.expect]]
        bucket[0] += s.ok
        bucket[1] += 1
    for turns in dialogues:
        for s in turns[1:]:
            counts["follow_ups"][0] += s.ok
            counts["follow_ups"][1] += 1
    counts["conversations"] = [sum(all(s.ok for s in t) for t in dialogues), len(dialogues)]
    return {name: (right, total) for name, (right, total) in counts.items()}


def meets_bars(result: dict[str, tuple[int, int]]) -> dict[str, bool]:
    return {name: _rate(*result[name]) >= bar for name, bar in BARS.items() if result[name][1]}


def _rate(right: int, total: int) -> float:
    return right / total if total else 1.0


def report(name: str, result: dict[str, tuple[int, int]]) -> str:
    """One line per bar: right/total, the rate and whether it meets the bar."""
    lines = [f"{name}:"]
    for bucket, (right, total) in result.items():
        bar = BARS.get(bucket)
        verdict = "" if bar is None else ("  ok" if _rate(right, total) >= bar else "  BELOW")
        target = f" (bar {bar:.0%})" if bar is not None else ""
        lines.append(
            f"  {bucket:<14}{right:>4}/{total:<4} {_rate(right, total):6.1%}{target}{verdict}"
        )
    return "\n".join(lines)


def failures(messages: list[Scored], dialogues: list[list[Scored]]) -> list[str]:
    """The wrong turns, for reading (never for tuning on the test split)."""
    lines = [f"  [{s.case.expect}->{s.kind}] {s.case.q}" for s in messages if not s.ok]
    for turns in dialogues:
        if not all(s.ok for s in turns):
            trail = " | ".join(("" if s.ok else "✗ ") + f"{s.case.q} ->{s.kind}" for s in turns)
            lines.append(f"  dialogue: {trail}")
    return lines


async def evaluate(
    answer: Answer, split: str | None, verbose: bool = False, shared: bool = True
) -> str:
    """The report over the realistic sets (this split) and, when present, the shared dev files."""
    sets = [("realistic " + (split or "all"), MESSAGES_FILE, DIALOGUES_FILE, split)]
    if split != "test":
        sets.append(("second writer (dev)", SECOND_MESSAGES, SECOND_DIALOGUES, None))
        sets.append(("fourth writer (dev)", FOURTH_MESSAGES, FOURTH_DIALOGUES, None))
        sets.append(("fifth writer (dev)", FIFTH_MESSAGES, FIFTH_DIALOGUES, None))
        sets.append(("sixth writer (dev)", SIXTH_MESSAGES, SIXTH_DIALOGUES, None))
    if split != "dev":
        sets.append(("third writer (held out)", THIRD_MESSAGES, THIRD_DIALOGUES, None))
        sets.append(("seventh writer (held out)", SEVENTH_MESSAGES, SEVENTH_DIALOGUES, None))
    if shared and SHARED_MESSAGES.exists() and SHARED_DIALOGUES.exists():
        sets.append(("shared real-user dev", SHARED_MESSAGES, SHARED_DIALOGUES, None))
    parts = []
    for name, messages_file, dialogues_file, chosen in sets:
        messages = await score_messages(answer, load_messages(messages_file, chosen), name)
        dialogues = await score_dialogues(answer, load_dialogues(dialogues_file, chosen), name)
        parts.append(report(name, rates(messages, dialogues)))
        if verbose:
            parts.extend(failures(messages, dialogues))
    return "\n".join(parts)
