"""Scoring throughput and memory beside the floor (one pydicom read of every output file).

Usage: .venv/bin/python benchmarks/bench_score.py [--preset small] [--work DIR] [--jobs N]

Generates the benchmark and the identity/oracle runs once into --work (reused if present), then
for each run prints: the floor (dcmread of every output file, one process), `midib score` wall
time and peak RSS (a child process, so memory is the scorer's own) for the header checks alone
(--no-ocr --no-conformance) and with everything, at --jobs 1 and N. The first score of each run
uses an empty cache (``cold``: the key is indexed, sources read, dciodvfy run on sources); the
others reuse it (``warm``), as a leaderboard scoring several tools does. Prints numbers; asserts
nothing (figures depend on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pydicom

MIDIB = [sys.executable, "-m", "midib"]
#: runs the CLI, then reports its own peak RSS and its workers' (largest child) on stderr. The
#: parent's is VmHWM (this process image's high-water mark): ru_maxrss survives exec on Linux, so
#: it would report the benchmark script's own peak (its floor pass) for every child it starts.
_MEASURED = ("import resource, sys; from midib.cli import main; code = main(sys.argv[1:]); "
             "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')] "
             "if sys.platform.startswith('linux') else []; "
             "me = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
             "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
             "print('PEAK', me, kids, file=sys.stderr); sys.exit(code)")


def sh(args: list[str], cache: Path) -> tuple[float, float, float]:
    """Run a midib command in a child: (wall s, peak RSS MB of the scorer, of its largest worker)."""
    start = time.perf_counter()
    env = {**os.environ, "MIDIB_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", _MEASURED] + args, check=True, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    line = next(l for l in done.stderr.splitlines() if l.startswith("PEAK"))
    me, kids = (int(x) / 1024.0 for x in line.split()[1:])
    return wall, me, kids


def floor(output: Path) -> tuple[float, int]:
    files = [p for p in output.rglob("*") if p.is_file()]
    start = time.perf_counter()
    for p in files:
        pydicom.dcmread(p, force=True)
    return time.perf_counter() - start, len(files)


def prepare(work: Path, preset: str) -> Path:
    bench = work / f"bench-{preset}"
    if not (bench / "benchmark.json").is_file():
        subprocess.run(MIDIB + ["generate", str(bench), "--preset", preset, "--seed", "0"], check=True)
    for tool in ("identity", "oracle"):
        if not (work / f"run-{tool}" / "run.json").is_file():
            subprocess.run(MIDIB + ["run", str(bench), "--tool", tool, "--out", str(work / f"run-{tool}"),
                                    "--force"], check=True)
    return bench


def memory_slope(work: Path, presets: list[str], jobs: int) -> None:
    """Peak RSS of the scorer (parent, warm cache, header checks) per preset, and its growth per
    instance between the smallest and the largest: what flat-in-instances has to mean here."""
    cache = Path(tempfile.mkdtemp(prefix="midib-bench-cache-"))
    seen: list[tuple[int, float]] = []
    print(f"\nmemory by benchmark size (identity run, --no-ocr --no-conformance, --jobs {jobs}, warm cache)")
    for preset in presets:
        bench = work / f"bench-{preset}"
        if not (bench / "benchmark.json").is_file():
            subprocess.run(MIDIB + ["generate", str(bench), "--preset", preset, "--seed", "0"], check=True)
        run = work / f"mem-run-{preset}"
        if not (run / "run.json").is_file():
            subprocess.run(MIDIB + ["run", str(bench), "--tool", "identity", "--out", str(run), "--force"],
                           check=True, stdout=subprocess.DEVNULL)
        n = sum(1 for p in (run / "output").rglob("*") if p.is_file())
        args = ["score", str(bench), str(run), "--out", str(work / f"mem-score-{preset}"), "--jobs", str(jobs),
                "--no-ocr", "--no-conformance"]
        sh(args, cache)                      # fills the cache
        _, peak, worker = sh(args, cache)
        seen.append((n, peak))
        print(f"  {preset:7s} {n:6d} instances: parent peak {peak:4.0f} MB, largest worker {worker:4.0f} MB")
    if len(seen) > 1 and seen[-1][0] > seen[0][0]:
        (n0, p0), (n1, p1) = seen[0], seen[-1]
        print(f"  growth: {(p1 - p0) * 1024 / (n1 - n0):.1f} KB per instance")


def results_costs(score_dir: Path, unit_rows: int = 2000) -> None:
    """CPU per row of the results path, on a score's own rows cut in units of ``unit_rows``
    (about a work unit's): what each worker spends finishing its unit (CSV text, counts) and
    what the parent, which shares the cores with the workers, spends writing it."""
    import pyarrow.parquet as pq

    from midib.score.sink import FileSink, unit_result
    table = pq.read_table(score_dir / "results.parquet")
    tables = [table.slice(i, unit_rows).combine_chunks() for i in range(0, table.num_rows, unit_rows)]
    start = time.process_time()
    units = [unit_result(t) for t in tables]
    worker = time.process_time() - start
    with tempfile.TemporaryDirectory(prefix="midib-bench-sink-") as tmp:
        start = time.process_time()
        sink = FileSink(Path(tmp))
        for unit in units:
            sink.extend_unit(unit)
        sink.close()
        parent = time.process_time() - start
    per = 1e6 / table.num_rows
    print(f"  results ({table.num_rows:,} rows): workers finish units {worker * per:.2f} us/row "
          f"({worker:.2f} s), the parent writes them {parent * per:.2f} us/row ({parent:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "midib-bench-score")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--memory-presets", default="mini,small",
                    help="presets whose scoring peak memory is compared ('' to skip)")
    ap.add_argument("--memory-only", action="store_true", help="skip the throughput runs")
    args = ap.parse_args()
    if args.memory_only:
        memory_slope(args.work, args.memory_presets.split(","), args.jobs)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    bench = prepare(args.work, args.preset)
    print(f"preset {args.preset}, {os.cpu_count()} cores, work {args.work}")
    for tool in ("identity", "oracle"):
        run = args.work / f"run-{tool}"
        f_sec, n = floor(run / "output")
        print(f"\n{tool}: {n} output files; floor (dcmread all, 1 process) {f_sec:.2f} s = {n / f_sec:,.0f} inst/s")
        cache = Path(tempfile.mkdtemp(prefix="midib-bench-cache-"))  # the first score runs cold
        plan = [(label, extra, jobs) for label, extra in (("headers", ["--no-ocr", "--no-conformance"]),
                                                          ("full", []))
                for jobs in sorted({1, args.jobs})]
        for i, (label, extra, jobs) in enumerate([plan[-1]] + plan):
            state = "cold" if i == 0 else "warm"
            out = args.work / f"score-{tool}-{label}-{jobs}"
            wall, peak, worker = sh(["score", str(bench), str(run), "--out", str(out),
                                     "--jobs", str(jobs)] + extra, cache)
            summary = json.loads((out / "summary.json").read_text())
            checks = summary["overall"]["total"]
            phases = ", ".join(f"{k} {v:.2f}" for k, v in summary["timings"].items())
            print(f"  {label:7s} jobs={jobs} {state}: {wall:6.2f} s  {n / wall:7,.0f} inst/s  {checks / wall:9,.0f} checks/s"
                  f"  x{wall / f_sec:4.1f} floor  peak {peak:4.0f} MB (worker {worker:4.0f} MB)"
                  f"  {summary['overall']['percent']:.2f}%"
                  f"\n      phases: {phases}")
        results_costs(args.work / f"score-{tool}-headers-{args.jobs}")

    if args.memory_presets:
        memory_slope(args.work, args.memory_presets.split(","), args.jobs)


if __name__ == "__main__":
    main()
