"""OCR cost per box *through the scorer* (issue 4 target: <= 30 ms per box amortised).

Usage: .venv/bin/python benchmarks/bench_score_ocr.py [REPEATS] [--preset mini] [--jobs N]

Generates the benchmark (seed 0) in a temporary folder, runs identity (text left, all boxes
readable: the worst case, one OCR round), oracle (boxes blacked out: uniform, no OCR) and
dicognito (pixels untouched), then scores each REPEATS times (conformance off) and prints, per
box, the median and best of: the OCR stage (summary "ocr" seconds), the whole pixel phase
(decoding + crops + OCR, the amortised figure), and tesseract CPU time (children's rusage,
which moves far less than wall time with the load other processes put on the machine).
The engine's own figure, on synthetic boxes, is benchmarks/bench_ocr.py. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from midib.benchmark import Benchmark
from midib.score import pixelstage
from midib.score.inputs import open_run
from midib.score.scorer import ScoreOptions, score_run

TOOLS = ("identity", "oracle", "dicognito")


def midib(*args: str) -> None:
    """One CLI command in a child process (as a user runs it); stops the script if it fails."""
    done = subprocess.run([sys.executable, "-m", "midib", *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"midib {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tesseract_cpu(spent: list[float]):
    """pixelstage.run_ocr wrapped to add the CPU time of the processes it started (tesseract
    only: the scoring workers are still alive then, so not yet counted) to ``spent``."""
    real = pixelstage.run_ocr

    def timed(*args, **kwargs):
        cpu = children_cpu()
        try:
            return real(*args, **kwargs)
        finally:
            spent.append(children_cpu() - cpu)
    return timed


def score_once(bench: Path, run: Path, jobs: int) -> tuple[int, float, float, float]:
    """(boxes, OCR seconds, pixel phase seconds, tesseract CPU seconds) of one scoring."""
    spent: list[float] = []
    real = pixelstage.run_ocr
    pixelstage.run_ocr = tesseract_cpu(spent)
    try:
        result = score_run(Benchmark.open(bench), open_run(run), ScoreOptions(jobs=jobs, conformance=False))
    finally:
        pixelstage.run_ocr = real
    return result.ocr.boxes, result.ocr.seconds, result.timings["pixels"], sum(spent)


def report(tool: str, samples: list[tuple[int, float, float, float]]) -> None:
    boxes = samples[0][0] or 1
    cols = []
    for label, k in (("ocr stage", 1), ("pixel phase", 2), ("tesseract cpu", 3)):
        values = [1000 * s[k] / boxes for s in samples]
        cols.append(f"{label} {statistics.median(values):6.1f} (best {min(values):5.1f})")
    print(f"{tool:<10} {samples[0][0]:4d} boxes  ms/box: " + "  ".join(cols))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repeats", nargs="?", type=int, default=3)
    parser.add_argument("--preset", default="mini")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(f"preset {args.preset}, {os.cpu_count()} cores, --jobs {args.jobs}, "
          f"load average {os.getloadavg()[0]:.2f}, {args.repeats} repeats: median (best)")
    with tempfile.TemporaryDirectory(prefix="midib-ocr-") as tmp:
        bench = Path(tmp) / "bench"
        midib("generate", str(bench), "--preset", args.preset, "--seed", "0", "--force")
        for tool in TOOLS:
            run = Path(tmp) / tool
            midib("run", str(bench), "--tool", tool, "--out", str(run), "--force")
            report(tool, [score_once(bench, run, args.jobs) for _ in range(args.repeats)])


if __name__ == "__main__":
    main()
