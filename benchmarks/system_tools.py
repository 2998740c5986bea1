"""Throughput of the system-tool adapters (PixelMed, gdcmanon, Orthanc) on N small CT files.

Builds N copies of pydicom's CT_small.dcm (new UIDs, 10 instances per study, 5 studies per
patient) in a temporary folder and runs each available adapter directly (not through the
runner, so no memory figure). Prints numbers; asserts nothing.
Usage: python benchmarks/system_tools.py [--files 200] [--tools pixelmed,gdcmanon,orthanc]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from midib.run.adapter import RunContext
from midib.run.tools.gdcm import GdcmAnonAdapter
from midib.run.tools.orthanc import OrthancAdapter
from midib.run.tools.pixelmed import PixelMedAdapter

ADAPTERS = {a.name: a for a in (PixelMedAdapter(), GdcmAnonAdapter(), OrthancAdapter())}


def make_input(root: Path, files: int) -> None:
    """``files`` CT instances, grouped in studies of 10 and patients of 5 studies."""
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for i in range(files):
        study, patient = i // 10, i // 50
        if i % 10 == 0:
            study_uid, series_uid = generate_uid(), generate_uid()
        ds = template.copy()
        ds.PatientID, ds.PatientName = f"PAT{patient:04d}", f"Patient^{patient}"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        path = root / f"p{patient}" / f"s{study}" / f"{i}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--tools", default=",".join(ADAPTERS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "input"
        make_input(source, args.files)
        for name in args.tools.split(","):
            adapter = ADAPTERS[name]
            ok, why = adapter.available()
            if not ok:
                print(f"{name:10s} unavailable: {why}")
                continue
            work = Path(tmp) / name
            ctx = RunContext(work_dir=work / "work", log_dir=work / "logs")
            start = time.perf_counter()
            outcome = adapter.run(source, work / "output", ctx)
            seconds = time.perf_counter() - start
            written = sum(1 for _ in (work / "output").rglob("*.dcm"))
            print(f"{name:10s} {args.files} files -> {written} in {seconds:6.2f} s "
                  f"({args.files / seconds:6.1f} files/s), {len(outcome.uid_mapping)} UIDs mapped, "
                  f"{len(outcome.notes)} notes")


if __name__ == "__main__":
    main()
