"""Files per second of one output observation: raw byte walker vs the pydicom path vs the floor.

The floor is one ``pydicom.dcmread`` of each file (pixels deferred), which is what `midib score`
can at best approach. Each reading is timed without the leak sweep (``scan=None``, the slim
first pass) and with the benchmark's real sweeper and wanted paths (the full pass).

    .venv/bin/python benchmarks/bench_observe.py [OUTPUT_DIR] [--bench BENCH_DIR] [--limit N]

Prints numbers only (no assertions). Defaults: the `small` bench of bench_score.py.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path
from typing import Callable

import pydicom

from midib.benchmark import Benchmark
from midib.score.observation import observe, observe_pydicom, observe_raw

DEFAULT_OUT = Path("/tmp/midib-bench-score/run-identity/output")
DEFAULT_BENCH = Path("/tmp/midib-bench-score/bench-small")


def key_index(bench_dir: Path):
    """(wanted paths, sweeper) exactly as `midib score` builds them (memo cleared per timing)."""
    from midib.score import scorer
    index, _, _ = scorer.load_key(Benchmark.open(bench_dir), None)
    return frozenset(index.facts.wanted), index.sweeper


def timed(label: str, files: list[Path], read: Callable[[Path], object], reset: Callable[[], None],
          repeat: int = 3) -> float:
    """Best of ``repeat`` passes, in CPU seconds of this process (other processes share the
    machine: wall time swings 2x with their load, CPU time much less); wall time shown too."""
    cpu = wall = float("inf")
    for _ in range(repeat):
        reset()
        start, start_cpu = time.perf_counter(), time.process_time()
        for f in files:
            read(f)
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start)
    rate = len(files) / cpu
    print(f"{label:<38} {rate:8.0f} files/s  {1000 * cpu / len(files):6.3f} ms/file CPU"
          f"  ({len(files) / wall:6.0f} files/s wall)")
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    ap.add_argument("--limit", type=int, default=0, help="only the first N files")
    args = ap.parse_args()
    files = sorted(p for p in args.output.rglob("*") if p.is_file())
    files = files[:args.limit] if args.limit else files
    wanted, sweeper = key_index(args.bench)
    slim = frozenset(p for p in wanted if "[" not in p)
    print(f"{len(files)} files in {args.output}; {len(wanted)} wanted paths, "
          f"{len(sweeper.needles)} sweep needles")
    raw_taken = sum(observe_raw(f, f.name, wanted, None) is not None for f in files)
    print(f"raw walker used for {raw_taken}/{len(files)} files (the rest fall back to pydicom)")
    nothing = lambda: None  # noqa: E731
    clear = sweeper.memo.clear

    def floor(f: Path) -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(f, defer_size=64 * 1024, force=True)

    timed("floor: pydicom.dcmread", files, floor, nothing)
    timed("pydicom path, slim wanted, no scan", files,
          lambda f: observe_pydicom(f, f.name, slim, None), nothing)
    timed("raw walker,   slim wanted, no scan", files, lambda f: observe(f, f.name, slim, None), nothing)
    timed("pydicom path, full wanted, no scan", files,
          lambda f: observe_pydicom(f, f.name, wanted, None), nothing)
    timed("raw walker,   full wanted, no scan", files, lambda f: observe(f, f.name, wanted, None), nothing)
    timed("pydicom path, full wanted, sweep", files,
          lambda f: observe_pydicom(f, f.name, wanted, sweeper), clear)
    timed("raw walker,   full wanted, sweep", files, lambda f: observe(f, f.name, wanted, sweeper), clear)
    timed("raw walker,   full wanted, no-op scan", files,
          lambda f: observe(f, f.name, wanted, lambda t, v, w: []), nothing)


if __name__ == "__main__":
    main()
