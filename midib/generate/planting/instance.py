"""One instance being planted: its dataset, what the generator knows about it, its entries."""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

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
        self._frozen: Optional[tuple[str, ...]] = None

    def add(self, role: str, channel: str, kind: str, phi_class: str, *, value: str,
            path: Optional[str] = None, elem: Optional[DataElement] = None,
            context: Optional[str] = None, box: Optional[list[int]] = None,
            frame: Optional[int] = None, extra: Optional[dict[str, Any]] = None,
            explicit: bool = True) -> LedgerEntry:
        """Record one planted value; ``explicit`` marks its path as handled for the walker."""
        instance, study_uid, series_uid, modality, sop_class_uid = self._frozen or _header(self.ds)
        entry = LedgerEntry(
            id="", role=role, channel=channel, kind=kind, phi_class=phi_class,  # type: ignore[arg-type]
            instance=instance, file=self.file,
            patient_id=self.ctx.study.patient.patient_id, study_uid=study_uid,
            series_uid=series_uid, modality=modality, sop_class_uid=sop_class_uid, path=path,
            tag_name=_tag_name(elem), vr=elem.VR if elem is not None else None, value=value,
            context=context, box=box, frame=frame, extra=dict(extra or {}))
        self.entries.append(entry)
        if explicit and path is not None:
            self.explicit_paths.add(path)
        return entry

    @contextmanager
    def header_frozen(self) -> Iterator[None]:
        """Read the entry header (UIDs, modality) once for a block that does not change it."""
        self._frozen = _header(self.ds)
        try:
            yield
        finally:
            self._frozen = None

    def set_file(self, rel: str) -> None:
        """Fix the instance's path relative to BENCH/input in every entry recorded so far."""
        self.file = rel
        for e in self.entries:
            e.file = rel


#: SOPInstanceUID, StudyInstanceUID, SeriesInstanceUID, Modality, SOPClassUID
_HEADER_TAGS = tuple(Tag(t) for t in (0x00080018, 0x0020000D, 0x0020000E, 0x00080060, 0x00080016))


def _header(ds: Dataset) -> tuple[str, ...]:
    """The identifying header of an entry, read now (planters may still change it).

    Equivalent to ``str(ds.get(keyword, ""))`` per attribute, through the element dict:
    keyword lookups were most of the cost of recording an entry.
    """
    elements = ds._dict
    out = []
    for tag in _HEADER_TAGS:
        elem = elements.get(tag)
        if elem is None:
            out.append("")
        elif isinstance(elem, DataElement):
            out.append(str(elem.value))
        else:                                   # raw (read from a file): let pydicom convert
            out.append(str(ds[tag].value))
    return tuple(out)


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
