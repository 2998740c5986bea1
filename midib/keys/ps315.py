"""DICOM PS3.15 Table E.1-1: the action the Basic profile and its options require per attribute.

The table lives in ``midib/data/ps315_e1_1.json`` (built by ``scripts/derive_ps315.py`` from the
2026c basic actions and the 2020 option columns). Codes are the standard's: D (replace with a
dummy), Z (zero-length or dummy), X (remove), K (keep), C (clean), U (replace UIDs
consistently) and their combinations (X/Z, X/D, Z/D, X/Z/D, X/Z/U*).

When a profile applies several options with a column for the same attribute, the most
retentive wins (K, then C, then anything else), because options exist to retain information
and the standard lets a retaining option override a removing one. A profile ``override`` beats
everything. Attributes the table does not list are retained (K) for standard tags; private
attributes follow the table's private row (X, or C under rtnSafePrivOpt).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional, Union

from pydicom.tag import Tag

from midib.resources import load_data_json
from midib.keys.profile import Profile
from midib.tagpath import Step, TagPath

#: codes under which the original value does not survive in the output
REMOVING = frozenset({"X", "Z", "D", "X/Z", "X/D", "Z/D", "X/Z/D"})
#: codes that require a non-empty dummy value (type 1 attributes)
DUMMY = frozenset({"D"})
_PRECEDENCE = {"K": 0, "C": 1}

TagLike = Union[Step, TagPath, str, int, tuple[int, int]]


@lru_cache(maxsize=1)
def table() -> dict[str, Any]:
    """The parsed table file (cached: it is read once per process)."""
    return load_data_json("ps315_e1_1.json", "PS3.15 table")


def _step(tag: TagLike) -> Step:
    """Coerce the accepted tag forms to a single path step (a path's leaf)."""
    if isinstance(tag, Step):
        return tag
    if isinstance(tag, TagPath):
        return tag.leaf
    if isinstance(tag, str) and tag.strip().startswith("("):
        return TagPath.parse(tag).leaf
    t = Tag(tag)
    return Step(t.group, t.element)


def table_key(tag: TagLike) -> str:
    """The table row key of a tag: ``(0010,0010)``, ``(60xx,3000)``, ``(50xx,xxxx)`` or ``private``."""
    step = _step(tag)
    if step.creator is not None or step.group % 2 == 1:
        return "private"
    rows = table()["attributes"]
    exact = f"({step.group:04x},{step.element:04x})"
    if exact in rows:
        return exact
    if 0x6000 <= step.group <= 0x601E:
        return f"(60xx,{step.element:04x})"
    if 0x5000 <= step.group <= 0x501E:
        return "(50xx,xxxx)"
    return exact


def row_for(tag: TagLike) -> Optional[dict[str, Any]]:
    """The table row for ``tag`` (name, basic, options), or None if the table does not list it."""
    key = table_key(tag)
    if key == "private":
        return {"name": "Private attributes", **table()["private"]}
    row = table()["attributes"].get(key)
    if row is not None and _is_temporal(key) and not _TEMPORAL_OPTIONS.keys() & row.get("options", {}).keys():
        # Rows added to Table E.1-1 after the 2020 edition (whose option columns we carry) lack
        # them; the standard applies the Retain Longitudinal Temporal Information options to
        # every date and time (PS3.15 E.3.6), so a DA/DT/TM row without columns gets them.
        row = {**row, "options": {**row.get("options", {}), **_TEMPORAL_OPTIONS}}
    return row


_TEMPORAL_OPTIONS = {"rtnLongFullDatesOpt": "K", "rtnLongModifDatesOpt": "C"}


#: dates of the person rather than of the care: no temporal option retains them
_PERSONAL_DATES = {"(0010,0030)", "(0010,0032)"}


def _is_temporal(key: str) -> bool:
    """True when the table row names a date, date-time or time of the course of care."""
    if "x" in key or key in _PERSONAL_DATES:
        return False
    from pydicom.datadict import dictionary_VR

    try:
        return dictionary_VR(int(key[1:5] + key[6:10], 16)) in ("DA", "DT", "TM")
    except KeyError:
        return False


def listed_action(tag: TagLike, profile: Profile) -> Optional[tuple[str, Optional[str]]]:
    """(code, option) if the table or the profile says something about ``tag``, else None."""
    key = table_key(tag)
    exact = f"({_step(tag).group:04x},{_step(tag).element:04x})"
    for k in (exact, key):
        if k in profile.overrides:
            return profile.overrides[k], "override"
    row = row_for(tag)
    if row is None:
        return None
    applied = [(code, opt) for opt, code in row.get("options", {}).items() if profile.has(opt)]
    if applied:
        applied.sort(key=lambda c: (_PRECEDENCE.get(c[0], 2), profile.options.index(c[1])))
        return applied[0]
    return row["basic"], None


def action_for(tag: TagLike, profile: Profile) -> tuple[str, Optional[str]]:
    """The action code ``tag`` gets under ``profile`` and the option that decided it (or None).

    >>> action_for("(0010,0040)", load_profile("midi-b"))   # doctest: +SKIP
    ('K', 'rtnPatCharsOpt')
    """
    return listed_action(tag, profile) or ("K", None)


def attribute_name(tag: TagLike) -> str:
    """The table's name for ``tag`` ('' when unlisted)."""
    row = row_for(tag)
    return row["name"] if row else ""
