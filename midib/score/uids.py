"""UIDs across the whole output: old -> new maps, syntax, one-to-one, references followed.

The old values come from the ledger (every planted UID and PatientID, with its path), the new
ones from the matched output at the same path, so no source file has to be read. The maps feed
uid_consistent / patid_consistent / uid_reference, and the rules below add one row each per
instance: every UID valid; each old UID mapped to one new UID, no two old UIDs merged into one;
references to objects of the benchmark (SEG/RTSTRUCT/SR, ReferencedImageSequence, ...) naming
the referenced object's new UID.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from typing import Any, Union

from midib.answer_key import Check
from midib.ledger import LedgerEntry
from midib.score.checks import IdMaps, link
from midib.score.checks.uids import removable_parent, uid_problem
from midib.score.observation import OutputRecord, generic_key
from midib.score.rows import rule_row
from midib.score.verdict import Verdict
from midib.tagpath import TagPath

PATIENT_ID = "(0010,0020)"
PRIMARY = {"(0008,0018)": "instance", "(0020,000d)": "study_uid", "(0020,000e)": "series_uid"}

Known = Mapping[str, list[tuple[str, str]]]      # instance -> [(concrete path key, old value)]


@lru_cache(maxsize=65536)
def concrete_key(path: str) -> str:
    """A concrete path in the form the observation walk writes it (creators upper-cased)."""
    tp = TagPath.parse(path)
    out = []
    for i, step in enumerate(tp.steps):
        out.append(f'({step.group:04x},"{step.creator.strip().upper()}",{step.element:02x})'
                   if step.creator is not None else f"({step.group:04x},{step.element:04x})")
        if i < len(tp.indexes):
            out.append(f"[{tp.indexes[i]}]")
    return "".join(out)


def is_uid_entry(e: LedgerEntry) -> bool:
    return bool(e.path) and (e.vr == "UI" or e.channel == "uid" or e.kind.endswith("_uid"))


def value_at(record: OutputRecord, key: str) -> str | None:
    """The first value of the element at concrete path ``key`` in ``record``."""
    generic = generic_key(key)
    for e in record.at(generic):
        if e.path == key:
            return e.values[0] if e.values else ""
    return None


def derive_maps(pairs: Union[Mapping[str, OutputRecord], Iterable[tuple[str, OutputRecord]]],
                first_check: Mapping[str, Check], uids: Known, patids: Known) -> IdMaps:
    """old -> {new} for UIDs (all planted paths and primary ones) and PatientIDs, from the
    pairs (instance -> record, or a stream of them)."""
    maps = IdMaps()
    for inst, rec in (pairs.items() if isinstance(pairs, Mapping) else pairs):
        for key, old in uids.get(inst, []):
            if (new := value_at(rec, key)):
                link(maps.uid, old, new)
        for key, old in patids.get(inst, []):
            if (new := value_at(rec, key)):
                link(maps.patid, old, new)
        check = first_check.get(inst)
        for key, attr in PRIMARY.items():
            old = inst if attr == "instance" else getattr(check, attr, "") if check else ""
            new = rec.first(key)
            if old and new:
                link(maps.primary, old, new)
                link(maps.uid, old, new)
    return maps


def reverse_map(maps: IdMaps) -> dict[str, Collection[str]]:
    """new UID -> the old UIDs mapped to it (more than one: two objects merged)."""
    reverse: dict[str, Collection[str]] = {}
    for old, news in maps.uid.items():
        for new in news:
            link(reverse, new, old)
    return reverse


def instance_uid_rows(inst: str, rec: OutputRecord, like: Check | None, known: list[tuple[str, str]],
                      maps: IdMaps, reverse: Mapping[str, Collection[str]], replaced: set[str]) -> list[dict[str, Any]]:
    """One instance's rows: valid syntax, one-to-one mapping, references followed.

    References are judged only where the key expects the UID replaced (``replaced`` paths):
    where the profile removes the whole reference sequence, an emptied reference is correct.
    """
    bad = [f"{e.path}={v!r}: {p}" for e in rec.uids for v in e.values if v and (p := uid_problem(v))]
    rows = [rule_row("uid", f"uid/{inst}/valid", "uid_valid",
                     Verdict.fail("; ".join(bad[:3]), str(len(bad))) if bad else Verdict.ok(),
                     like=like, output_file=rec.file),
            _one_to_one(inst, rec, like, known, maps, reverse)]
    refs = [(k, old) for k, old in known if k in replaced]
    if (row := _references(inst, rec, like, refs, maps)) is not None:
        rows.append(row)
    return rows


def _one_to_one(inst, rec, like, known, maps: IdMaps, reverse) -> dict[str, Any]:
    problems = []
    for key, old in known:
        news = maps.uid.get(old, ())
        if len(news) > 1:
            problems.append(f"{old} became {len(news)} different UIDs")
        for new in news:
            if len(olds := reverse.get(new, ())) > 1:
                problems.append(f"{new} stands for {len(olds)} different original UIDs")
    verdict = Verdict.fail("; ".join(sorted(set(problems))[:3])) if problems else Verdict.ok()
    return rule_row("uid", f"uid/{inst}/one_to_one", "uid_one_to_one", verdict, like=like,
                    output_file=rec.file)


def _in_another_item(rec: OutputRecord, key: str, news: Collection[str]) -> bool:
    """The referenced object's new UID is at ``key`` in another item of the enclosing
    sequences: reference sequences are unordered, a tool may reorder their items (see
    :func:`midib.score.checks.uids.sibling_values`)."""
    return any(v in news for e in rec.at(generic_key(key)) for v in e.values)


def _references(inst, rec, like, known, maps: IdMaps) -> dict[str, Any] | None:
    refs = [(k, old) for k, old in known if "[" in k and old in maps.primary]
    if not refs:
        return None
    problems = []
    for key, old in refs:
        new = value_at(rec, key)
        if new is None and removable_parent(key):
            continue   # gone with a sequence the profile lets a tool remove (as uid_consistent)
        if new is None:
            problems.append(f"{key} removed")
        elif new not in maps.primary[old] and not _in_another_item(rec, key, maps.primary[old]):
            problems.append(f"{key} = {new}, not the referenced object's new UID")
    verdict = (Verdict.fail("; ".join(problems[:3]), str(len(problems))) if problems
               else Verdict.ok(str(len(refs))))
    return rule_row("uid", f"uid/{inst}/references", "uid_references", verdict, like=like,
                    output_file=rec.file)
