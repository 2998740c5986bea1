"""The answer key: the checks a de-identified output must pass, derived from ledger + profile.

A :class:`Check` is one expectation about one source instance (or its series/study/patient):
an ``action`` (what must be true), an attribute ``path`` in midib notation, and ``expected``
values whose shape depends on the action (documented in docs/answer-key.md and
:data:`ACTIONS`). Categories say why the check exists (HIPAA class, PS3.15 action code and
option, IOD requirement type) so results can be aggregated by any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Optional

from midib.jsonl import read_header, read_jsonl, write_jsonl

KEY_FORMAT = "midib-answer-key"
KEY_VERSION = 1

Scope = Literal["instance", "series", "study", "patient"]

#: action -> shape of ``expected`` (the MIDI-B ten first, then midib's own)
ACTIONS: dict[str, str] = {
    # --- the ten MIDI-B actions ---
    "text_removed": '{"value": str}: the value must appear nowhere in the element (absent or empty is a pass)',
    "text_retained": '{"value": str}: the element must hold this value (compared as its VR says)',
    "tag_retained": '{"value": str}: the element must be present (any value)',
    "text_notnull": '{"value": str}: the element must be present and non-empty, and must not hold value',
    "date_shifted": '{"value": str}: a date/time that must be present, valid and different from value',
    "uid_changed": '{"value": str}: the UID must be present, valid and different from value',
    "uid_consistent": '{"value": str}: the UID must equal the new UID the run mapped value to',
    "patid_consistent": '{"value": str}: the patient ID must equal the new ID the run mapped value to',
    "pixels_hidden": '{"text": str, "box": [x0,y0,x1,y1], "frame": int}: text unreadable in box',
    "pixels_retained": '{"md5": str, "boxes": [[x0,y0,x1,y1], ...]}: pixels outside boxes unchanged',
    # --- midib's own ---
    "text_cleaned": '{"removed": [str], "retained": [str], "value": str}: PHI fragments gone, clinical words kept',
    "date_interval": '{"value": str, "reference": str, "reference_path": str}: shift keeps the interval to reference',
    "uid_reference": '{"value": str, "referenced_path": str}: a reference follows the referenced object\'s new UID',
    "deid_recorded": '{"options": [str]}: PatientIdentityRemoved=YES, DeidentificationMethod and codes match the profile',
    "overlay_hidden": '{"text": str, "group": "6000", "box": [x0,y0,x1,y1]}: overlay plane absent or blank in box',
}

#: A check whose ``path`` is None and whose action is text_removed applies to the output file's
#: relative path (folder and file names): ``{"value": str, "where": "filename"}``.

CATEGORIES = ("hipaa", "dicom", "best_practice")


@dataclass
class Check:
    """One expectation about a de-identified instance.

    ``category`` is the primary category used by the weighted score (hipaa 70 / dicom 20 /
    best_practice 10); ``hipaa_class``, ``ps315_action``, ``ps315_option`` and ``iod_type``
    refine it. ``ledger_ids`` names the ledger entries the check was derived from.
    """

    id: str
    instance: str
    file: str
    patient_id: str
    study_uid: str
    series_uid: str
    modality: str
    scope: Scope
    action: str
    path: Optional[str]
    tag_name: str
    expected: dict[str, Any]
    category: str = "hipaa"
    hipaa_class: str = "none"
    ps315_action: Optional[str] = None
    ps315_option: Optional[str] = None
    iod_type: Optional[str] = None
    weight: float = 1.0
    ledger_ids: list[str] = field(default_factory=list)
    sop_class_uid: str = ""

    def to_dict(self) -> dict[str, Any]:
        # shallow on purpose: asdict() deep-copies and dominated key writing time
        return {f: getattr(self, f) for f in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Check":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def write_key(path: Path, checks: Iterable[Check], header: dict[str, Any] | None = None) -> int:
    """Write an answer key (JSON lines with versioned header incl. profile); return the count."""
    return write_jsonl(path, KEY_FORMAT, KEY_VERSION, (c.to_dict() for c in checks), header)


def read_key(path: Path) -> Iterator[Check]:
    """Stream the checks of an answer key file, refusing newer format versions."""
    for rec in read_jsonl(path, KEY_FORMAT, KEY_VERSION):
        yield Check.from_dict(rec)


def read_key_header(path: Path) -> dict[str, Any]:
    """The header of an answer key file (profile name, ledger checksum, counts)."""
    return read_header(path, KEY_FORMAT, KEY_VERSION)
