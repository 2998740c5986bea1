"""Pixel and conformance phases of `midib score`: fast path vs full decode, cold vs warm cache.

Usage: .venv/bin/python benchmarks/bench_pixels.py [ROOT] [--runs identity oracle] [--jobs 2]
                                                   [--limit N] [--no-conformance] [--no-before]

ROOT holds ``bench-small`` and ``run-<tool>`` folders (default /tmp/midib-bench-score; make them
with `midib generate ROOT/bench-small --preset small --seed 0` and `midib run`). Instances are
paired with their outputs through a score's results (``ROOT/score-<tool>-*/results.parquet``,
else one `midib score --no-ocr --no-conformance` made here). Prints, per run:

- pixel phase, one process, ms per instance with pixel checks: every file read and decoded
  with pydicom (``FAST_PATH = False``, what the scorer did before) and the byte-level fast
  path, and whether both gave the same verdicts and OCR crops;
- conformance (dciodvfy errors introduced, ``--jobs`` workers): before (no cache, copies of
  sources validated too, as the scorer did before), cold (empty cache folder), warm (sources
  from the cache, what every tool after the first costs on a leaderboard), with the number of
  dciodvfy runs each made.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

from midib.answer_key import read_key
from midib.benchmark import Benchmark
from midib.score import conformance, pixelstage
from midib.score.conformance import Dciodvfy


def output_files(root: Path, tool: str) -> dict[str, str]:
    """instance -> output file (relative to the run's output folder) from a score's results."""
    found = sorted(root.glob(f"score-{tool}-*/results.parquet"))
    if not found:
        out = Path(tempfile.mkdtemp(prefix=f"bench-pixels-{tool}-"))
        subprocess.run([sys.executable, "-m", "midib", "score", str(root / "bench-small"),
                        str(root / f"run-{tool}"), "--no-ocr", "--no-conformance", "--out", str(out)],
                       check=True, capture_output=True)
        found = [out / "results.parquet"]
    df = pd.read_parquet(found[0], columns=["instance", "output_file"])
    df = df[df.output_file.fillna("") != ""]
    return dict(zip(df.instance, df.output_file))


def pixel_items(bench: Benchmark, outputs: dict[str, str], out_root: Path, limit: int) -> list:
    """(checks, source path, output path) per matched instance with pixel checks."""
    by_instance, files = defaultdict(list), {}
    for c in read_key(bench.checks_path):
        if c.action in pixelstage.PIXEL_ACTIONS and c.instance in outputs:
            by_instance[c.instance].append(c)
            files[c.instance] = c.file
    items = [(by_instance[i], bench.input_dir / files[i], out_root / outputs[i]) for i in sorted(by_instance)]
    return items[:limit] if limit else items


def time_pixels(items: list, fast: bool) -> tuple[float, dict, list]:
    """Seconds for every instance's verdicts (after one warm-up instance), verdicts, crops."""
    pixelstage.FAST_PATH = fast
    pixelstage.instance_verdicts(*items[0], pixelstage.PixelJob())
    job, verdicts = pixelstage.PixelJob(), {}
    start = time.perf_counter()
    for checks, src, dst in items:
        verdicts.update(pixelstage.instance_verdicts(checks, src, dst, job))
    seconds = time.perf_counter() - start
    pixelstage.FAST_PATH = True
    return seconds, verdicts, [(c, crop.tobytes(), box) for c, crop, box, _ in job.crops]


def time_conformance(pairs: list, jobs: int, cache: str, skip_copies: bool = True) -> tuple[float, int, int]:
    """(seconds, dciodvfy runs, errors introduced) of one conformance pass with ``cache``;
    ``skip_copies=False`` validates copies of sources too (what the scorer did before)."""
    os.environ["MIDIB_CACHE_DIR"] = cache
    engine = Dciodvfy()
    real = conformance.same_content
    conformance.same_content = real if skip_copies else (lambda a, b: False)
    try:
        start = time.perf_counter()
        found = engine.introduced_many(pairs, workers=jobs)
        return time.perf_counter() - start, engine.runs, sum(len(f) for f in found)
    finally:
        conformance.same_content = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default="/tmp/midib-bench-score", type=Path)
    ap.add_argument("--runs", nargs="+", default=["identity", "oracle"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="first N instances only")
    ap.add_argument("--no-conformance", action="store_true")
    ap.add_argument("--no-before", action="store_true", help="skip the no-cache, copies-validated pass")
    args = ap.parse_args()
    bench = Benchmark(args.root / "bench-small")
    cache_dir = tempfile.mkdtemp(prefix="bench-pixels-cache-")
    for tool in args.runs:
        out_root = args.root / f"run-{tool}" / "output"
        items = pixel_items(bench, output_files(args.root, tool), out_root, args.limit)
        full, ref, ref_crops = time_pixels(items, fast=False)
        fast, got, got_crops = time_pixels(items, fast=True)
        n = len(items)
        print(f"{tool}: pixel phase, {n} instances, 1 process: full decode {full / n * 1e3:.3f} ms/inst"
              f" | fast path {fast / n * 1e3:.3f} ms/inst ({full / fast:.1f}x)"
              f" | same verdicts: {got == ref and got_crops == ref_crops}")
        if args.no_conformance:
            continue
        pairs = [(src, dst) for _, src, dst in items]
        figures = [] if args.no_before else [("before", time_conformance(pairs, args.jobs, "off", False))]
        figures.append(("cold", time_conformance(pairs, args.jobs, str(Path(cache_dir) / tool))))
        figures.append(("warm", time_conformance(pairs, args.jobs, str(Path(cache_dir) / tool))))
        for name, (sec, runs, errors) in figures:
            print(f"{tool}: conformance {name:8s} {sec:6.2f} s  {runs:5d} dciodvfy runs  "
                  f"{errors} errors introduced  ({args.jobs} workers)")


if __name__ == "__main__":
    main()
