"""Fuzzy token matching between text we planted and text OCR read back.

OCR of burned-in text is noisy: ``O``/``0`` and ``I``/``l``/``1`` swap, the DICOM name separator
``^`` is dropped or read as ``A``/``*``, and neighbouring words merge. A leak must still be
recognised through that noise, so matching is done per expected token against any window of the
OCR text (merges do not hide a token), on a canonical alphabet (confusable glyphs folded), with
a similarity ratio (difflib) rather than equality. Tokens shorter than :data:`MIN_TOKEN` are
ignored: two-character fragments ("01", "MR") match random OCR garbage too easily.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

#: shortest expected token that counts (shorter ones are used only if nothing else is left)
MIN_TOKEN = 3
#: similarity ratio (difflib, 0..1) from which an OCR window counts as the expected token
TOKEN_RATIO = 0.8

_SPLIT = re.compile(r"[^0-9A-Za-z]+")
#: glyphs OCR confuses, folded to one representative on both sides before comparing
_CONFUSABLE = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "S": "5",
                             "B": "8", "Z": "2", "G": "6"})


@dataclass(frozen=True)
class TokenMatch:
    """How many expected tokens were found in an OCR reading, and which."""

    found: tuple[str, ...]
    total: int

    @property
    def fraction(self) -> float:
        return len(self.found) / self.total if self.total else 0.0

    @property
    def readable(self) -> bool:
        """True when at least half of the expected tokens were read: the text is readable.

        Half, not a strict majority: with a two-token name (SMITH^JANE) the surname alone is
        already an identifier. One token of three ("SMITH" of SMITH^JANE^ANN) is a partial leak,
        reported through the score, not a failure.
        """
        return self.total > 0 and len(self.found) * 2 >= self.total

    def union(self, other: "TokenMatch") -> "TokenMatch":
        """Tokens found by either of two readings of the same text."""
        found = self.found + tuple(t for t in other.found if t not in self.found)
        return TokenMatch(found, max(self.total, other.total))


def canonical(text: str) -> str:
    """Upper-case alphanumerics only, with confusable glyphs folded (``DOE^J0HN`` -> ``00EJ0HN``)."""
    return _SPLIT.sub("", text).upper().translate(_CONFUSABLE)


def tokens(text: str) -> list[str]:
    """Expected tokens of a planted text: alphanumeric runs of at least MIN_TOKEN characters.

    Falls back to all runs when every one is short (so "45 Y" is still checked as something).
    """
    runs = [r for r in _SPLIT.split(text) if r]
    long_runs = [r for r in runs if len(r) >= MIN_TOKEN]
    return long_runs or runs


def window_ratio(needle: str, haystack: str) -> float:
    """Best difflib ratio of ``needle`` against any window of ``haystack`` of similar length.

    Windows are len(needle) or one longer (an inserted glyph); one shorter (a dropped glyph)
    only for needles of 5+ characters: "MN" must not count as "MRN", nor "204" as "2004".
    """
    shortest = len(needle) - 1 if len(needle) >= 5 else len(needle)
    if not needle or len(haystack) < shortest:
        return 0.0
    best = 0.0
    for size in range(shortest, min(len(needle) + 1, len(haystack)) + 1):
        for start in range(len(haystack) - size + 1):
            ratio = SequenceMatcher(None, needle, haystack[start:start + size],
                                    autojunk=False).ratio()
            if ratio > best:
                best = ratio
                if best == 1.0:
                    return best
    return best


def match(expected: str, observed: str, ratio: float = TOKEN_RATIO) -> TokenMatch:
    """Which tokens of ``expected`` can be read in ``observed`` (OCR output), fuzzily."""
    wanted = tokens(expected)
    haystack = canonical(observed)
    found = tuple(t for t in wanted if window_ratio(canonical(t), haystack) >= ratio)
    return TokenMatch(found, len(wanted))
