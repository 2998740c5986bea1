"""What scoring reads: the answer key (or one re-derived under another profile), the ledger,
the run's output folder and its mapping CSVs."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Optional

from midib.answer_key import Check, read_key, read_key_header
from midib.benchmark import Benchmark
from midib.errors import MidibError
from midib.jsonl import read_jsonl
from midib.keys.mapping_csv import HEADER as MAPPING_HEADER, read_mapping as read_mapping_csv
from midib.ledger import LEDGER_FORMAT, LEDGER_VERSION, LedgerEntry, read_ledger

if TYPE_CHECKING:  # the profile module is imported where the dates are chosen
    from midib.keys.profile import Profile


@dataclass
class RunFolder:
    """Where the de-identified files are, and what the run said about itself."""

    output_root: Path
    run_dir: Path
    run_info: dict = field(default_factory=dict)
    uid_mapping: Optional[Path] = None
    patid_mapping: Optional[Path] = None
    #: the submission's own mapping CSVs in its top folder (relative): its mapping, not outputs
    mapping_files: tuple[str, ...] = ()
    #: "uid"/"patid" -> why that mapping cannot be chosen (two CSVs of one kind), unless given
    ambiguous: dict = field(default_factory=dict)


#: bytes read of a top-level CSV to tell whether it is a mapping (its header and first row)
_HEADER_PEEK = 512


def submission_mappings(folder: Path) -> dict[str, list[Path]]:
    """The MIDI-B mapping CSVs a plain submission keeps in its top folder, by kind ("uid",
    "patid"). A participant hands in the de-identified files with their
    ``id_old,id_new`` CSVs beside them; read as outputs, the CSVs were swept and every original
    PatientID and UID in them counted as a leak, and the mapping itself went unused.

    A CSV (``*.csv``, first line ``id_old,id_new``) is the UID mapping when its name says
    ``uid``, the PatientID one when it says ``pat`` or ``pid``, else by its first value (a UID
    or not). Two of one kind are ambiguous: unless the option names one, a one-line error asks
    for --mapping/--patid-mapping (:func:`midib.score.scorer._mappings`)."""
    found: dict[str, list[Path]] = {"uid": [], "patid": []}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return found
    for path in entries:
        if path.suffix.lower() != ".csv" or path.is_symlink() or not path.is_file():
            continue
        try:
            with path.open("rb") as f:
                head = f.read(_HEADER_PEEK).decode("utf-8-sig", "replace").splitlines()
        except OSError:
            continue
        if not head or tuple(c.strip().lower() for c in head[0].split(",")[:2]) != MAPPING_HEADER:
            continue
        name = path.name.lower()
        if "uid" in name:
            kind = "uid"
        elif "pat" in name or "pid" in name:
            kind = "patid"
        else:
            first = head[1].split(",")[0].strip() if len(head) > 1 else ""
            kind = "uid" if first and all(c.isdigit() or c == "." for c in first) and "." in first else "patid"
        found[kind].append(path)
    return found


def _submission_run(path: Path) -> RunFolder:
    """A plain folder scored as it is, its mapping CSVs (:func:`submission_mappings`) aside."""
    found = submission_mappings(path)
    ambiguous = {}
    for kind, paths in found.items():
        if len(paths) > 1:
            flag = "--mapping" if kind == "uid" else "--patid-mapping"
            ambiguous[kind] = (f"{path} holds {len(paths)} {'UID' if kind == 'uid' else 'PatientID'} "
                               f"mapping CSVs ({', '.join(p.name for p in paths)}): name the right one "
                               f"with {flag}")
    one = {kind: paths[0] if len(paths) == 1 else None for kind, paths in found.items()}
    names = tuple(p.name for paths in found.values() for p in paths)
    return RunFolder(path, path, uid_mapping=one["uid"], patid_mapping=one["patid"],
                     mapping_files=names, ambiguous=ambiguous)


def open_run(path: Path) -> RunFolder:
    """A `midib run` folder (RUN/output, RUN/mapping/*.csv) or any folder of DICOM files.

    A ``run.json`` makes the folder a run folder: its output is RUN/output and nothing else.
    Without that folder (or with a link in its place) the run cannot be scored; scoring the
    folder itself instead gave a silent 0 %. A submission's run.json is untrusted: anything
    but the object `midib run` writes is refused here rather than failing later.
    """
    if not path.is_dir():
        raise MidibError(f"run folder not found: {path}")
    run_json = path / "run.json"
    if not run_json.is_file():
        return _submission_run(path)
    info = _run_record(run_json)
    output = path / "output"
    if output.is_symlink():
        raise MidibError(f"run folder {path}: output/ is a symbolic link (never followed)")
    if not output.is_dir():
        raise MidibError(f"run folder {path} has run.json but no output/ folder")
    uid = path / "mapping" / "uid_mapping.csv"
    pid = path / "mapping" / "patid_mapping.csv"
    return RunFolder(output, path, info, uid if uid.is_file() else None,
                     pid if pid.is_file() else None)


def _run_record(run_json: Path) -> dict:
    """run.json as `midib run` writes it: a JSON object whose ``tool``, if any, is an object
    (the summary copies it). Every other content is one line naming the file."""
    bad = f"run.json at {run_json} is not a midib run record"
    try:
        info = json.loads(run_json.read_bytes().decode("utf-8"))
    except OSError as e:
        raise MidibError(f"cannot read {run_json}: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise MidibError(f"{bad}: not UTF-8 text") from e
    except ValueError as e:   # JSONDecodeError, or an integer too long to convert
        raise MidibError(f"{bad}: {' '.join(str(e).split())}") from e
    except RecursionError as e:
        raise MidibError(f"{bad}: nested too deeply") from e
    if not isinstance(info, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
                float: "a number"}.get(type(info), "null")
        raise MidibError(f"{bad}: {kind}, not a JSON object")
    if not isinstance(info.get("tool") or {}, dict):
        raise MidibError(f"{bad}: its 'tool' is not an object")
    return info


def output_files(root: Path, exclude: Optional[Path] = None, aside: Collection[str] = (),
                 benchmark_id: Optional[str] = None) -> tuple[list[str], list[dict[str, str]]]:
    """Every regular file under ``root`` as sorted relative POSIX paths, and the rejected ones.

    A submission is untrusted: links are never followed out of it (a symlink to another run's
    output must not score as this run's), directory links are not descended, and devices, FIFOs
    and sockets are never opened. Rejected entries are reported, not silently dropped: so are
    folders that cannot be listed (their instances then fail as unmatched) and entries whose
    path is too long to stat. ``exclude`` is our own score folder when it sits inside the
    submission; ``aside``: files of the top folder that are not outputs (its mapping CSVs);
    ``benchmark_id``: the benchmark an earlier score must be of to be set aside.
    """
    top = root.resolve()
    skip = _resolved(exclude) if exclude is not None else None
    files: list[str] = []
    rejected: list[dict[str, str]] = []

    def unlisted(e: OSError) -> None:
        where = e.filename if isinstance(e.filename, str) else os.fspath(root)
        if os.path.normpath(where) == os.path.normpath(root):
            raise MidibError(f"cannot list the output folder {root}: {e.strerror or e}")
        rejected.append({"file": _relative(where, root), "reason": f"cannot list folder: {e.strerror or e}"})

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted, followlinks=False):
        here = Path(dirpath)
        if skip is not None and _within(here, skip):
            dirnames[:] = []
            continue
        for name in sorted(dirnames):
            path = here / name
            try:
                link = path.is_symlink()
            except OSError as e:   # e.g. ENAMETOOLONG: not descended, reported once here
                dirnames.remove(name)
                rejected.append({"file": path.relative_to(root).as_posix(),
                                 "reason": f"cannot stat: {e.strerror or e}"})
                continue
            if link:
                rejected.append({"file": path.relative_to(root).as_posix(),
                                 "reason": "symbolic link to a folder (not followed)"})
        earlier = _earlier_score(here, root, filenames, benchmark_id)
        for name in filenames:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if rel in aside:
                continue
            if name in earlier:
                rejected.append({"file": rel, "reason": "an earlier midib score of this folder (not an output)"})
            elif reason := _rejection(path, top):
                rejected.append({"file": rel, "reason": reason})
            else:
                files.append(rel)
    return sorted(files), sorted(rejected, key=lambda r: r["file"])


def _earlier_score(here: Path, root: Path, names: list[str],
                   benchmark_id: Optional[str]) -> frozenset[str]:
    """The score files of an earlier `midib score` of a plain folder (its default score folder,
    ROOT/score), or none. Scored once by default, then again with --out elsewhere, the folder
    held results.csv, which quotes every planted value: read as an output it would be one long
    leak. They are reported as rejected, never silently skipped; each must be what midib
    writes (:func:`score_files_in`), so a file merely named so is scored like any other."""
    if "summary.json" not in names or here.parent != root or here.name != "score":
        return frozenset()
    return score_files_in(here, names, benchmark_id)


#: the largest summary.json read to recognise an earlier score (one of 45,000 outputs: ~9 MB)
_SUMMARY_MAX = 64 * 1024 * 1024


def score_files_in(folder: Path, names: Optional[list[str]] = None,
                   benchmark_id: Optional[str] = None) -> frozenset[str]:
    """Which of ``folder``'s score-file names hold what `midib score` writes: regular files (a
    FIFO would block the read, a link is never followed) with a midib-score summary.json (of
    the benchmark ``benchmark_id``, when given), a results.csv starting with the results
    header, a results.parquet starting with Parquet's magic. Only with such a summary.json
    beside them. A submission forging those three files around an original input (a summary
    naming no benchmark, ``PAR1`` then the DICOM) was set aside unread and scored 100 %: the
    benchmark's id is what a submitter who never scored against it cannot know."""
    from midib.score.sink import SCORE_FILES   # what `midib score` writes in its folder
    names = names if names is not None else [n for n in SCORE_FILES if os.path.lexists(folder / n)]
    if "summary.json" not in names or not _regular(folder / "summary.json", _SUMMARY_MAX):
        return frozenset()
    try:
        summary = json.loads((folder / "summary.json").read_bytes())
    except (OSError, ValueError, RecursionError):
        return frozenset()
    if not isinstance(summary, dict) or summary.get("format") != "midib-score":
        return frozenset()
    if benchmark_id is not None and summary.get("benchmark_id") != benchmark_id:
        return frozenset()
    found = {"summary.json"}
    from midib.score.rows import COLUMNS
    header = (",".join(f'"{c}"' for c in COLUMNS) + "\n").encode()
    if "results.csv" in names and _starts_with(folder / "results.csv", header):
        found.add("results.csv")
    if "results.parquet" in names and _starts_with(folder / "results.parquet", b"PAR1"):
        found.add("results.parquet")
    return frozenset(found)


def _regular(path: Path, max_size: Optional[int] = None) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and (max_size is None or st.st_size <= max_size)


def _starts_with(path: Path, head: bytes) -> bool:
    if not _regular(path):
        return False
    try:
        with open(path, "rb") as f:
            return f.read(len(head)) == head
    except OSError:
        return False


def _resolved(path: Path) -> Optional[Path]:
    """``path`` resolved, or None when it cannot be (a link loop): nothing is then inside it."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def _within(path: Path, folder: Optional[Path]) -> bool:
    """Whether ``path`` is ``folder`` (already resolved) or lies inside it."""
    here = _resolved(path)
    return folder is not None and here is not None and (here == folder or folder in here.parents)


def _relative(where: str, root: Path) -> str:
    """``where`` relative to ``root`` as POSIX text (as given when it is not under it)."""
    try:
        return Path(where).relative_to(root).as_posix()
    except ValueError:
        return where


def _rejection(path: Path, top: Path) -> str:
    """Why ``path`` must not be read as an output file ('' if it may).

    Never raises for what a submission can hold: a link loop or a path too long to stat is a
    rejected entry with its reason, not the end of the score.
    """
    try:
        link = path.is_symlink()
    except OSError as e:   # e.g. ENAMETOOLONG
        return f"cannot stat: {e.strerror or e}"
    if link:
        try:
            target = path.resolve()
        except (RuntimeError, OSError):  # Python < 3.13 raises RuntimeError on a loop
            return "symbolic link loop (not followed)"
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
    """A MIDI-B mapping CSV (header ``id_old,id_new``) as {old: new}
    (:func:`midib.keys.mapping_csv.read_mapping`: one-line errors, a size bound)."""
    return dict(read_mapping_csv(path))


_LEDGER_FIELDS = frozenset(LedgerEntry.__dataclass_fields__)


@dataclass
class LedgerFacts:
    """What scoring needs from the ledger, gathered in one streaming pass (entries not kept)."""

    uids: dict[str, list[tuple[str, str]]] = field(default_factory=dict)     # instance -> [(path, old)]
    patids: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # + patient; only the dates the key expects shifted (see ledger_facts)
    dates: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    study_times: dict[str, str] = field(default_factory=dict)   # instance -> planted StudyTime
    paths: set[str] = field(default_factory=set)      # paths of planted identifiers and dates


#: distinct sweep keys remembered while the ledger is read: repeated values (a patient's name in
#: every instance) are indexed once; forgetting only costs building an entry again (indexing one
#: is idempotent), whereas keeping every UID's key took ~100 MB at `midi-b`
_SEEN_MAX = 100_000


def ledger_facts(bench: Benchmark, sweeper, profile: Optional[Profile] = None,
                 tables: Optional[dict[str, Any]] = None) -> LedgerFacts:
    """Stream the ledger once: feed the sweeper, collect planted UIDs, PatientIDs and dates.

    Records stay dicts: a `small` ledger has 250,000 entries but only a few thousand distinct
    sweepable values, so a :class:`LedgerEntry` is built only for a value the sweeper has not
    seen (building all of them cost more than reading the file).

    Dates are only those the key expects shifted (``expects_shift`` under ``profile``, default
    the benchmark's own): the ``dates_intervals`` rule compares their shifts, and a date the
    profile removes or empties (PatientBirthDate) may hold any dummy, whose "shift" is no
    interval. The entry and the profile tell it, so the key's checks need not be held; the
    decision is remembered per (path, VR, kind, channel), a few hundred per ledger. Without a
    readable profile (``profile`` is a :class:`midib.keys.profile.Profile`) every planted date
    is kept (the earlier behaviour). UIDs likewise are only those the key expects replaced
    (``expects_uid_replaced``): the places the old -> new map is derived from. ``tables``:
    where ``uids``, ``patids`` and ``dates`` go instead of dicts (as for
    :func:`midib.score.keyfacts.gather`).
    """
    from midib.score.uids import PATIENT_ID, concrete_key
    from midib.score.values import dicom_date
    facts = LedgerFacts(**(tables or {}))
    if not bench.ledger_path.is_file():
        return facts
    try:
        from midib.keys.derive import STUDY_TIME, expects_shift, expects_uid_replaced
        from midib.keys.profile import load_profile
        if profile is None:
            named = bench.profile_path if bench.profile_path.is_file() else bench.manifest().get("profile")
            profile = load_profile(named) if named else None
    except (ImportError, MidibError, OSError, ValueError):
        profile = None
    decided: dict[tuple, bool] = {}  # (path, VR, kind, channel[, 'uid']) -> kept
    seen: set[tuple] = set()
    for d in read_jsonl(bench.ledger_path, LEDGER_FORMAT, LEDGER_VERSION):
        get = d.get
        role, path, value, vr = get("role"), get("path"), get("value") or "", get("vr")
        sweep_key = (role, get("channel"), value, get("kind"), vr, get("phi_class"),
                     get("patient_id"), get("id") in sweeper.kept_ids)
        if sweep_key not in seen:
            if len(seen) >= _SEEN_MAX:  # every planted UID is distinct: forget, do not grow
                seen.clear()
            seen.add(sweep_key)
            sweeper.add_entry(LedgerEntry(**d) if d.keys() <= _LEDGER_FIELDS else LedgerEntry.from_dict(d))
        if not path or not value or role != "phi":
            continue
        # interned: a series' UIDs, a patient's ID and dates repeat in every instance's entries
        key, instance = concrete_key(path), intern(d["instance"])
        if vr == "UI" or get("channel") == "uid" or str(get("kind", "")).endswith("_uid"):
            rule_key = (path, vr, get("kind"), get("channel"), "uid")
            if (wanted := decided.get(rule_key)) is None:
                wanted = decided[rule_key] = profile is None or expects_uid_replaced(
                    LedgerEntry(**d) if d.keys() <= _LEDGER_FIELDS else LedgerEntry.from_dict(d), profile)
            if not wanted:
                continue
            facts.uids.setdefault(instance, []).append((key, intern(value.strip())))
        elif key == PATIENT_ID:
            facts.patids.setdefault(instance, []).append((key, intern(value.strip())))
        elif key == STUDY_TIME:   # tells a date-and-time offset from broken intervals (dates.py)
            facts.study_times[instance] = intern(value.strip())
        elif vr in ("DA", "DT") and dicom_date(value):
            rule_key = (path, vr, get("kind"), get("channel"))
            if (wanted := decided.get(rule_key)) is None:
                wanted = decided[rule_key] = profile is None or expects_shift(
                    LedgerEntry(**d) if d.keys() <= _LEDGER_FIELDS else LedgerEntry.from_dict(d), profile)
            if not wanted:
                continue
            facts.dates.setdefault(instance, []).append((key, intern(value), intern(d["patient_id"])))
        else:
            continue
        facts.paths.add(path)
    sweeper.freeze()
    return facts
