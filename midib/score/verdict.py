"""The outcome of one check: passed or not, a score in [0, 1], what was seen and why.

Every check function, the leak sweep, the OCR and pixel comparisons return a :class:`Verdict`,
so the scorer can turn any of them into one results row without knowing where it came from.
``observed`` is what the output held (for the report); ``reason`` says why a check failed, in
words a tool developer can act on ("still holds DOE^JOHN", "no output matched").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """Passed or failed, with a partial score (1.0 for a pass) and an explanation."""

    passed: bool
    score: float
    observed: str = ""
    reason: str = ""

    @classmethod
    def ok(cls, observed: str = "") -> "Verdict":
        """A pass (score 1.0)."""
        return cls(True, 1.0, observed, "")

    @classmethod
    def fail(cls, reason: str, observed: str = "", score: float = 0.0) -> "Verdict":
        """A failure: ``reason`` must say what was wrong, ``score`` may give partial credit."""
        return cls(False, float(score), observed, reason)
