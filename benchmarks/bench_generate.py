"""Throughput of `midib generate` for a preset, beside the floor measured in the same run.

The floor writes the same number of plain pydicom datasets of the same file sizes (a minimal
header and PixelData of equal length) to the same kind of disk, without identities, planting,
ledger or key: the cost of the bytes alone, in one process. Generation runs with ``--jobs``
worker processes (default: one per CPU). Prints wall and CPU seconds (CPU includes the worker
processes, so a busy machine shows in wall time, not in CPU time), instances/s, MB/s, the
ratio to the floor, and peak memory (largest resident set of this process and of any worker).
Asserts nothing.

    .venv/bin/python benchmarks/bench_generate.py [--preset small] [--seed 0] [--jobs N]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from midib.generate.writer import default_jobs, generate


def floor(sizes: list[int], out: Path) -> float:
    """Seconds to write ``len(sizes)`` minimal datasets whose files have about those sizes."""
    start = time.perf_counter()
    for i, size in enumerate(sizes):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = SecondaryCaptureImageStorage
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(i)])
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PixelData = bytes(max(size - 512, 2) // 2 * 2)
        ds["PixelData"].VR = "OB"
        target = out / f"{i // 100:04d}" / f"{i}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        dcmwrite(target, ds, enforce_file_format=True)
    return time.perf_counter() - start


def cpu_seconds() -> float:
    """User+system CPU of this process and of its finished children (the workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_mb() -> tuple[float, float]:
    """(peak RSS of this process, peak RSS of the largest finished child) in MB (Linux: KiB units)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_maxrss / 1024, kids.ru_maxrss / 1024


def line(label: str, wall: float, cpu: float, n: int, mb: float) -> str:
    return (f"{label}: {wall:6.1f} s wall ({cpu:6.1f} s CPU): {n / wall:7.1f} instances/s, "
            f"{mb / wall:6.1f} MB/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per CPU)")
    args = ap.parse_args()
    jobs = args.jobs or default_jobs()
    work = Path(tempfile.mkdtemp(prefix="midib-bench-"))
    try:
        start, cpu0 = time.perf_counter(), cpu_seconds()
        manifest = generate(work / "bench", preset=args.preset, seed=args.seed, jobs=jobs)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
        own_mb, worker_mb = peak_mb()
        sizes = [p.stat().st_size for p in sorted((work / "bench" / "input").rglob("*.dcm"))]
        mb, n = sum(sizes) / 1e6, manifest["counts"]["instances"]
        cpu_f0 = time.perf_counter(), cpu_seconds()
        floor_wall = floor(sizes, work / "floor")
        floor_cpu = cpu_seconds() - cpu_f0[1]
        c = manifest["counts"]
        print(f"preset {args.preset}, seed {args.seed}, jobs {jobs}: {n} instances, {mb:.1f} MB, "
              f"{c['ledger_entries']} ledger entries, {c['checks']} checks")
        print(line("generate", wall, cpu, n, mb))
        print(line("floor   ", floor_wall, floor_cpu, n, mb))
        print(f"ratio generate/floor: {wall / floor_wall:.1f}x wall, {cpu / floor_cpu:.1f}x CPU")
        print(f"peak memory: {own_mb:.0f} MB parent, {worker_mb:.0f} MB largest worker")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
