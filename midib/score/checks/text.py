"""Checks on text values: removed, retained, present, not empty, cleaned free text."""

from __future__ import annotations

from midib.answer_key import Check
from midib.score.checks import Observed, name_vr, register
from midib.score.values import contains_words, dates_in, dicom_date, same_value, value_present
from midib.score.verdict import Verdict

#: text VRs where a kept value may be a fragment of the element (clinical words around PHI)
FREE_TEXT_VRS = frozenset({"LO", "LT", "ST", "UT", "SH", "UC"})


@register("text_removed")
def text_removed(check: Check, observed: Observed) -> Verdict:
    """The planted value must be unreadable: absent, empty or replaced (names by components).

    A check without a path is about the output's file and folder names.
    """
    value = str(check.expected.get("value", ""))
    if check.path is None:
        where = observed.record.file if observed.record else ""
        if value_present(name_vr(check, observed), value, [where.replace("/", " ")]):
            return Verdict.fail(f"file name still holds {value!r}", where)
        return Verdict.ok(where)
    if value_present(name_vr(check, observed), value, observed.values):
        return Verdict.fail(f"still holds {value!r}", observed.shown())
    return Verdict.ok(observed.shown())


@register("text_retained")
def text_retained(check: Check, observed: Observed) -> Verdict:
    """The element must keep its value (compared as its VR says, value by value)."""
    value = str(check.expected.get("value", ""))
    if not observed.elements:
        return Verdict.fail("attribute removed; it should be kept")
    if any(same_value(e.vr, value, e.values) for e in observed.elements):
        return Verdict.ok(observed.shown())
    if observed.vr in FREE_TEXT_VRS and any(contains_words(v, value) for v in observed.values):
        return Verdict.ok(observed.shown())  # a kept fragment of free text, still there
    return Verdict.fail(f"value changed; expected {value!r}", observed.shown())


@register("tag_retained")
def tag_retained(check: Check, observed: Observed) -> Verdict:
    """The element must be present, whatever its value."""
    if not observed.elements:
        return Verdict.fail("attribute removed; it should be kept")
    return Verdict.ok(observed.shown())


@register("text_notnull")
def text_notnull(check: Check, observed: Observed) -> Verdict:
    """Present, not empty (type 1/2 attributes replaced by a dummy), and not the original."""
    value = str(check.expected.get("value", ""))
    if not observed.elements:
        return Verdict.fail("attribute removed; it must be replaced by a dummy value")
    if not any(v.strip() for v in observed.values):
        return Verdict.fail("attribute empty; it must hold a dummy value")
    if value_present(name_vr(check, observed), value, observed.values):
        return Verdict.fail(f"still holds {value!r}", observed.shown())
    return Verdict.ok(observed.shown())


def _fragment_present(fragment: str, vr: str | None, texts: list[str]) -> bool:
    if value_present(vr, fragment, texts):
        return True
    date = dicom_date(fragment)
    return date is not None and any(date in dates_in(t) for t in texts)


@register("text_cleaned")
def text_cleaned(check: Check, observed: Observed) -> Verdict:
    """Free text: every PHI fragment gone, every clinical word kept (partial credit)."""
    removed = [str(r) for r in check.expected.get("removed", [])]
    retained = [str(r) for r in check.expected.get("retained", [])]
    texts = observed.values
    vr = "PN" if check.hipaa_class == "names" else None
    leaks = [r for r in removed if _fragment_present(r, vr, texts)]
    lost = [r for r in retained if not any(contains_words(t, r) for t in texts)]
    total = len(removed) + len(retained)
    score = 1.0 - (len(leaks) + len(lost)) / total if total else 1.0
    if not leaks and not lost:
        return Verdict.ok(observed.shown())
    parts = []
    if leaks:
        parts.append(f"still holds {', '.join(map(repr, leaks))}")
    if lost:
        parts.append(f"lost clinical words {', '.join(map(repr, lost))}")
    return Verdict.fail("; ".join(parts), observed.shown(), score=score)
