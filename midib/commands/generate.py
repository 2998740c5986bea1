"""`midib generate`: build a benchmark: TCIA-like DICOM with planted synthetic PHI, ledger and answer key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from midib.commands.options import worker_count

HELP = "Generate a benchmark: TCIA-like DICOM with planted synthetic PHI, ledger and answer key."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments (cheap: no heavy imports here)."""
    parser.add_argument("bench", type=Path, help="benchmark folder to create (must be new or empty)")
    parser.add_argument("--preset", default="mini", help="size: mini (~100 instances), small (~2,500), "
                        "medium (~11,000), "
                        "midi-b (~54,000 over ~540 patients); default mini")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed and version: same bytes)")
    parser.add_argument("--profile", default=None, help="answer-key profile name or JSON path (default midi-b)")
    parser.add_argument("--base", type=Path, default=None,
                        help="plant PHI into copies of this folder of de-identified DICOM instead")
    parser.add_argument("--force", action="store_true", help="replace an existing benchmark in BENCH")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--jobs", type=worker_count, default=None, metavar="N",
                        help="worker processes making patients (default: one per CPU; output is the same for any N)")


def run(args: argparse.Namespace) -> int:
    """Generate, then print a one-line summary."""
    from midib.generate.writer import generate

    progress = not args.no_progress and sys.stderr.isatty()
    manifest = generate(args.bench, preset=args.preset, seed=args.seed, profile=args.profile,
                        base=args.base, force=args.force, progress=progress,
                        jobs=args.jobs)
    c = manifest["counts"]
    print(f"{args.bench}: {c['patients']} patients, {c['studies']} studies, {c['series']} series, "
          f"{c['instances']} instances, {c['ledger_entries']} ledger entries, {c['checks']} checks "
          f"(profile {manifest['profile']})")
    return 0
