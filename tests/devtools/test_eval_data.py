"""The realistic eval sets and the understanding data are well formed and stay distinct."""

from __future__ import annotations

import json
import re
from collections import Counter

import yaml

from bot.config import PROJECT_ROOT
from bot.devtools.check_eval_overlap import EVAL_FILES, check
from bot.knowledge import Kind, load_knowledge

KNOWLEDGE = PROJECT_ROOT / "knowledge"
MESSAGES, DIALOGUES = EVAL_FILES
KINDS = {"answer", "howto", "safety", "unknown", "smalltalk"}
INTENTS = {
    "greeting", "thanks", "goodbye", "capabilities", "affirm", "deny", "followup_harder",
    "followup_easier", "followup_dose", "followup_why", "followup_fix", "followup_show",
    "followup_more", "command_remind", "command_routine", "command_today", "command_progress",
    "command_forget",
    "question", "offtopic",
}  # fmt: skip


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _turns():
    return [turn for row in _rows(DIALOGUES) for turn in row["turns"]]


def _assert_labelled(item: dict) -> None:
    assert item["expect"] in KINDS, item
    assert set(item.get("accept", [])) <= KINDS - {item["expect"]}, item
    pattern = re.compile(item["match"], re.IGNORECASE)
    # A pattern that matches empty text would accept any reply at all.
    assert pattern.search("") is None, item


def test_messages_are_labelled_with_working_patterns():
    rows = _rows(MESSAGES)
    assert len(rows) >= 340
    assert len({row["q"] for row in rows}) == len(rows)
    for row in rows:
        _assert_labelled(row)
        assert row["topic"] and row["split"] in {"dev", "test"}, row


def test_dialogue_turns_are_labelled_with_working_patterns():
    rows = _rows(DIALOGUES)
    assert len(rows) >= 44
    for row in rows:
        assert 2 <= len(row["turns"]) <= 4 and row["split"] in {"dev", "test"}, row
        for turn in row["turns"]:
            _assert_labelled(turn)


def test_messages_cover_every_kind_in_the_intended_mix():
    counts = Counter(row["expect"] for row in _rows(MESSAGES))
    total = sum(counts.values())
    assert counts["answer"] / total >= 0.45
    assert counts["howto"] / total >= 0.12
    assert counts["safety"] / total >= 0.10
    assert counts["unknown"] / total >= 0.10 and counts["smalltalk"] / total >= 0.06
    assert sum(row["topic"] == "language" for row in _rows(MESSAGES)) >= 10


def test_splits_are_balanced_per_kind():
    rows = _rows(MESSAGES)
    for kind in KINDS:
        splits = Counter(row["split"] for row in rows if row["expect"] == kind)
        assert abs(splits["dev"] - splits["test"]) <= 1, (kind, splits)
    splits = Counter(row["split"] for row in _rows(DIALOGUES))
    assert abs(splits["dev"] - splits["test"]) <= 1, splits


def test_named_chunks_exist():
    ids = {chunk.id for chunk in load_knowledge(KNOWLEDGE).chunks}
    named = {chunk for row in _rows(MESSAGES) for chunk in row.get("chunk", [])}
    assert named, "no row names a chunk"
    assert named <= ids, sorted(named - ids)


def test_intents_have_enough_distinct_examples():
    data = yaml.safe_load((KNOWLEDGE / "intents.yaml").read_text(encoding="utf-8"))
    examples = {item["intent"]: item["examples"] for item in data["intents"]}
    assert set(examples) == INTENTS
    for intent, items in examples.items():
        # New questions and off-topic need the widest spread, so the model does not pull them
        # into small talk.
        wide = intent in ("question", "offtopic")
        assert 15 <= len(items) <= (80 if wide else 40), intent
    every = [str(item).lower() for items in examples.values() for item in items]
    assert len(set(every)) == len(every), "one example is filed under two intents"


def test_safety_examples_name_safety_chunks():
    data = yaml.safe_load((KNOWLEDGE / "safety_examples.yaml").read_text(encoding="utf-8"))
    safety = {chunk.id for chunk in load_knowledge(KNOWLEDGE).of_kind(Kind.SAFETY)}
    assert set(data["warning"]) <= safety
    assert sum(len(items) for items in data["warning"].values()) >= 70
    assert len(data["benign"]) >= 70
    warnings = {str(item).lower() for items in data["warning"].values() for item in items}
    assert not warnings & {str(item).lower() for item in data["benign"]}


def test_eval_sets_are_not_near_duplicates_of_product_data():
    found = check()
    assert not found, [(item.text, item.other, item.origin) for item in found[:10]]


def _chunk_text(kb, chunk) -> str:
    """Everything a reply built from this chunk could show, variants' titles included."""
    parts = [chunk.title, chunk.summary, chunk.body, *chunk.steps, *chunk.mistakes]
    parts += [chunk.easier or "", chunk.harder or "", ", ".join(chunk.muscles)]
    parts += [chunk.dosage.describe()] if chunk.dosage else []
    parts += [kb.by_id(ref).title for ref in (chunk.easier, chunk.harder) if kb.get(ref)]
    return "\n".join(parts)


def test_named_chunks_can_satisfy_their_pattern():
    """A pattern no named chunk can meet is a wrong label (or a knowledge edit that broke it)."""
    kb = load_knowledge(KNOWLEDGE)
    unmet = [
        row["q"]
        for row in _rows(MESSAGES)
        if row["expect"] in {"answer", "howto"} and row.get("chunk")
        if not any(
            re.search(row["match"], _chunk_text(kb, kb.by_id(ref)), re.IGNORECASE)
            for ref in row["chunk"]
        )
    ]
    assert unmet == []
