"""``oracle``: applies the answer key as a perfect de-identifier. Proves 100% is reachable.

The only adapter that reads ``BENCH/answer_key`` (``needs_answer_key``). For each input file it
does exactly what the file's checks ask (see :data:`midib.answer_key.ACTIONS`) and the few
things the profile asks everywhere: instance UIDs replaced consistently in every UI element
(so references follow), one new PatientID per patient, dates moved by one offset per patient
(intervals kept), private elements removed unless a check retains them, overlay planes blanked,
the de-identification recorded with its CID 7050 codes, file names free of PHI, and a final
sweep removing any ledger PHI value still present in a string element. The edits themselves,
one small method per action, live in :mod:`midib.run.tools.oracle_edits`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

import pydicom

from midib import __version__
from midib.answer_key import Check, read_key, read_key_header
from midib.benchmark import Benchmark
from midib.ledger import read_ledger
from midib.run.adapter import RunContext, ToolAdapter, ToolFailed, ToolOutcome
from midib.keys.profile import Profile, load_profile
from midib.run.tools.oracle_edits import FileEditor, PatientKeys
from midib.run.tools.oracle_policy import Requirements

#: profile option -> CID 7050 code (PS3.16), 113100 (basic profile) is always recorded
OPTION_CODES: dict[str, tuple[str, str]] = {
    "basic": ("113100", "Basic Application Confidentiality Profile"),
    "cleanPixelData": ("113101", "Clean Pixel Data Option"),
    "cleanGraphOpt": ("113103", "Clean Graphics Option"),
    "cleanStructContOpt": ("113104", "Clean Structured Content Option"),
    "cleanDescOpt": ("113105", "Clean Descriptors Option"),
    "rtnLongFullDatesOpt": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "rtnLongModifDatesOpt": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "rtnPatCharsOpt": ("113108", "Retain Patient Characteristics Option"),
    "rtnDevIdOpt": ("113109", "Retain Device Identity Option"),
    "rtnUIDsOpt": ("113110", "Retain UIDs Option"),
    "rtnSafePrivOpt": ("113111", "Retain Safe Private Option"),
    "rtnInstIdOpt": ("113112", "Retain Institution Identity Option"),
}


def profile_options(bench: Benchmark, checks: list[Check]) -> list[str]:
    """The profile's options: from a deid_recorded check, else answer_key/profile.json."""
    for c in checks:
        if c.action == "deid_recorded" and "options" in c.expected:
            return list(c.expected["options"])
    if bench.profile_path.is_file():
        return list(json.loads(bench.profile_path.read_text(encoding="utf-8")).get("options", []))
    return []


def bench_profile(bench: Benchmark) -> Profile:
    """The profile the key was derived under: answer_key/profile.json, else benchmark.json's."""
    if bench.profile_path.is_file():
        return load_profile(bench.profile_path)
    return load_profile(bench.manifest().get("profile") or None)


def load_truth(bench: Benchmark) -> tuple[dict[str, list[Check]], dict[str, set[str]], set[str]]:
    """(checks by input file, PHI values by patient, values that must be kept anywhere)."""
    if not bench.checks_path.is_file():
        raise ToolFailed(f"oracle needs {bench.checks_path} (the answer key)")
    read_key_header(bench.checks_path)
    by_file: dict[str, list[Check]] = defaultdict(list)
    keep: set[str] = set()
    for c in read_key(bench.checks_path):
        by_file[c.file].append(c)
        if c.action in ("text_retained",) and c.expected.get("value"):
            keep.add(str(c.expected["value"]))
        if c.action == "text_cleaned":
            keep.update(str(v) for v in c.expected.get("retained", []))
    phi: dict[str, set[str]] = defaultdict(set)
    if bench.ledger_path.is_file():
        for e in read_ledger(bench.ledger_path):
            if e.role == "keep" and e.value:
                keep.add(e.value)
            elif e.role == "phi" and e.channel not in ("uid",) and e.value:
                phi[e.patient_id].add(e.value)
    return by_file, phi, keep


class OracleAdapter(ToolAdapter):
    name = "oracle"
    options_accepted = frozenset()
    description = "baseline: applies the answer key (perfect de-identifier; reads the key)"
    needs_answer_key = True

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> Optional[str]:
        return __version__

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        if ctx.benchmark_dir is None:
            raise ToolFailed("oracle was not given the benchmark folder (runner bug)")
        bench = Benchmark(ctx.benchmark_dir)
        by_file, phi, keep = load_truth(bench)
        all_checks = [c for cs in by_file.values() for c in cs]
        options = profile_options(bench, all_checks)
        keys = PatientKeys(salt=f"midib-oracle-{bench.manifest().get('seed', ctx.seed)}",
                           retain_uids="rtnUIDsOpt" in options)
        codes = [OPTION_CODES["basic"]] + [OPTION_CODES[o] for o in options if o in OPTION_CODES]
        profile = bench_profile(bench)
        reqs = Requirements()
        learning = reqs.available
        notes: list[str] = [] if learning else ["dciodvfy not found: type 1/2 guessed (Z, D nested)"]
        for f in sorted(p for p in input_dir.rglob("*") if p.is_file()):
            rel = f.relative_to(input_dir).as_posix()
            try:
                pydicom.dcmread(f, stop_before_pixels=True)
            except Exception as e:  # not DICOM: nothing to de-identify, nothing written
                notes.append(f"skipped {rel}: {type(e).__name__}")
                continue
            for attempt in range(4):  # each pass may learn that an element is required
                ds = pydicom.dcmread(f)
                required = reqs.of(str(ds.get("SOPClassUID", "")))
                editor = FileEditor(ds, by_file.get(rel, []), keys, keep, codes, profile,
                                    required, learning)
                editor.apply(phi.get(str(ds.get("PatientID", "")), set()))
                if not learning or not reqs.learn(str(ds.get("SOPClassUID", "")), ds, editor.edits):
                    break
            target = output_dir / editor.output_name()
            target.parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(target)
        return ToolOutcome(command="midib oracle (answer key applied)", uid_mapping=keys.uids,
                           patid_mapping=keys.patient_ids, notes=notes)


def describe_codes(codes: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Code items as plain dicts (for docs and tests)."""
    return [{"CodeValue": v, "CodingSchemeDesignator": "DCM", "CodeMeaning": m} for v, m in codes]
