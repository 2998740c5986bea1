"""`midib export-key`: write a benchmark's answer key in the official MIDI-B SQLite format.

So organisers can score a midib benchmark with the official validation script (with the
mapping CSVs `midib run` writes). midib-only checks keep their own action names, which the
official script ignores; see docs/midi-b-differences.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from midib.errors import MidibError

HELP = "Write a midib benchmark's answer key in the official MIDI-B SQLite format."
FORMATS = ("midi-b",)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bench", type=Path, help="benchmark folder (from generate or import-key)")
    parser.add_argument("--format", default="midi-b", help="output format (only: midi-b)")
    parser.add_argument("--out", type=Path, required=True, help="SQLite file to write")
    parser.add_argument("--force", action="store_true", help="replace an existing --out file")


def run(args: argparse.Namespace) -> int:
    from midib.answer_key import read_key  # here, not at import: the CLI builds every parser
    from midib.benchmark import Benchmark
    from midib.keys.midi_b import write_midi_b_key

    if args.format not in FORMATS:
        raise MidibError(f"unknown key format {args.format!r}; valid: {', '.join(FORMATS)}")
    bench = Benchmark.open(args.bench)
    if not bench.checks_path.is_file():
        raise MidibError(f"{bench.root} has no answer key ({bench.checks_path} missing)")
    out = Path(args.out)
    if out.exists() and not args.force:
        raise MidibError(f"{out} exists; use --force to replace it")
    if out.resolve().is_relative_to(bench.input_dir.resolve()):
        raise MidibError(f"{out} is inside the benchmark input; write the key elsewhere")
    if out.resolve() == bench.manifest_path.resolve() or out.resolve().is_relative_to(bench.key_dir.resolve()):
        # --force once wrote the SQLite key over the benchmark's own manifest
        raise MidibError(f"{out} is one of the benchmark's own files; write the key elsewhere")
    rows = write_midi_b_key(out, read_key(bench.checks_path))
    print(f"wrote {rows} answer_data rows to {out}")
    return 0
