"""Check that the eval sets stay distinct from the product data they are measured against.

An eval message that is a near-duplicate of an intent example, a safety example, a chunk's
example question, title or alias would measure memory, not understanding; a phrase from the shared
real-user dev files must not leak into either side (a held-out half of them is the real test).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import frontmatter
import yaml
from rapidfuzz import fuzz, process

from bot.config import PROJECT_ROOT
from bot.devtools import realistic

THRESHOLD = 85.0  # rapidfuzz ratio (0-100) at or above which two texts count as near-duplicates
EVAL_FILES = (realistic.MESSAGES_FILE, realistic.DIALOGUES_FILE)
KNOWLEDGE = PROJECT_ROOT / "knowledge"
# The shared dev files sit next to the checkout (../shared), or next to the worktrees' parent.
SHARED = next(
    (
        path
        for path in (PROJECT_ROOT.parent / "shared", PROJECT_ROOT.parent.parent / "shared")
        if path.is_dir()
    ),
    PROJECT_ROOT.parent / "shared",
)
REAL_USER_FILES = (
    SHARED / "real-user-messages-dev.jsonl",
    SHARED / "real-user-dialogues-dev.jsonl",
)


@dataclass(frozen=True)
class Overlap:
    text: str
    other: str
    origin: str
    score: float


def normalise(text: str) -> str:
    """Lower case, punctuation and repeated spaces dropped: 'Hi!!' and 'hi' are the same text."""
    words = " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
    return words or text.strip()  # an emoji-only message is compared as it is


def jsonl_questions(path: Path) -> list[str]:
    """Every user message in a messages file ({"q"}) or a dialogues file ({"turns": [{"q"}]})."""
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        texts += [turn["q"] for turn in row["turns"]] if "turns" in row else [row["q"]]
    return texts


def product_texts(knowledge: Path = KNOWLEDGE) -> dict[str, str]:
    """Intent and safety examples plus each chunk's questions, title and aliases, by origin."""
    texts: dict[str, str] = {}
    intents = yaml.safe_load((knowledge / "intents.yaml").read_text(encoding="utf-8"))
    for intent in intents["intents"]:
        for example in intent["examples"]:
            texts[str(example)] = f"intents.yaml:{intent['intent']}"
    safety = yaml.safe_load((knowledge / "safety_examples.yaml").read_text(encoding="utf-8"))
    for sign, examples in safety["warning"].items():
        texts.update({str(example): f"safety_examples.yaml:warning:{sign}" for example in examples})
    texts.update({str(example): "safety_examples.yaml:benign" for example in safety["benign"]})
    for path in sorted(knowledge.glob("*.md")):
        meta = frontmatter.load(str(path)).metadata
        for field in ("questions", "aliases"):
            texts.update({str(text): f"{path.name}:{field}" for text in meta.get(field) or ()})
        texts[str(meta["title"])] = f"{path.name}:title"
    return texts


def overlaps(
    texts: list[str], others: dict[str, str], threshold: float = THRESHOLD
) -> list[Overlap]:
    """Each text whose closest other text (normalised) scores at or above the threshold."""
    keys = list(others)
    choices = [normalise(key) for key in keys]
    found = []
    for text in texts:
        best = process.extractOne(
            normalise(text), choices, scorer=fuzz.ratio, score_cutoff=threshold
        )
        if best is not None:
            other = keys[best[2]]
            found.append(Overlap(text, other, others[other], round(best[1], 1)))
    return found


def check(
    knowledge: Path = KNOWLEDGE,
    eval_files=realistic.ALL_FILES,
    real_files=REAL_USER_FILES,
) -> list[Overlap]:
    """All near-duplicates: eval vs product data, and either vs the real-user dev files."""
    eval_texts = [text for path in eval_files for text in jsonl_questions(path)]
    product = product_texts(knowledge)
    found = overlaps(eval_texts, product)
    real = {
        text: path.name for path in real_files if path.exists() for text in jsonl_questions(path)
    }
    # Titles and aliases predate this check; the data written for the understanding step does not.
    written = [
        text for text, origin in product.items() if not origin.endswith((":title", ":aliases"))
    ]
    if real:
        found += overlaps(eval_texts + written, real)
    return found


def main() -> int:
    found = check()
    for item in found:
        print(f"{item.score:5.1f}  {item.text!r}  ~  {item.other!r}  ({item.origin})")
    print(f"{len(found)} near-duplicates (rapidfuzz ratio >= {THRESHOLD:g})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
