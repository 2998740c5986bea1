"""The ledger: every value the generator planted, where, and what kind of identifier it is.

The ledger is the ground truth; answer keys are derived from it under a profile
(:mod:`midib.keys.derive`). One :class:`LedgerEntry` per planted value per place: a patient
name written into 40 instances is 40 entries, so every entry can be verified by reading it back.
Entries with ``role == "keep"`` record values that a correct de-identifier must preserve
(clinical wording, geometry, safe private elements), so the key checks utility, not only removal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Optional

from midib.jsonl import read_jsonl, write_jsonl

LEDGER_FORMAT = "midib-ledger"
LEDGER_VERSION = 1

Role = Literal["phi", "keep"]
#: where a value was planted
CHANNELS = ("attribute", "free_text", "sequence", "private", "pixel", "overlay", "filename", "uid")
#: HIPAA Safe Harbor identifier classes (45 CFR 164.514(b)(2)(i) A-R), plus "none" for kept values
HIPAA_CLASSES = (
    "names", "geographic", "dates", "phone", "fax", "email", "ssn", "mrn", "health_plan",
    "account", "license", "vehicle", "device", "url", "ip", "biometric", "photo", "other", "none",
)


@dataclass
class LedgerEntry:
    """One planted value at one place.

    ``path`` is midib tag-path notation (see :mod:`midib.tagpath`); None for pixel/filename
    entries. For ``free_text`` entries ``value`` is the identifying fragment and ``context`` the
    whole element value it sits in. Pixel entries carry ``box`` = [x0, y0, x1, y1] (inclusive
    top-left, exclusive bottom-right, pixel coordinates) and ``frame`` (0-based).
    """

    id: str
    role: Role
    channel: str
    kind: str                       # semantic kind: patient_name, mrn, study_date, clinical_text, ...
    phi_class: str                  # one of HIPAA_CLASSES
    instance: str                   # original SOPInstanceUID
    file: str                       # path relative to BENCH/input, POSIX separators
    patient_id: str
    study_uid: str
    series_uid: str
    modality: str
    sop_class_uid: str = ""
    path: Optional[str] = None
    tag_name: str = ""
    vr: Optional[str] = None
    value: str = ""
    context: Optional[str] = None
    box: Optional[list[int]] = None
    frame: Optional[int] = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # shallow on purpose: asdict() deep-copies and dominated generation time
        return {f: v for f in self.__dataclass_fields__
                if (v := getattr(self, f)) is not None and v != {}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LedgerEntry":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def write_ledger(path: Path, entries: Iterable[LedgerEntry], header: dict[str, Any] | None = None) -> int:
    """Write a ledger file (JSON lines, versioned header); return the number of entries."""
    return write_jsonl(path, LEDGER_FORMAT, LEDGER_VERSION, (e.to_dict() for e in entries), header)


def read_ledger(path: Path) -> Iterator[LedgerEntry]:
    """Stream the entries of a ledger file, refusing newer format versions."""
    for rec in read_jsonl(path, LEDGER_FORMAT, LEDGER_VERSION):
        yield LedgerEntry.from_dict(rec)
