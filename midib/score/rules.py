"""midib's own rules beyond the answer key: UIDs, dates, the leak sweep, the truthfulness of
the de-identification record, duplicate outputs, and conformance (dciodvfy).

Each rule adds rows with its own ``source`` so reports can show them apart from key checks.
Per-instance rules run as the key is streamed instance by instance (:class:`InstanceRules`),
so they see that instance's checks without the whole key in memory.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from midib.answer_key import Check
from midib.score import deid
from midib.score.checks import IdMaps
from midib.score.dates import date_rows, shift_rows
from midib.score.encoded import is_decoded
from midib.score.matching import MatchResult
from midib.score.observation import OutputRecord
from midib.score.rows import rule_row
from midib.score.sweep import UNREAD, Sweeper, covered, relevant_hits, scan_file_name
from midib.score.uids import concrete_key, instance_uid_rows
from midib.score.verdict import Verdict

#: matched pairs validated between two hand-overs of rows to the sink
CONFORMANCE_CHUNK = 1000
_UID_ACTIONS = ("uid_changed", "uid_consistent", "uid_reference")


@dataclass
class InstanceRules:
    """Rules evaluated per instance as its checks stream by, then once at the end."""

    match: MatchResult
    maps: IdMaps
    reverse: Mapping[str, Collection[str]]
    sweeper: Sweeper
    ledger: Any                                   # inputs.LedgerFacts
    swept: set[str] = field(default_factory=set)  # output files already swept (this process)
    date_shifts: Optional[dict[str, dict[int, int]]] = None  # counted after matching (dates.py)
    date_offsets: Optional[dict[str, set[int]]] = None       # date-and-time shifts, seconds

    def rows_for(self, group: list[Check], failed: Collection[str], rec: OutputRecord) -> list[dict[str, Any]]:
        """UID, sweep and deid rows of the instance whose checks are ``group`` (``failed``: the
        ids of its failed checks), from ``rec``, the full observation of its output."""
        inst = group[0].instance
        if rec.file in self.swept:
            return []
        self.swept.add(rec.file)
        replaced = {concrete_key(c.path) for c in group if c.path and c.action in _UID_ACTIONS}
        rows = instance_uid_rows(inst, rec, group[0], self.ledger.uids.get(inst, []), self.maps,
                                 self.reverse, replaced)
        rows += sweep_rows(rec, group[0], self.sweeper, lambda: _checked(group, failed))
        actions = {c.action for c in group if c.id in failed}
        if (row := deid_row(inst, rec, group[0], actions)) is not None:
            rows.append(row)
        return rows

    def final_rows(self, first_of_patient: dict[str, Check]) -> list[dict[str, Any]]:
        """Date intervals per patient and duplicate outputs (unmatched outputs are swept in
        work units: :func:`midib.score.workunits.sweep_unit`)."""
        rows: list[dict[str, Any]] = []
        if self.date_shifts is not None:
            rows += shift_rows(self.date_shifts, first_of_patient, self.date_offsets)
        else:
            rows += date_rows(self.match.pairs, self.ledger.dates, first_of_patient,
                              getattr(self.ledger, "study_times", None))
        for dup in self.match.duplicate_outputs:
            rows.append(rule_row("matching", f"matching/duplicate/{dup['file']}", "unique_output",
                                 Verdict.fail(f"second output for {dup['instance']} "
                                              f"(scored: {dup['scored']})"),
                                 output_file=dup["file"]))
        return rows


#: actions whose value belongs where it is: a sweep hit of it there is the value kept as asked
_KEEPING = frozenset({"text_retained", "tag_retained"})


def _checked(group: list[Check], failed: Collection[str]) -> dict[str, list[str]]:
    """place -> values a key check there already counts (a sweep hit of one of them is no news):
    those of the checks that failed (the leak is a failed row already) and of those that keep
    a value. A check that passed does not cover the sweep: it compares the value as the key
    wrote it, and the sweep may have found it spelled otherwise (a study date ``20141122`` in a
    folder whose check looks for ``11-22-2014``; ``DOB 1939-03-04`` where the check looks for
    ``03/04/1939``; ``ANON-MRN38851048`` as a PatientID judged consistent)."""
    checked: dict[str, list[str]] = {}
    for c in group:
        if c.id not in failed and c.action not in _KEEPING:
            continue
        where = concrete_key(c.path) if c.path else "file name"
        exp = c.expected
        values = [str(v) for v in exp.get("removed", [])] + [str(exp.get("value", ""))]
        checked.setdefault(where, []).extend(values)
    return checked


def sweep_rows(rec: OutputRecord, like: Optional[Check], sweeper: Sweeper,
               checked: dict[str, list[str]] | Callable[[], dict[str, list[str]]]) -> list[dict[str, Any]]:
    """One failed row per PHI value found where the key does not already judge it
    (``checked`` may be a function: most outputs of a good tool have no hit to compare)."""
    patient = like.patient_id if like else None
    found = relevant_hits(rec.hits + scan_file_name(sweeper, rec.file), sweeper, patient)
    if not found:
        return []
    if callable(checked):
        checked = checked()
    seen = _read_as_text(rec)
    rows = []
    for nid, where, text in found:
        needle = sweeper.needle(nid)
        if needle is None:  # relevant_hits keeps only hits whose needle exists
            continue
        if like is not None and where in seen and not is_decoded(text) and covered(needle, checked.get(where, [])):
            continue
        if nid == UNREAD:   # not read, so not shown free of PHI: unscorable counts as failed
            rows.append(unread_row(rec.file, where, text, like))
            continue
        rows.append(rule_row(
            "sweep", f"sweep/{rec.file}/{where}/{nid}", "leak_sweep",
            Verdict.fail(f"{needle.kind} {needle.whole!r} found in {where}" +
                         (f" (as {needle.text!r})" if needle.text != needle.whole else ""), text[:200]),
            like=like, output_file=rec.file, path="" if where == "file name" else where,
            category="hipaa", hipaa_class=needle.phi_class, expected={"value": needle.whole}))
    return rows


def link_rows(root: Path, rejected: list[dict[str, str]], sweeper: Sweeper) -> list[dict[str, Any]]:
    """A failed row per symbolic link of the submission that leads out of it, and the sweep of
    where it leads. midib never follows it (another run's output must not score as this one's),
    but ``cp -L``, ``zip`` or an upload that follows links ships the file it names: a link to an
    original input hands over the patient's whole record, and its target's path may spell the
    patient's name or MRN."""
    rows: list[dict[str, Any]] = []
    top = root.resolve()
    for r in rejected:
        if r["reason"].startswith(("cannot stat", "cannot list folder")):
            rows.append(unread_row(r["file"], "", r["reason"]))
            continue
        if r["reason"].startswith("symbolic link to a folder") and _inside(root / r["file"], top):
            continue            # another way into a folder of the submission, read as such
        if not r["reason"].startswith(("symbolic link to outside", "symbolic link to a folder")):
            continue
        try:
            target = os.readlink(root / r["file"])
        except OSError:
            target = ""
        rows.append(rule_row("matching", f"matching/link/{r['file']}", "no_link_out",
                             Verdict.fail("a symbolic link out of the submission: copying or archiving "
                                          "it with its links followed ships the file it names",
                                          target[:200]),
                             output_file=r["file"], category="hipaa"))
        if target:
            rows += sweep_rows(OutputRecord(file=f"{r['file']} -> {target}"), None, sweeper, {})
    return rows


def _inside(link: Path, top: Path) -> bool:
    """Whether the folder ``link`` leads to lies in the submission (``top``, resolved)."""
    try:
        target = link.resolve()
    except (OSError, RuntimeError):
        return True             # a loop leads nowhere: nothing to ship
    return target == top or top in target.parents


def unread_row(file: str, where: str, why: str, like: Optional[Check] = None) -> dict[str, Any]:
    """A failed row for what the sweep could not read whole (``where`` in ``file``; "" for the
    entry itself: a path too long to stat, a folder it may not list, a 7-Zip file, an archive
    past its budget): a copy of the submission ships it all the same, and what nobody read
    cannot be shown free of PHI (an original under 25 folders of 250 characters, or in a .7z,
    scored 100 %)."""
    return rule_row("sweep", f"sweep/{file}/{where}/{UNREAD}/{why[:80]}", "leak_sweep",
                    Verdict.fail(f"{where or file} not read whole: {why}; what nobody read cannot be "
                                 f"shown free of PHI", why[:200]),
                    like=like, output_file=file, path=where, category="hipaa")


def _read_as_text(rec: OutputRecord) -> set[str]:
    """Places whose value the key's checks saw: the file name, and the elements read as text.
    A hit elsewhere at a checked place (the text runs of a binary value there: a PatientName
    written as UN bytes) is not covered by that check, which saw no value at all."""
    return {"file name"} | {e.path for found in rec.elements.values() for e in found if e is not None}


def deid_row(inst: str, rec: OutputRecord, like: Check, failed_actions: set[str]) -> Optional[dict[str, Any]]:
    """An output whose recorded method claims what was not done fails one more (deid) check."""
    if not deid.recorded_codes(rec):
        return None
    why = deid.claims_contradicted(rec, failed_actions)
    return rule_row("deid", f"deid/{inst}/truthful", "deid_truthful",
                    Verdict.fail(why) if why else Verdict.ok(), like=like,
                    output_file=rec.file, path="(0012,0064)")


def conformance_rows(match: MatchResult, sources: Mapping[str, Path], out_root: Path,
                     first_check: Mapping[str, Any], enabled: bool, jobs: int,
                     emit: Callable[[list[dict[str, Any]]], None]) -> dict[str, Any]:
    """dciodvfy on each matched pair: ONE row per matched instance, failed when the tool
    introduced any error (all listed in the reason), so every tool is judged on the same
    number of conformance checks; not run (no rows, with the reason) when dciodvfy is missing.

    Rows go to ``emit`` every :data:`CONFORMANCE_CHUNK` pairs: a list of every row (and of every
    output's error lines) grew by ~2 KB an instance until the phase ended."""
    if not enabled:
        return {"available": False, "reason": "disabled (--no-conformance)", "introduced_errors": 0}
    try:
        from midib.score.conformance import Dciodvfy
    except ImportError as e:
        return {"available": False, "reason": f"conformance module missing: {e}", "introduced_errors": 0}
    tool = Dciodvfy()
    ok, reason = tool.available()
    if not ok:
        return {"available": False, "reason": reason, "introduced_errors": 0}
    insts = [i for i in sorted(match.pairs) if i in sources and sources[i].is_file()]
    total = 0
    for start in range(0, len(insts), CONFORMANCE_CHUNK):
        chunk = insts[start:start + CONFORMANCE_CHUNK]
        found = tool.introduced_many([(sources[i], out_root / match.pairs[i].file) for i in chunk],
                                     workers=max(jobs, 2))
        rows = []
        for inst, errors in zip(chunk, found):
            verdict = (Verdict.fail(f"{len(errors)} dciodvfy error(s) introduced: " + "; ".join(errors))
                       if errors else Verdict.ok())
            rows.append(rule_row("conformance", f"conformance/{inst}", "conformance_kept", verdict,
                                 like=first_check.get(inst), output_file=match.pairs[inst].file))
            total += len(errors)
        emit(rows)
    return {"available": True, "reason": reason, "introduced_errors": total}
