"""A tiny hand-made benchmark for the runner's tests (independent of the generator).

Two instances of one patient (pydicom's CT_small and MR_small), with planted PHI in
attributes, free text, a private block (one safe, one unsafe element), a reference from the
MR to the CT and a burned-in box; a ledger and an answer key written by hand.
Imported by the other test_run_* files (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.answer_key import Check, write_key
from midib.benchmark import Benchmark, checksum_tree
from midib.ledger import LedgerEntry, write_ledger

NAME, MRN, INSTITUTION = "DOE^JOHN", "MRN4711", "SAINT ELSEWHERE HOSPITAL"
FREE_TEXT = "CT chest for John Doe, follow-up nodule"
CREATOR = "ACME 1.0"
SAFE_PATH = f'(0011,"{CREATOR}",01)'
UNSAFE_PATH = f'(0011,"{CREATOR}",02)'
BOX = [10, 10, 40, 30]
OPTIONS = ["rtnSafePrivOpt", "cleanDescOpt", "cleanPixelData"]


def _plant(ds: Dataset, description: str) -> Dataset:
    ds.PatientName, ds.PatientID, ds.InstitutionName = NAME, MRN, INSTITUTION
    ds.PatientBirthDate, ds.StudyDate, ds.StudyDescription = "19600304", "20200115", description
    ds.SeriesDescription = "AXIAL 5MM"
    for t in [e.tag for e in ds if e.tag.is_private]:
        del ds[t]
    block = ds.private_block(0x0011, CREATOR, create=True)
    block.add_new(0x01, "LO", "SLICE ORDER 7")
    block.add_new(0x02, "LO", f"operator {NAME}")
    return ds


def _ct() -> Dataset:
    ds = _plant(pydicom.dcmread(get_testdata_file("CT_small.dcm")), FREE_TEXT)
    arr = ds.pixel_array.copy()
    x0, y0, x1, y1 = BOX
    arr[y0:y1, x0:x1] = arr.max()  # the "burned-in text"
    ds.PixelData = arr.tobytes()
    return ds


def _mr(ct: Dataset) -> Dataset:
    ds = _plant(pydicom.dcmread(get_testdata_file("MR_small.dcm")), "MR brain")
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = ct.SOPClassUID, ct.SOPInstanceUID
    ds.ReferencedImageSequence = Sequence([ref])
    ds.StudyInstanceUID = ct.StudyInstanceUID
    return ds


def _check(n: int, ds: Dataset, rel: str, action: str, path, expected: dict, **kw) -> Check:
    return Check(id=f"c{n:03d}", instance=str(ds.SOPInstanceUID), file=rel, patient_id=MRN,
                 study_uid=str(ds.StudyInstanceUID), series_uid=str(ds.SeriesInstanceUID),
                 modality=str(ds.Modality), scope="instance", action=action, path=path,
                 tag_name=kw.pop("tag_name", ""), expected=expected, **kw)


def checks_for(ds: Dataset, rel: str, start: int) -> list[Check]:
    """One check of every kind the oracle must satisfy."""
    specs = [
        ("text_removed", "(0010,0010)", {"value": NAME}),
        ("patid_consistent", "(0010,0020)", {"value": MRN}),
        ("text_removed", "(0008,0080)", {"value": INSTITUTION}, {"iod_type": "3"}),
        ("date_shifted", "(0008,0020)", {"value": "20200115"}),
        ("text_removed", "(0010,0030)", {"value": "19600304"}),
        ("uid_changed", "(0008,0018)", {"value": str(ds.SOPInstanceUID)}),
        ("uid_consistent", "(0020,000d)", {"value": str(ds.StudyInstanceUID)}),
        ("text_retained", "(0008,103e)", {"value": "AXIAL 5MM"}),
        ("tag_retained", SAFE_PATH, {"value": "SLICE ORDER 7"}),
        ("text_removed", UNSAFE_PATH, {"value": f"operator {NAME}"}),
        ("deid_recorded", None, {"options": OPTIONS}),
    ]
    if "John" in str(ds.StudyDescription):
        specs.append(("text_cleaned", "(0008,1030)",
                      {"removed": ["John Doe"], "retained": ["chest", "nodule"], "value": FREE_TEXT}))
        specs.append(("pixels_hidden", None, {"text": "JOHN", "box": BOX, "frame": 0}))
    else:
        specs.append(("uid_reference", "(0008,1140)[0](0008,1155)",
                      {"value": str(ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID),
                       "referenced_path": "(0008,0018)"}))
    return [_check(start + i, ds, rel, s[0], s[1], s[2], **(s[3] if len(s) > 3 else {}))
            for i, s in enumerate(specs)]


def ledger_for(ds: Dataset, rel: str, start: int) -> list[LedgerEntry]:
    base = dict(instance=str(ds.SOPInstanceUID), file=rel, patient_id=MRN,
                study_uid=str(ds.StudyInstanceUID), series_uid=str(ds.SeriesInstanceUID),
                modality=str(ds.Modality))
    rows = [("patient_name", "names", "(0010,0010)", NAME), ("patient_id", "mrn", "(0010,0020)", MRN),
            ("institution_name", "geographic", "(0008,0080)", INSTITUTION),
            ("birth_date", "dates", "(0010,0030)", "19600304")]
    return [LedgerEntry(id=f"l{start + i}", role="phi", channel="attribute", kind=k, phi_class=c,
                        path=p, value=v, **base) for i, (k, c, p, v) in enumerate(rows)]


def make_bench(root: Path) -> Path:
    """Write the benchmark under ``root`` and return it."""
    bench = Benchmark(root)
    ct = _ct()
    mr = _mr(ct)
    files = {"DOE_JOHN/ct/1.dcm": ct, "DOE_JOHN/mr/1.dcm": mr}
    checks, ledger = [], []
    for rel, ds in files.items():
        (bench.input_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(bench.input_dir / rel)
        checks += checks_for(ds, rel, len(checks))
        ledger += ledger_for(ds, rel, len(ledger))
    write_key(bench.checks_path, checks, {"profile": "test"})
    write_ledger(bench.ledger_path, ledger)
    bench.profile_path.write_text('{"name": "test", "options": %s}' % str(OPTIONS).replace("'", '"'))
    bench.write_manifest({"seed": 0, "preset": "hand", "profile": "test", "source": "synthetic",
                          "input_sha256": checksum_tree(bench.input_dir)})
    return root


def pixel_box(ds: Dataset) -> np.ndarray:
    x0, y0, x1, y1 = BOX
    return ds.pixel_array[y0:y1, x0:x1]
