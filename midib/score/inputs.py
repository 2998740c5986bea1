"""What scoring reads: the answer key (or one re-derived under another profile), the ledger,
the run's output folder and its mapping CSVs."""

from __future__ import annotations

import csv
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern
from typing import Optional

from midib.answer_key import Check, read_key, read_key_header
from midib.benchmark import Benchmark
from midib.errors import MidibError
from midib.jsonl import read_jsonl
from midib.ledger import LEDGER_FORMAT, LEDGER_VERSION, LedgerEntry, read_ledger


@dataclass
class RunFolder:
    """Where the de-identified files are, and what the run said about itself."""

    output_root: Path
    run_dir: Path
    run_info: dict = field(default_factory=dict)
    uid_mapping: Optional[Path] = None
    patid_mapping: Optional[Path] = None


def open_run(path: Path) -> RunFolder:
    """A `midib run` folder (RUN/output, RUN/mapping/*.csv) or any folder of DICOM files."""
    if not path.is_dir():
        raise MidibError(f"run folder not found: {path}")
    run_json = path / "run.json"
    if run_json.is_file() and (path / "output").is_dir():
        try:
            info = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise MidibError(f"cannot read {run_json}: {e}") from e
        uid = path / "mapping" / "uid_mapping.csv"
        pid = path / "mapping" / "patid_mapping.csv"
        return RunFolder(path / "output", path, info, uid if uid.is_file() else None,
                         pid if pid.is_file() else None)
    return RunFolder(path, path)


def output_files(root: Path, exclude: Optional[Path] = None) -> tuple[list[str], list[dict[str, str]]]:
    """Every regular file under ``root`` as sorted relative POSIX paths, and the rejected ones.

    A submission is untrusted: links are never followed out of it (a symlink to another run's
    output must not score as this run's), directory links are not descended, and devices, FIFOs
    and sockets are never opened. Rejected entries are reported, not silently dropped.
    ``exclude`` is our own score folder when it sits inside the submission.
    """
    top = root.resolve()
    skip = exclude.resolve() if exclude is not None else None
    files: list[str] = []
    rejected: list[dict[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if skip is not None and (here.resolve() == skip or skip in here.resolve().parents):
            dirnames[:] = []
            continue
        for name in sorted(dirnames):
            if (here / name).is_symlink():
                rejected.append({"file": (here / name).relative_to(root).as_posix(),
                                 "reason": "symbolic link to a folder (not followed)"})
        for name in filenames:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if reason := _rejection(path, top):
                rejected.append({"file": rel, "reason": reason})
            else:
                files.append(rel)
    return sorted(files), sorted(rejected, key=lambda r: r["file"])


def _rejection(path: Path, top: Path) -> str:
    """Why ``path`` must not be read as an output file ('' if it may)."""
    if path.is_symlink():
        target = path.resolve()
        if top != target and top not in target.parents:
            return "symbolic link to outside the submission (not followed)"
    try:
        mode = path.stat().st_mode
    except OSError as e:
        return f"cannot stat: {e.strerror}"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    return ""


def load_checks(bench: Benchmark, profile: Optional[str]) -> tuple[list[Check], str]:
    """The key's checks and profile name; ``profile`` re-derives them from the ledger."""
    if profile:
        try:
            from midib.keys.derive import derive_checks
            from midib.keys.profile import load_profile
        except ImportError as e:
            raise MidibError(f"--profile needs midib.keys (not available: {e})") from e
        if not bench.ledger_path.is_file():
            raise MidibError(f"--profile needs the ledger {bench.ledger_path}, which is missing")
        prof = load_profile(profile)
        return list(derive_checks(list(read_ledger(bench.ledger_path)), prof)), prof.name
    if not bench.checks_path.is_file():
        raise MidibError(f"no answer key at {bench.checks_path}")
    header = read_key_header(bench.checks_path)
    return list(read_key(bench.checks_path)), str(header.get("profile", ""))


def load_checks_header(bench: Benchmark) -> tuple[dict, str]:
    """The key file's header and profile name (the checks are streamed separately)."""
    if not bench.checks_path.is_file():
        raise MidibError(f"no answer key at {bench.checks_path}")
    header = read_key_header(bench.checks_path)
    return header, str(header.get("profile", ""))


def read_mapping(path: Path) -> dict[str, str]:
    """A MIDI-B mapping CSV (header ``id_old,id_new``) as {old: new}."""
    try:
        from midib.keys.mapping_csv import read_mapping as official
        return dict(official(path))
    except ImportError:
        pass
    if not path.is_file():
        raise MidibError(f"mapping file not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"id_old", "id_new"} <= set(reader.fieldnames):
            raise MidibError(f"{path}: expected a header 'id_old,id_new'")
        return {row["id_old"].strip(): row["id_new"].strip() for row in reader if row["id_old"]}


_LEDGER_FIELDS = frozenset(LedgerEntry.__dataclass_fields__)


@dataclass
class LedgerFacts:
    """What scoring needs from the ledger, gathered in one streaming pass (entries not kept)."""

    uids: dict[str, list[tuple[str, str]]] = field(default_factory=dict)     # instance -> [(path, old)]
    patids: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    dates: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # + patient
    paths: set[str] = field(default_factory=set)      # paths of planted identifiers and dates


def ledger_facts(bench: Benchmark, sweeper) -> LedgerFacts:
    """Stream the ledger once: feed the sweeper, collect planted UIDs, PatientIDs and dates.

    Records stay dicts: a `small` ledger has 250,000 entries but only a few thousand distinct
    sweepable values, so a :class:`LedgerEntry` is built only for a value the sweeper has not
    seen (building all of them cost more than reading the file).
    """
    from midib.score.uids import PATIENT_ID, concrete_key
    from midib.score.values import dicom_date
    facts = LedgerFacts()
    if not bench.ledger_path.is_file():
        return facts
    seen: set[tuple] = set()
    for d in read_jsonl(bench.ledger_path, LEDGER_FORMAT, LEDGER_VERSION):
        get = d.get
        role, path, value, vr = get("role"), get("path"), get("value") or "", get("vr")
        sweep_key = (role, get("channel"), value, get("kind"), vr, get("phi_class"),
                     get("patient_id"), get("id") in sweeper.kept_ids)
        if sweep_key not in seen:
            seen.add(sweep_key)
            sweeper.add_entry(LedgerEntry(**d) if d.keys() <= _LEDGER_FIELDS else LedgerEntry.from_dict(d))
        if not path or not value or role != "phi":
            continue
        # interned: a series' UIDs, a patient's ID and dates repeat in every instance's entries
        key, instance = concrete_key(path), intern(d["instance"])
        if vr == "UI" or get("channel") == "uid" or str(get("kind", "")).endswith("_uid"):
            facts.uids.setdefault(instance, []).append((key, intern(value.strip())))
        elif key == PATIENT_ID:
            facts.patids.setdefault(instance, []).append((key, intern(value.strip())))
        elif vr in ("DA", "DT") and dicom_date(value):
            facts.dates.setdefault(instance, []).append((key, intern(value), intern(d["patient_id"])))
        else:
            continue
        facts.paths.add(path)
    sweeper.freeze()
    return facts
