"""`midib score`: score a run (or any folder of de-identified DICOM) against a benchmark's key."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from midib.commands.options import usable_cpus, worker_count
from midib.errors import MidibError

if TYPE_CHECKING:
    from midib.benchmark import Benchmark
    from midib.score.inputs import RunFolder

HELP = "Score a run (or any folder of de-identified DICOM) against a benchmark's answer key."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments."""
    parser.add_argument("bench", type=Path, help="benchmark folder (midib generate / import-key)")
    parser.add_argument("run", type=Path, help="a 'midib run' folder, or any folder of DICOM files")
    parser.add_argument("--mapping", type=Path,
                        help="MIDI-B UID mapping CSV (id_old,id_new); default: the run's, or the one "
                             "in a plain submission's top folder")
    parser.add_argument("--patid-mapping", type=Path, help="MIDI-B PatientID mapping CSV (default: likewise)")
    parser.add_argument("--profile", help="re-derive the key from the ledger under this profile")
    parser.add_argument("--jobs", type=worker_count, default=usable_cpus(),
                        help="worker processes (default: the number of CPUs; results do not depend on it)")
    parser.add_argument("--no-ocr", action="store_true",
                        help="no OCR: burned-in text boxes pass only when uniform")
    parser.add_argument("--no-conformance", action="store_true",
                        help="skip dciodvfy (conformance checks reported as not run)")
    parser.add_argument("--min-score", type=percent, default=None,
                        help="exit 1 when the overall percent (0-100) is below this")
    parser.add_argument("--out", type=Path, help="score folder (default RUN/score)")
    parser.add_argument("--formula", choices=("midib", "midi-b"), default="midib",
                        help="overall figure: midib's or the official MIDI-B aggregate")
    parser.add_argument("--series-mode", action="store_true",
                        help="with --formula midi-b: de-duplicate checks per series as MIDI-B did")


def run(args: argparse.Namespace) -> int:
    """Score, write results.parquet/.csv and summary.json; 0 scored, 1 below --min-score."""
    from midib.benchmark import Benchmark
    from midib.score.inputs import open_run
    from midib.score.report_files import build_summary, write_summary
    from midib.score.scorer import ScoreOptions, score_run
    from midib.score.sink import FileSink, refuse_links

    steady_heap()
    if args.series_mode and args.formula != "midi-b":
        raise MidibError("--series-mode only applies to --formula midi-b")
    bench = Benchmark.open(args.bench)
    bench.require_scorable()
    run_folder = open_run(args.run)
    if run_folder.run_info.get("benchmark_untouched") is False:
        raise MidibError(f"{args.run}: the tool modified the benchmark during this run (see its "
                         f"run.json, benchmark_problems): its answer key can no longer be trusted; "
                         f"regenerate the benchmark and run the tool again")
    status = run_folder.run_info.get("status")
    if status == "unavailable":
        why = " ".join(str(run_folder.run_info.get("reason") or "unavailable").split())
        raise MidibError(f"{args.run}: the tool did not run ({why}); nothing to score")
    out_dir = args.out or (run_folder.run_dir / "score")
    refuse_links(out_dir)
    check_score_folder(out_dir, bench, run_folder)
    opts = ScoreOptions(jobs=args.jobs, ocr=not args.no_ocr, profile=args.profile,
                        conformance=not args.no_conformance,
                        mapping=args.mapping, patid_mapping=args.patid_mapping, exclude=out_dir)
    try:
        sink = FileSink(out_dir)
    except OSError as e:
        raise MidibError(f"cannot write the score folder {out_dir}: {e.strerror or e}") from e
    try:
        result = score_run(bench, run_folder, opts, sink)
    except BaseException:
        sink.discard()   # no half-written results beside an error
        raise
    sink.close()
    summary = build_summary(result, bench, run_folder, args.formula, args.series_mode,
                            [args.mapping or run_folder.uid_mapping,
                             args.patid_mapping or run_folder.patid_mapping])
    try:
        write_summary(out_dir, summary)
    except OSError as e:
        raise MidibError(f"cannot write {out_dir / 'summary.json'}: {e.strerror or e}") from e
    overall = summary["overall"]
    print(f"{overall['percent']:.2f}% ({overall['passed']}/{overall['total']} checks passed; "
          f"weighted {summary['weighted']['percent']:.2f}%) -> {out_dir}")
    warn_unpaired(summary.get("matching", {}), run_folder.output_root)
    if args.min_score is not None and overall["percent"] < args.min_score:
        print(f"below --min-score {args.min_score}")
        return 1
    return 0


def warn_unpaired(matching: dict, root: Path) -> None:
    """One line on stderr when no output was paired with any input: the score is a true 0 %,
    but an empty folder or the wrong one (another benchmark's run) is the likelier cause."""
    if matching.get("matched", 0):
        return
    found = sum(len(matching.get(k) or []) for k in ("extra_outputs", "rejected_outputs"))
    what = ("holds no files" if not found
            else f"holds {found} file(s), none of them an output of this benchmark's inputs")
    packed = [f for f in matching.get("extra_outputs") or [] if f.lower().endswith(_ARCHIVES)]
    hint = (f" ({len(packed)} an archive, e.g. {packed[0]}: unpack it and score the folder)"
            if packed else "")
    print(f"midib: warning: {root} {what}: every input counts as missing{hint}", file=sys.stderr)


#: names of archives a submission may arrive as; the scorer reads folders of DICOM files only
_ARCHIVES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz", ".gz", ".7z", ".rar")


def percent(text: str) -> float:
    """--min-score: a finite number in [0, 100]. NaN never tripped the gate and 200 always
    did; argparse turns the error into its usage line and exit 2."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"must be a percent from 0 to 100 (got {text!r})")
    return value


def check_score_folder(out_dir: Path, bench: "Benchmark", run: "RunFolder") -> None:
    """Refuse a score folder that would write through a submission's link, pollute the
    benchmark, or hide outputs from the score (one line each, before anything is written).

    The folder is excluded from the walk of the outputs, so inside the submission it must hold
    nothing but the scorer's own files (:data:`SCORE_FILES`): outputs in it would silently not
    be scored. Outside the submission, a folder with other files is harmless and allowed.
    """
    from midib.score.sink import SCORE_FILES
    submission = [_real(run.run_dir, "run folder"), _real(run.output_root, "output folder")]
    if link := _link_inside(out_dir, submission):
        raise MidibError(f"score folder {out_dir} goes through the symbolic link {link} "
                         "inside the submission: refusing to write through it")
    if submission[0] == bench.root.resolve():
        raise MidibError(f"run folder {run.run_dir} is the benchmark itself: score a tool's "
                         "output folder (its inputs and answer key are no submission)")
    where = _real(out_dir, "score folder")
    if bench.holds(where):
        raise MidibError(f"score folder {out_dir} is inside the benchmark {bench.root}: "
                         "pass --out outside it")
    root = submission[1]
    if where == root or where in root.parents:
        raise MidibError(f"score folder {out_dir} holds the outputs being scored "
                         f"({run.output_root}): pass --out outside them")
    if root in where.parents and (where.parent != root or where.name != "score"):
        raise MidibError(f"score folder {out_dir} is inside the outputs being scored "
                         f"({run.output_root}) but is not their score folder {root / 'score'}: "
                         "a later score would read its results as outputs (every planted value "
                         "a leak); pass --out outside the submission")
    if root not in where.parents or not where.is_dir():
        return
    try:
        foreign = sorted(n for n in os.listdir(where) if n not in SCORE_FILES)
    except OSError as e:
        raise MidibError(f"cannot list the score folder {out_dir}: {e.strerror or e}") from e
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise MidibError(f"score folder {out_dir} is inside the submission and holds {foreign[0]!r}"
                         f"{more}, which would not be scored: pass --out outside the submission")
    from midib.score.inputs import score_files_in
    present = [n for n in SCORE_FILES if os.path.lexists(where / n)]
    if strange := sorted(set(present) - score_files_in(where, present, bench.fingerprint())):
        raise MidibError(f"score folder {out_dir} is inside the submission and holds {strange[0]!r}, "
                         "which is not an earlier midib score: it would be replaced, not scored; "
                         "pass --out outside the submission")


def _real(path: Path, what: str) -> Path:
    """``path`` resolved (links followed), or one line saying it cannot be."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as e:   # RuntimeError: a link loop (Python < 3.13)
        raise MidibError(f"cannot resolve the {what} {path}: {e}") from e


def _link_inside(path: Path, roots: list[Path]) -> Optional[Path]:
    """The first component of ``path`` that is a symbolic link in a folder inside ``roots``
    (the submission, resolved), or None. Links above the submission are the user's own path;
    a link inside it is the submission's, and writing through it reaches anywhere."""
    absolute = Path(os.path.abspath(path))
    for part in [*reversed(absolute.parents), absolute]:
        if not os.path.islink(part):
            continue
        try:
            parent = part.parent.resolve()
        except (OSError, RuntimeError):
            return part
        if any(parent == r or r in parent.parents for r in roots):
            return part
    return None


def steady_heap() -> None:
    """Large blocks from the C heap mapped and unmapped on their own (glibc only, else nothing).

    Scoring passes many ~1 MB buffers (work units' results, pickled records) through a heap
    that also holds long-lived small objects. glibc raises its mmap threshold after the first
    such buffer is freed, so the next ones are carved from the heap and the holes they leave
    stay resident: ~20 MB more at `small`, growing with the number of units. A fixed threshold
    (its default value, 128 KiB) returns every large block to the system when it is freed.
    """
    import ctypes
    import ctypes.util
    import sys
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # musl and others: no mallopt, nothing to tune
        return
