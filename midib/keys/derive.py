"""Derive an answer key from a ledger under a profile: what a correct de-identifier must do.

The ledger says what was planted where; the profile says which PS3.15 options apply; this
module turns each ledger entry into the checks that follow (see docs/answer-key.md for every
rule). Streaming: entries are visited once in ledger order, after one cheap indexing pass that
collects the facts a single entry cannot know alone (each patient's first study date, for
interval checks, each instance's burned-in boxes, for pixel retention, and the values the key
retains for each patient, which a free-text fragment must then not be required removed). Check ids are
``<ledger id>/<action>`` (``deid/<instance>`` for the per-instance method check), so the same
ledger and profile always give the same key, byte for byte. Each check also carries the
attribute's requirement type in its SOP class's IOD (``midib.keys.iod``), where known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from midib.answer_key import Check
from midib.errors import MidibError
from midib.ledger import HIPAA_CLASSES, LedgerEntry, read_ledger
from midib.keys.iod import iod_type
from midib.keys.profile import Profile
from midib.keys.rules import Decision, decide, is_date, is_temporal, uid_scope
from midib.tagpath import TagPath

STUDY_DATE = "(0008,0020)"
STUDY_TIME = "(0008,0030)"
_DICOM_ACTIONS = frozenset({"text_retained", "tag_retained", "pixels_retained", "text_notnull",
                            "deid_recorded", "uid_consistent"})


@dataclass
class LedgerIndex:
    """Facts spanning entries: per patient the first study date and the values the key retains,
    per instance its PHI boxes.

    ``kept`` is per patient, not global, so that the generator, which derives each patient's
    checks in its own worker, writes the same key as :func:`derive_key_file` over the whole ledger.
    """

    profile: Optional[Profile] = None
    first_study: dict[str, tuple[str, str]] = field(default_factory=dict)  # pid -> (date, instance)
    boxes: dict[str, list[tuple[list[int], int]]] = field(default_factory=dict)
    kept: set[tuple[str, str]] = field(default_factory=set)   # (pid, normalised retained value)
    study_times: dict[str, str] = field(default_factory=dict)   # instance -> planted StudyTime

    def add(self, e: LedgerEntry) -> None:
        if e.role == "phi" and e.path == STUDY_DATE and e.value:
            best = self.first_study.get(e.patient_id)
            if best is None or e.value < best[0]:
                self.first_study[e.patient_id] = (e.value, e.instance)
        if e.role == "phi" and e.path == STUDY_TIME and e.value:
            self.study_times[e.instance] = e.value
        if e.channel == "pixel" and e.role == "phi" and e.box:
            self.boxes.setdefault(e.instance, []).append((list(e.box), int(e.frame or 0)))
        if self.profile is not None and e.value and retained_by_key(e, self.profile):
            self.kept.add((e.patient_id, normalised(e.value)))

    def retains(self, e: LedgerEntry) -> bool:
        """True if the key retains ``e``'s value elsewhere for the same patient."""
        return (e.patient_id, normalised(e.value)) in self.kept


def index_ledger(entries: Iterable[LedgerEntry], profile: Profile) -> LedgerIndex:
    """One pass over the ledger collecting what cross-entry checks need.

    ``profile`` must be the one the checks are derived under: it decides which values the key
    retains (an index without it requires every free-text fragment removed).
    """
    index = LedgerIndex(profile)
    for e in entries:
        index.add(e)
    return index


_WORD = re.compile(r"[0-9a-z]+")


def normalised(value: str) -> str:
    """Case and punctuation ignored, as the leak sweep compares values (``norm_text``), so a
    fragment ``ct19oc2`` is the retained StationName ``CT19OC2``."""
    return " ".join(_WORD.findall(value.lower()))


def derive_checks(entries: Iterable[LedgerEntry], profile: Profile,
                  index: Optional[LedgerIndex] = None) -> Iterator[Check]:
    """Every check the ledger implies under ``profile``, in ledger order.

    ``entries`` is read twice unless ``index`` is given; a one-shot iterator is materialised
    first (use :func:`derive_key_file` to stream a ledger file twice instead).
    """
    if index is None:
        if iter(entries) is entries:
            entries = list(entries)
        index = index_ledger(entries, profile)
    for _, check in checks_by_entry(entries, profile, index):
        yield check


def checks_by_entry(entries: Iterable[LedgerEntry], profile: Profile,
                    index: LedgerIndex) -> Iterator[tuple[int, Check]]:
    """(position of the entry in ``entries``, check) for every check, in ledger order.

    The position lets a caller that encodes checks before ledger ids are known (the parallel
    generator) put the right id in later; the per-instance deid check comes with the position
    of the instance's first entry.
    """
    seen: set[str] = set()
    for k, e in enumerate(entries):
        if e.instance not in seen:
            seen.add(e.instance)
            yield k, _deid_check(e, profile)
        for check in checks_for(e, profile, index):
            yield k, check


def derive_key_file(ledger_path: str | Path, profile: Profile) -> Iterator[Check]:
    """Stream the checks of a ledger file (two passes over the file, constant memory)."""
    ledger_path = Path(ledger_path)
    index = index_ledger(read_ledger(ledger_path), profile)
    return derive_checks(read_ledger(ledger_path), profile, index)


def checks_for(e: LedgerEntry, profile: Profile, index: LedgerIndex) -> Iterator[Check]:
    """The checks one ledger entry implies."""
    if e.channel in _FRAGMENT_CHANNELS and e.role == "phi" and index.retains(e):
        return  # the key keeps this value (e.g. a station name under rtnDevIdOpt): no PHI here
    if e.channel == "filename":
        yield _check(e, "text_removed", {"value": e.value, "where": "filename"}, path=None)
    elif e.channel == "pixel":
        yield from _pixel_checks(e, profile, index)
    elif e.channel == "overlay":
        yield from _overlay_checks(e, profile)
    elif e.path is None:
        raise MidibError(f"ledger entry {e.id}: channel {e.channel!r} needs an attribute path")
    else:
        path, d = _decided(e.path, profile)
        rules = _keep_checks if e.role == "keep" else _phi_checks
        yield from rules(e, path, d, profile, index)


_DECIDED: dict[str, tuple[TagPath, Decision]] = {}
_DECIDED_UNDER: list[Profile] = []


def _decided(text: str, profile: Profile) -> tuple[TagPath, Decision]:
    """(parsed path, decision) for a path string under ``profile``, remembered per profile object.

    A ledger repeats the same few hundred paths in every instance; parsing and deciding each
    again was a third of derivation time. Paths and decisions are immutable.
    """
    if not _DECIDED_UNDER or _DECIDED_UNDER[0] is not profile:
        _DECIDED.clear()
        _DECIDED_UNDER[:] = [profile]
    hit = _DECIDED.get(text)
    if hit is None:
        if len(_DECIDED) > 50000:
            _DECIDED.clear()
        path = TagPath.parse(text)
        hit = _DECIDED[text] = (path, decide(path, profile))
    return hit


#: channels whose entries are fragments of a longer text (free text, file names): such a
#: fragment is PHI only if the key does not keep the same value elsewhere for the patient
_FRAGMENT_CHANNELS = ("free_text", "filename")
#: what the rules below decide for an attribute entry (:func:`_rule`)
RETAINED, REMOVED, PRIVATE_REMOVED, PATID, UID, SHIFTED, CLEANED, UNLISTED, NONE = (
    "retained", "removed", "private_removed", "patid", "uid", "shifted", "cleaned", "unlisted",
    "none")


def _rule(e: LedgerEntry, path: TagPath, d: Decision) -> str:
    """Which rule governs an attribute entry (one place, so the checks, the index of retained
    values and :func:`expects_shift` can never disagree)."""
    if e.role == "keep":
        if d.removes or d.is_uid or (path.is_private and not (d.code == "C" and e.extra.get("safe"))):
            return NONE
        return RETAINED
    if path.is_private and not d.removes:
        return RETAINED if d.code == "C" and e.extra.get("safe") else PRIVATE_REMOVED
    if d.by_ancestor or (d.removes and not _is_patient_id(path)):
        return REMOVED
    if _is_patient_id(path) and d.code not in ("K", "C"):
        return PATID
    if d.is_uid:
        return UID
    if d.code == "C":
        # dates shifted under rtnLongModifDatesOpt; anything else cleaned or removed
        return SHIFTED if d.option == "rtnLongModifDatesOpt" and is_temporal(e.vr, e.kind) else CLEANED
    if d.listed:  # K by an option or override: the profile keeps this identifier
        return RETAINED
    return UNLISTED


def _attribute_rule(e: LedgerEntry, profile: Profile) -> str:
    """:func:`_rule` for any entry (NONE for pixels, overlays, file names and path-less ones)."""
    if e.channel in ("filename", "pixel", "overlay") or not e.path:
        return NONE
    path, d = _decided(e.path, profile)
    return _rule(e, path, d)


def retained_by_key(e: LedgerEntry, profile: Profile) -> bool:
    """True when the key derived under ``profile`` requires ``e``'s value kept (text_retained or
    tag_retained), the values the leak sweep does not search either (``Sweeper.keep``)."""
    return _attribute_rule(e, profile) == RETAINED


def expects_shift(e: LedgerEntry, profile: Profile) -> bool:
    """True when the key derived under ``profile`` requires ``e``'s value shifted (date_shifted).

    Scoring uses it to choose the dates the ``dates_intervals`` rule compares without holding the
    key's checks: a date the profile removes or empties (PatientBirthDate) may become any dummy,
    so its "shift" says nothing about the intervals.
    """
    return _attribute_rule(e, profile) == SHIFTED


def expects_uid_replaced(e: LedgerEntry, profile: Profile) -> bool:
    """True when the key derived under ``profile`` requires ``e``'s UID replaced (uid_changed,
    uid_consistent). Scoring derives the old -> new UID map from these places only: a UID the
    profile removes (a private element, a removed sequence) and the tool kept is that removal
    check's failure, not the tool's mapping of the UID, or one kept private copy would fail
    every instance's consistency checks, and only when no mapping CSV was given."""
    return _attribute_rule(e, profile) == UID


def _phi_checks(e: LedgerEntry, path: TagPath, d: Decision, profile: Profile,
                index: LedgerIndex) -> Iterator[Check]:
    """A planted identifier: removed, replaced, shifted, cleaned or (by option) retained."""
    ps = {"ps315_action": d.code, "ps315_option": d.option}
    rule = _rule(e, path, d)
    if rule == RETAINED:
        yield _check(e, "text_retained", {"value": e.value}, **ps)
    elif rule == PRIVATE_REMOVED:
        yield _check(e, "text_removed", {"value": e.value}, **ps)
    elif rule == REMOVED:
        yield _check(e, "text_removed", {"value": e.value}, **ps)
        if d.code == "D" and not d.by_ancestor and e.channel != "free_text":
            yield _check(e, "text_notnull", {"value": e.value}, **ps)
    elif rule == PATID:
        yield _check(e, "patid_consistent", {"value": e.value}, scope="patient", **ps)
    elif rule == UID:
        scope = uid_scope(path)
        yield _check(e, "uid_changed", {"value": e.value}, scope=scope, **ps)
        yield _check(e, "uid_consistent", {"value": e.value}, scope=scope, **ps)
    elif rule in (SHIFTED, CLEANED):
        yield from _clean_checks(e, rule, index, ps)
    else:  # unlisted in the table, yet an identifier: removing it is best practice
        yield from _unlisted_checks(e, ps)


def _clean_checks(e: LedgerEntry, rule: str, index: LedgerIndex,
                  ps: dict[str, Any]) -> Iterator[Check]:
    """C: dates shifted (rtnLongModifDatesOpt), free text cleaned, anything else removed."""
    if rule == SHIFTED:
        yield _check(e, "date_shifted", {"value": e.value}, **ps)
        ref = index.first_study.get(e.patient_id)
        if ref and is_date(e.vr, e.kind) and not (ref[1] == e.instance and e.path == STUDY_DATE):
            expected = {"value": e.value, "reference": ref[0], "reference_path": STUDY_DATE,
                        "reference_instance": ref[1]}
            if ref_time := index.study_times.get(ref[1]):
                # a tool shifting date and time together by days and hours moves a date across
                # midnight: the reference's time tells such a shift from a broken interval
                expected.update(reference_time=ref_time, reference_time_path=STUDY_TIME)
            yield _check(e, "date_interval", expected, **ps)
    elif e.channel == "free_text" and e.context:
        yield _check(e, "text_cleaned", _cleaned(e), **ps)
    else:
        yield _check(e, "text_removed", {"value": e.value}, **ps)


def _unlisted_checks(e: LedgerEntry, ps: dict[str, Any]) -> Iterator[Check]:
    ps = {**ps, "ps315_action": None}
    if e.channel == "free_text" and e.context:
        yield _check(e, "text_cleaned", _cleaned(e), category="best_practice", **ps)
    else:
        yield _check(e, "text_removed", {"value": e.value}, category="best_practice", **ps)


def _keep_checks(e: LedgerEntry, path: TagPath, d: Decision, profile: Profile,
                 index: LedgerIndex) -> Iterator[Check]:
    """A value that must survive, unless the profile itself removes or replaces it."""
    ps = {"ps315_action": d.code if d.listed else None, "ps315_option": d.option}
    if _rule(e, path, d) != RETAINED:
        return
    exact = e.extra.get("exact", True)
    yield _check(e, "text_retained" if exact else "tag_retained", {"value": e.value}, **ps)


def _pixel_checks(e: LedgerEntry, profile: Profile, index: LedgerIndex) -> Iterator[Check]:
    """Burned-in text hidden (Clean Pixel Data); pixels outside the boxes untouched."""
    if e.role == "keep" and e.kind == "pixel_data":
        boxes = index.boxes.get(e.instance, [])
        yield _check(e, "pixels_retained", {"md5": e.extra.get("md5", e.value),
                                            "boxes": [b for b, _ in boxes],
                                            "frames": [f for _, f in boxes]},
                     path="(7fe0,0010)", ps315_action="K")
    elif e.role == "phi" and profile.has("cleanPixelData"):
        text = e.extra.get("text", e.value)
        yield _check(e, "pixels_hidden", {"text": text, "box": e.box, "frame": int(e.frame or 0)},
                     ps315_action="C", ps315_option="cleanPixelData")


def _overlay_checks(e: LedgerEntry, profile: Profile) -> Iterator[Check]:
    """Overlay text: removed (X) under Basic, hidden or removed under Clean Graphics."""
    group = TagPath.parse(e.path).leaf.group if e.path else 0x6000
    code, option = ("C", "cleanGraphOpt") if profile.has("cleanGraphOpt") else ("X", None)
    yield _check(e, "overlay_hidden", {"text": e.extra.get("text", e.value),
                                       "group": f"{group:04x}", "box": e.box},
                 ps315_action=code, ps315_option=option)


def _deid_check(e: LedgerEntry, profile: Profile) -> Check:
    """One per instance: the de-identification method must be recorded (PS3.15 E.1.1)."""
    check = _check(e, "deid_recorded", {"options": list(profile.options)}, path="(0012,0062)")
    check.id, check.ledger_ids, check.hipaa_class = f"deid/{e.instance}", [], "none"
    check.tag_name = "PatientIdentityRemoved"
    return check


def _cleaned(e: LedgerEntry) -> dict[str, Any]:
    """text_cleaned expectation: the fragment gone, the clinical words around it kept."""
    context = e.context or ""
    rest = context.replace(e.value, " ") if e.value else context
    words = [w.strip(".,;:()") for w in rest.split()]
    retained = [w for w in words if len(w) > 2 and w.isalpha()]
    return {"removed": [e.value], "retained": retained, "value": context}


def _is_patient_id(path: TagPath) -> bool:
    return path.depth == 1 and (path.leaf.group, path.leaf.element) == (0x0010, 0x0020) \
        and not path.is_private


def _check(e: LedgerEntry, action: str, expected: dict[str, Any], *, path: Any = "",
           scope: str = "instance", category: Optional[str] = None, **cats: Any) -> Check:
    """A Check for entry ``e`` with the categories filled the documented way."""
    hipaa = e.phi_class if e.phi_class in HIPAA_CLASSES else "none"
    if category is None:
        category = _category(action, hipaa)
    where = e.path if path == "" else path
    return Check(
        id=f"{e.id}/{action}", instance=e.instance, file=e.file, patient_id=e.patient_id,
        study_uid=e.study_uid, series_uid=e.series_uid, modality=e.modality, scope=scope,
        action=action, path=where,
        tag_name=e.tag_name or (_keyword(e.path) if e.path else ""),
        expected=expected, category=category, hipaa_class=hipaa,
        ps315_action=cats.get("ps315_action"), ps315_option=cats.get("ps315_option"),
        iod_type=iod_type(e.sop_class_uid, where), weight=1.0, ledger_ids=[e.id],
        sop_class_uid=e.sop_class_uid)


_KEYWORDS: dict[str, str] = {}


def _keyword(text: str) -> str:
    """The keyword of a path's leaf (remembered: the same paths recur in every instance)."""
    hit = _KEYWORDS.get(text)
    if hit is None:
        if len(_KEYWORDS) > 50000:
            _KEYWORDS.clear()
        hit = _KEYWORDS[text] = TagPath.parse(text).keyword()
    return hit


def _category(action: str, hipaa: str) -> str:
    """hipaa for identifiers of the 18 classes; dicom for retention/conformance; else best practice."""
    if action in _DICOM_ACTIONS:
        return "dicom"
    if action == "date_interval":
        return "best_practice"
    return "hipaa" if hipaa != "none" else "dicom"
