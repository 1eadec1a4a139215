r"""8-word shingles: a fingerprint of the source texts, so knowledge/ can be checked for copying.

The fact sheet lives outside the repository (../shared), so CI checks against a committed
fingerprint: sha1 prefixes of every normalised 8-word run, never the text itself. Regenerate it
when the fact sheet changes:

    python -m bot.devtools.originality ../shared/knee-valgus-facts.md \
        > bot/devtools/data/source_shingles.txt
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

SHINGLE_WORDS = 8
SHINGLES_FILE = Path(__file__).parent / "data" / "source_shingles.txt"
HASH_CHARS = 12  # 48 bits: no accidental collisions among a few thousand shingles
WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case words with accents, punctuation and markup dropped ("8–12" -> 8, 12)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return WORD.findall(folded.lower())


def shingles(text: str, size: int = SHINGLE_WORDS) -> Iterator[tuple[str, ...]]:
    tokens = words(text)
    for start in range(len(tokens) - size + 1):
        yield tuple(tokens[start : start + size])


def digest(shingle: Iterable[str]) -> str:
    return hashlib.sha1(" ".join(shingle).encode()).hexdigest()[:HASH_CHARS]


def fingerprint(text: str) -> set[str]:
    return {digest(shingle) for shingle in shingles(text)}


def main(paths: list[str]) -> None:
    hashes: set[str] = set()
    for path in paths:
        hashes |= fingerprint(Path(path).read_text(encoding="utf-8"))
    sys.stdout.write("".join(f"{item}\n" for item in sorted(hashes)))


if __name__ == "__main__":
    main(sys.argv[1:])
