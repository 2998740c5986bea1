"""One instance being planted: its dataset, what the generator knows about it, its entries."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Optional

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from midib.generate.context import Device, StudyContext, dicom_date
from midib.ledger import LedgerEntry


@dataclass
class PlantingContext:
    """The synthetic world around one instance (its study, device, earlier studies)."""

    study: StudyContext
    device: Device
    seed: int
    kind: str                                   # object kind: CT, US_CINE, SR, ...
    priors: list[StudyContext] = field(default_factory=list)
    private_safety: dict[tuple[int, str, int], bool] = field(default_factory=dict)


class PlantedInstance:
    """A dataset plus the ledger entries planted into it (``file`` filled in when written)."""

    def __init__(self, ds: Dataset, ctx: PlantingContext, rng: random.Random) -> None:
        self.ds = ds
        self.ctx = ctx
        self.rng = rng
        self.entries: list[LedgerEntry] = []
        self.file = ""
        self.explicit_paths: set[str] = set()   # paths whose entries a planter already wrote

    def add(self, role: str, channel: str, kind: str, phi_class: str, *, value: str,
            path: Optional[str] = None, elem: Optional[DataElement] = None,
            context: Optional[str] = None, box: Optional[list[int]] = None,
            frame: Optional[int] = None, extra: Optional[dict[str, Any]] = None,
            explicit: bool = True) -> LedgerEntry:
        """Record one planted value; ``explicit`` marks its path as handled for the walker."""
        ds = self.ds
        entry = LedgerEntry(
            id="", role=role, channel=channel, kind=kind, phi_class=phi_class,  # type: ignore[arg-type]
            instance=str(ds.get("SOPInstanceUID", "")), file=self.file,
            patient_id=self.ctx.study.patient.patient_id, study_uid=str(ds.get("StudyInstanceUID", "")),
            series_uid=str(ds.get("SeriesInstanceUID", "")), modality=str(ds.get("Modality", "")),
            sop_class_uid=str(ds.get("SOPClassUID", "")), path=path,
            tag_name=_tag_name(elem), vr=elem.VR if elem is not None else None, value=value,
            context=context, box=box, frame=frame, extra=dict(extra or {}))
        self.entries.append(entry)
        if explicit and path is not None:
            self.explicit_paths.add(path)
        return entry

    def set_file(self, rel: str) -> None:
        """Fix the instance's path relative to BENCH/input in every entry recorded so far."""
        self.file = rel
        for e in self.entries:
            e.file = rel


def _tag_name(elem: Optional[DataElement]) -> str:
    if elem is None:
        return ""
    return elem.keyword or elem.name


def value_text(elem: DataElement) -> str:
    """An element's value as text, the way the ledger stores it (multi-values joined by ``\\``)."""
    v = elem.value
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.decode("latin-1").rstrip("\x00 ")
    if isinstance(v, (list, tuple, MultiValue)):
        return "\\".join(str(x) for x in v)
    return str(v)


def display_date(d: Any, style: int = 0) -> str:
    """A date as people and devices print it (not DICOM DA): several styles, picked by caller."""
    if style == 1:
        return d.strftime("%m/%d/%Y")
    if style == 2:
        return d.strftime("%d-%b-%Y").upper()
    return dicom_date(d)
