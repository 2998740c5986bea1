"""Throughput of the clean-object builders against the floor of plain pydicom writing.

Prints, for a `small`-like mix (about 2,000 instances), the seconds to build and write the
objects and the seconds to write the same number of minimal pydicom datasets with pixel data of
the same sizes (the floor the generator is judged against: within 2x). No assertions.

    .venv/bin/python benchmarks/objects_throughput.py [--studies N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_objects_fixtures import ROOT, make_study  # noqa: E402

from midib.generate.context import UidFactory  # noqa: E402
from midib.generate.objects import build_series, pick_device  # noqa: E402

# (kind, n_instances, matrix) per study: ~100 instances, every kind
MIX = [("CT", 40, 256), ("MR", 20, 256), ("MR", 20, 256), ("PT", 10, 128), ("CR", None, None),
       ("DX", None, None), ("MG", None, None), ("US", None, None), ("US_CINE", None, None),
       ("SC", None, None), ("SEG", None, None), ("RTSTRUCT", None, None), ("SR", None, None)]


def build_study(index: int) -> list[Dataset]:
    study, rng, uids = make_study(index % 28), np.random.default_rng(index), UidFactory(ROOT, index)
    out: list[Dataset] = []
    ct: list[Dataset] = []
    for number, (kind, n, matrix) in enumerate(MIX, 1):
        series = build_series(kind, study, pick_device(kind, rng, index), uids, rng, series_number=number,
                              n_instances=n, matrix=matrix, source=ct or None)
        ct = ct or series
        out.extend(series)
    return out


def plain_copy(ds: Dataset) -> Dataset:
    """A minimal dataset with the same pixel bytes: what writing costs without any header work."""
    plain = Dataset()
    plain.file_meta = FileMetaDataset()
    plain.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    plain.SOPClassUID = ds.SOPClassUID
    plain.SOPInstanceUID = generate_uid()
    if "PixelData" in ds:
        plain.add_new(0x7FE00010, ds["PixelData"].VR, ds.PixelData)
    return plain


def write_all(datasets: list[Dataset], folder: Path, first: int = 0) -> tuple[float, int]:
    start, size = time.perf_counter(), 0
    for i, ds in enumerate(datasets, first):
        path = folder / f"{i:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        size += path.stat().st_size
    return time.perf_counter() - start, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=20)
    args = parser.parse_args()
    build_series("CT", make_study(), pick_device("CT", np.random.default_rng(0), 0), UidFactory(ROOT, 0),
                 np.random.default_rng(0), series_number=1, n_instances=1, matrix=16)  # warm imports
    build_s = write_s = floor_s = 0.0
    n = size = floor_size = 0
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        for i in range(args.studies):      # streamed per study, as the generator writes
            t0 = time.perf_counter()
            datasets = build_study(i)
            build_s += time.perf_counter() - t0
            seconds, nbytes = write_all(datasets, Path(a), n)
            write_s, size = write_s + seconds, size + nbytes
            seconds, nbytes = write_all([plain_copy(ds) for ds in datasets], Path(b), n)
            floor_s, floor_size = floor_s + seconds, floor_size + nbytes
            n += len(datasets)
    mb, total = size / 1e6, build_s + write_s
    print(f"instances            {n}")
    print(f"MB written           {mb:.1f}")
    print(f"build seconds        {build_s:.2f}  ({n / build_s:.0f} instances/s)")
    print(f"write seconds        {write_s:.2f}  (same datasets, full headers)")
    print(f"build+write seconds  {total:.2f}  ({n / total:.0f} instances/s, {mb / total:.1f} MB/s)")
    print(f"floor write seconds  {floor_s:.2f}  ({n / floor_s:.0f} instances/s, {floor_size / 1e6 / floor_s:.1f} MB/s)"
          "  (minimal headers, same pixel bytes)")
    print(f"ratio (build+write)/floor  {total / floor_s:.2f}")
    print(f"ratio (build+write)/write  {total / write_s:.2f}")


if __name__ == "__main__":
    main()
