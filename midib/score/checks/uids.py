"""Checks on identifiers: UIDs changed and valid, mapped consistently, references followed."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Optional

from midib.answer_key import Check
from midib.score.checks import Observed, register
from midib.score.verdict import Verdict

_UID = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$")


@lru_cache(maxsize=1 << 14)
def uid_problem(uid: str) -> str:
    """Why ``uid`` is not a valid DICOM UID ('' if it is): <= 64 chars, digits and dots, no
    leading zeros in a component (PS3.5 9.1). Memoised: every instance of a series repeats its
    study, series and frame-of-reference UIDs."""
    if not uid:
        return "empty UID"
    if len(uid) > 64:
        return f"UID longer than 64 characters ({len(uid)})"
    if not _UID.match(uid):
        return f"invalid UID syntax {uid[:70]!r}"
    return ""


@lru_cache(maxsize=4096)
def removable_parent(path: Optional[str]) -> str:
    """The sequence enclosing ``path`` that PS3.15 Table E.1-1 lets a tool remove (X among its
    basic-profile actions: Source Image Sequence is X/Z/U*), as ``name (action)``; '' when none
    does. A UID in such a sequence is replaced (U) if kept, but removing the whole sequence
    removes the reference with it, as the profile allows: no failure."""
    if not path or "[" not in path:
        return ""
    from midib.keys.ps315 import row_for   # the table, read once
    from midib.tagpath import TagPath
    try:
        steps = TagPath.parse(path).steps[:-1]
    except Exception:
        return ""
    for step in steps:
        row = row_for(step)
        if row is not None and "X" in str(row.get("basic", "")).replace("*", "").split("/"):
            return f"{row.get('name', step)} ({row['basic']})"
    return ""


def _removed_as_allowed(check: Check, observed: Observed) -> Optional[Verdict]:
    """A pass when the UID is gone with a sequence the profile lets a tool remove, else None."""
    if observed.values:
        return None
    parent = removable_parent(check.path)
    return Verdict.ok(f"removed with {parent}") if parent else None


@register("uid_changed")
def uid_changed(check: Check, observed: Observed) -> Verdict:
    """The UID is present, valid, and no longer the original (or gone with a sequence the
    profile lets a tool remove)."""
    original = str(check.expected.get("value", "")).strip()
    values = observed.values
    if not values:
        return _removed_as_allowed(check, observed) or Verdict.fail("UID removed; it should be replaced")
    for v in values:
        if problem := uid_problem(v):
            return Verdict.fail(problem, observed.shown())
        if v == original:
            return Verdict.fail(f"UID not changed: still {original}", observed.shown())
    return Verdict.ok(observed.shown())


def _holds(value: str, original: str) -> bool:
    """``original`` inside ``value`` as a whole token (case ignored): ``P1 MRN123`` holds
    ``MRN123``; ``2.25.1234`` does not hold ``1234``."""
    if original.lower() not in value.lower():
        return False
    return any(tok == original.lower() for tok in re.split(r"[\s\\^,;|/]+", value.lower()))


def _consistent(original: str, values: list[str], mapped: dict[str, set[str]], what: str,
                shown: str, siblings: Iterable[str] = ()) -> Verdict:
    """One consistent replacement for ``original``; the reason names what the tool did, so an
    emptied value (Z) is not reported as "not mapped" (it fails all the same: the profile asks
    for a consistent pseudonym)."""
    if not values:
        return Verdict.fail(f"{what} removed")
    if not any(v.strip() for v in values):
        return Verdict.fail(f"{what} emptied (zero-length); a consistent replacement is expected",
                            shown)
    if values[0] == original:
        # mapping a value to itself is "consistent" but is no de-identification at all
        return Verdict.fail(f"{what} not replaced: still the original", shown)
    if original and any(_holds(v, original) for v in values):
        # the original kept as a second value or beside the pseudonym: a leak however consistent
        return Verdict.fail(f"{what} still holds the original {original!r} beside its replacement", shown)
    if len({v.strip() for v in values}) > 1:
        return Verdict.fail(f"{what} holds {len(values)} values where one replacement is expected", shown)
    news = mapped.get(original)
    if not news:
        return Verdict.fail(f"{what} {original} was not mapped to any new value", shown)
    if len(news) > 1:
        return Verdict.fail(f"{what} {original} mapped to {len(news)} different values: "
                            f"{', '.join(sorted(news)[:3])}", shown)
    if values[0] not in news:
        if moved := sorted(set(news) & set(siblings)):
            return Verdict(True, 1.0, shown, f"its mapping {moved[0]} is in another item: items reordered")
        return Verdict.fail(f"{what} does not follow the mapping ({next(iter(news))})", shown)
    return Verdict.ok(shown)


def sibling_values(check: Check, observed: Observed) -> list[str]:
    """The values at the check's path in every item of the sequences enclosing it (the path
    with its item numbers as ``[*]``); none for a top-level path.

    Reference sequences (Referenced SOP, Contour Image, Referenced Instance, Source Image) are
    unordered lists: a tool that rewrites them may write the items in another order, and the
    reference to item 0's original object then sits, correctly mapped, in item 2. The key pins
    each reference to its item; the reference is right if the mapped UID is in any item."""
    if observed.record is None or not check.path or "[" not in check.path:
        return []
    from midib.score.observation import generic_key
    try:
        found = observed.record.at(generic_key(check.path))
    except Exception:   # a path the key wrote that TagPath cannot read: no siblings
        return []
    return [v for e in found for v in e.values]


@register("uid_consistent")
def uid_consistent(check: Check, observed: Observed) -> Verdict:
    """The new UID equals the one the original was mapped to everywhere else."""
    if (allowed := _removed_as_allowed(check, observed)) is not None:
        return allowed
    return _consistent(str(check.expected.get("value", "")).strip(), observed.values,
                       observed.maps.uid, "UID", observed.shown(), sibling_values(check, observed))


@register("patid_consistent")
def patid_consistent(check: Check, observed: Observed) -> Verdict:
    """The new PatientID equals the one the original was mapped to everywhere else."""
    return _consistent(str(check.expected.get("value", "")).strip(), observed.values,
                       observed.maps.patid, "PatientID", observed.shown())


@register("uid_reference")
def uid_reference(check: Check, observed: Observed) -> Verdict:
    """A reference (SEG/RTSTRUCT/SR/ReferencedImageSequence) names the referenced object's new UID."""
    original = str(check.expected.get("value", "")).strip()
    if not observed.values:
        return _removed_as_allowed(check, observed) or Verdict.fail("reference removed")
    news = observed.maps.primary.get(original) or observed.maps.uid.get(original)
    if not news:
        return Verdict.fail(f"referenced object {original} not found in the output", observed.shown())
    if observed.values[0] not in news:
        if moved := sorted(set(news) & set(sibling_values(check, observed))):
            return Verdict(True, 1.0, observed.shown(),
                           f"the reference {moved[0]} is in another item: items reordered")
        return Verdict.fail(f"reference not updated: expected {sorted(news)[0]}", observed.shown())
    return Verdict.ok(observed.shown())
