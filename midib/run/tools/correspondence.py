"""Which output file came from which input file, and the identifier mapping that reveals.

System tools (PixelMed, gdcmanon, Orthanc) do not write MIDI-B mapping CSVs, but their
adapters know the file correspondence (from the tool's log, from a one-to-one folder
layout, or from Orthanc's ``AnonymizedFrom``). Reading the identifiers of both files turns
that correspondence into the ``id_old -> id_new`` mapping the scorer accepts, and the
inputs without an output become notes instead of silently missing files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Union

import pydicom
from pydicom.errors import InvalidDicomError

from midib.run.adapter import ToolOutcome

UID_KEYWORDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")


@dataclass(frozen=True)
class DicomIds:
    """The identifiers a de-identifier replaces and the scorer pairs files by."""

    patient_id: str
    uids: dict[str, str]

    @property
    def sop_uid(self) -> str:
        return self.uids.get("SOPInstanceUID", "")


def input_files(root: Path) -> list[Path]:
    """Every regular file under ``root``, sorted, so runs and notes are reproducible."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def read_ids(source: Union[Path, bytes]) -> Optional[DicomIds]:
    """The identifiers of a DICOM file (path or bytes), or None if it is not readable DICOM."""
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        ds = pydicom.dcmread(handle, stop_before_pixels=True, force=isinstance(source, bytes))
    except (InvalidDicomError, OSError, ValueError, EOFError):
        return None
    uids = {kw: str(ds.get(kw, "") or "") for kw in UID_KEYWORDS}
    return DicomIds(patient_id=str(ds.get("PatientID", "") or ""), uids=uids)


def record_pair(outcome: ToolOutcome, old: Optional[DicomIds], new: Optional[DicomIds]) -> None:
    """Add one input/output pair's identifiers to the outcome's mappings.

    Empty values are skipped (nothing to map); a UID already mapped keeps its first new
    value, and a conflict is noted, because an inconsistent replacement is itself a finding.
    """
    if old is None or new is None:
        return
    pairs = [(old.uids[k], new.uids.get(k, "")) for k in UID_KEYWORDS]
    for old_uid, new_uid in pairs:
        _put(outcome.uid_mapping, old_uid, new_uid, outcome.notes, "UID")
    _put(outcome.patid_mapping, old.patient_id, new.patient_id, outcome.notes, "PatientID")


def _put(mapping: dict[str, str], old: str, new: str, notes: list[str], what: str) -> None:
    if not old or not new:
        return
    known = mapping.setdefault(old, new)
    if known != new:
        note = f"inconsistent {what} replacement: {old} -> {known} and {new}"
        if note not in notes:
            notes.append(note)


def note_missing(outcome: ToolOutcome, inputs: Iterable[Path], produced: set[Path],
                 root: Path, why: str) -> list[Path]:
    """Note every input without an output (``why`` says what the tool did); return them."""
    missing = [p for p in inputs if p not in produced]
    for path in missing:
        outcome.notes.append(f"no output for {path.relative_to(root)}: {why}")
    return missing
