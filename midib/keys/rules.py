"""Which PS3.15 rule governs an attribute at a given depth, under a profile.

Table E.1-1 lists attributes, not paths. An attribute nested in a sequence is governed first by
its ancestors: if any ancestor sequence is removed or emptied under the profile (X, Z, D and
their combinations), nothing inside it survives, whatever the leaf's own row says. Otherwise the
leaf's own row decides; a leaf the table does not list inherits "clean" (C) from the nearest
ancestor being cleaned (e.g. TextValue inside a Content Sequence under Clean Structured
Content), and is otherwise retained implicitly (the standard keeps unlisted standard
attributes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from midib.keys.profile import Profile
from midib.keys.ps315 import REMOVING, listed_action
from midib.tagpath import TagPath

_DATE_VRS = frozenset({"DA", "DT", "TM"})


@dataclass(frozen=True)
class Decision:
    """The action governing one attribute path.

    ``listed`` is False when neither the table nor an ancestor says anything (implicit K);
    ``by_ancestor`` is the ancestor path whose removal governs the leaf, if any.
    """

    code: str
    option: Optional[str]
    listed: bool = True
    by_ancestor: Optional[str] = None

    @property
    def removes(self) -> bool:
        return self.code in REMOVING

    @property
    def is_uid(self) -> bool:
        return self.code in ("U", "X/Z/U*")


def decide(path: TagPath, profile: Profile) -> Decision:
    """The rule for ``path`` under ``profile`` (ancestors first, then the leaf)."""
    cleaning: Optional[Decision] = None
    for depth in range(len(path.steps) - 1):
        found = listed_action(path.steps[depth], profile)
        if found is None:
            continue
        code, option = found
        ancestor = str(TagPath(path.steps[: depth + 1], path.indexes[:depth]))
        if code in REMOVING:
            return Decision(code, option, True, ancestor)
        if code == "C":
            cleaning = Decision("C", option, True, None)
    found = listed_action(path.leaf, profile)
    if found is not None:
        return Decision(found[0], found[1])
    return cleaning or Decision("K", None, listed=False)


def is_temporal(vr: Optional[str], kind: str) -> bool:
    """True for dates, times and date-times (by VR when known, else by semantic kind)."""
    if vr:
        return vr in _DATE_VRS
    return kind.endswith(("_date", "_time", "_datetime")) or kind in ("date", "time", "datetime")


def is_date(vr: Optional[str], kind: str) -> bool:
    """True for values carrying a calendar date (DA, DT), which interval checks compare."""
    if vr:
        return vr in ("DA", "DT")
    return kind.endswith(("_date", "_datetime")) or kind in ("date", "datetime")


def uid_scope(path: TagPath) -> str:
    """Scope of a UID's consistency: study, series or instance (by the leaf attribute)."""
    leaf = path.leaf
    if (leaf.group, leaf.element) == (0x0020, 0x000D):
        return "study"
    if (leaf.group, leaf.element) == (0x0020, 0x000E):
        return "series"
    return "instance"
