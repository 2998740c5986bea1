"""Content matching: the match phase's seconds, and the pixel distances behind its thresholds.

Usage: .venv/bin/python benchmarks/bench_match.py BENCH [RUN] [--jobs N] [--pairs 150]

With RUN (best one whose tool renames every UID, e.g. `midib run BENCH --tool dicognito`),
prints the match phase's wall time (the phase alone, the sources' thumbnails and features from
the user's cache after a first, warming call) and how outputs were paired. Then, from BENCH's
own inputs, prints the distribution of :func:`midib.score.fingerprint.confirm_distance` for
header twins (same SOP class, matrix and InstanceNumber, different studies: must stay above
CONFIRM_DISTANCE) and for each source against itself re-encoded lossily or with a blanked band
(must stay below). Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from midib.benchmark import Benchmark
from midib.score import fingerprint as fpm
from midib.score import scorer, workunits
from midib.score.inputs import open_run, output_files
from midib.score.matching import match_outputs


def time_match(bench: Benchmark, run_dir: Path, jobs: int) -> None:
    index, _, _ = scorer.load_key(bench, None)
    run = open_run(run_dir)
    files, _ = output_files(run.output_root)
    sources = index.facts.sources(bench.input_dir)
    with workunits.make_executor(jobs, (str(run.output_root), index.identifying_paths(), index.sweeper)) as ex:
        records = [r for u in ex.map(workunits.observe_unit, workunits.file_units(files)) for r in u]
        for attempt in ("cold", "warm"):
            start = time.perf_counter()
            reader = scorer.source_reader(ex, bench, sources)
            thumbs = fpm.source_thumbnails(ex, bench, sources, index.facts.boxes)
            fp = fpm.PixelFingerprint(run.output_root, sources, index.facts.boxes, thumbs)
            match = match_outputs(records, sources, {}, fp, reader)
            print(f"match ({attempt} cache, --jobs {jobs}): {time.perf_counter() - start:.2f} s for "
                  f"{len(records)} outputs; pairs {len(match.pairs)} {dict(Counter(match.method.values()))}, "
                  f"extra {len(match.extra_outputs)}, unmatched {len(match.unmatched_inputs)}")


def header_twins(bench: Benchmark, count: int) -> list[tuple[Path, Path]]:
    groups: dict[tuple, dict[str, Path]] = defaultdict(dict)
    for p in sorted(bench.input_dir.rglob("*.dcm")):
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        if "Rows" in ds:
            key = (ds.SOPClassUID, ds.Rows, ds.Columns, ds.get("InstanceNumber"), ds.get("NumberOfFrames"))
            groups[key].setdefault(str(ds.StudyInstanceUID), p)
    twins = [(a, b) for g in groups.values() for a, b in zip(list(g.values()), list(g.values())[1:])]
    random.Random(0).shuffle(twins)
    return twins[:count]


def lossy(px: np.ndarray) -> np.ndarray:
    """JPEG quality 60 for 8-bit frames, else +-1 % uniform noise (a harsh lossy codec)."""
    if px.max() <= 255 and px.min() >= 0:
        buf = io.BytesIO()
        Image.fromarray(px.astype(np.uint8)).save(buf, "JPEG", quality=60)
        return np.asarray(Image.open(buf))
    noise = np.random.default_rng(0).uniform(-1, 1, px.shape) * 0.01 * float(px.max() - px.min())
    return np.round(px + noise)


def banded(px: np.ndarray, share: float) -> np.ndarray:
    out = px.copy()
    out[: int(out.shape[0] * share)] = 0
    return out


def show(name: str, values: list[float]) -> None:
    v = np.array([x for x in values if x is not None])
    print(f"  {name:28s} n={len(v):4d} min {v.min():.4f} p5 {np.percentile(v, 5):.4f} "
          f"median {np.median(v):.4f} p95 {np.percentile(v, 95):.4f} max {v.max():.4f}")


def thresholds(bench: Benchmark, count: int) -> None:
    def d(a: np.ndarray, b: np.ndarray) -> float:
        return fpm.confirm_distance(fpm.grid_of(a), fpm.grid_of(b), [])
    twins = header_twins(bench, count)
    print(f"confirm_distance (CONFIRM_DISTANCE = {fpm.CONFIRM_DISTANCE}):")
    show("header twins (other image)", [d(fpm.stored_frame(a), fpm.stored_frame(b)) for a, b in twins])
    frames = [fpm.stored_frame(p) for p, _ in twins[: count // 2]]
    frames = [f for f in frames if f is not None]
    show("same image, lossy", [d(f, lossy(f)) for f in frames])
    show("same image, 10 % rows blank", [d(f, banded(f, 0.1)) for f in frames])
    show("same image, 25 % rows blank", [d(f, banded(f, 0.25)) for f in frames])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", type=Path)
    ap.add_argument("run", type=Path, nargs="?")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=150)
    args = ap.parse_args()
    bench = Benchmark.open(args.bench)
    if args.run:
        time_match(bench, args.run, args.jobs)
    thresholds(bench, args.pairs)


if __name__ == "__main__":
    main()
