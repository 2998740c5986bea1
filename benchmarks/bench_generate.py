"""Throughput of `midib generate` for a preset, beside the floor measured in the same run.

The floor writes the same number of plain pydicom datasets of the same file sizes (a minimal
header and PixelData of equal length) to the same kind of disk, without identities, planting,
ledger or key: the cost of the bytes alone. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_generate.py [--preset small] [--seed 0]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from midib.generate.writer import generate


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="midib-bench-"))
    try:
        start = time.perf_counter()
        cpu0 = time.process_time()
        manifest = generate(work / "bench", preset=args.preset, seed=args.seed)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        files = sorted((work / "bench" / "input").rglob("*.dcm"))
        sizes = [p.stat().st_size for p in files]
        mb = sum(sizes) / 1e6
        n = manifest["counts"]["instances"]
        cpu_f0 = time.process_time()
        floor_wall = floor(sizes, work / "floor")
        floor_cpu = time.process_time() - cpu_f0
        print(f"preset {args.preset}: {n} instances, {mb:.1f} MB, "
              f"{manifest['counts']['ledger_entries']} ledger entries, {manifest['counts']['checks']} checks")
        print(f"generate: {wall:.1f} s wall ({cpu:.1f} s CPU): {n / wall:.1f} instances/s, {mb / wall:.1f} MB/s")
        print(f"floor   : {floor_wall:.1f} s wall ({floor_cpu:.1f} s CPU): {n / floor_wall:.1f} instances/s, "
              f"{mb / floor_wall:.1f} MB/s")
        print(f"ratio generate/floor (wall): {wall / floor_wall:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
