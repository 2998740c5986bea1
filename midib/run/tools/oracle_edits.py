"""The oracle's edits: one small method per answer-key action, applied to one dataset.

Kept apart from :mod:`midib.run.tools.oracle` (which reads the key and writes files) so each
rule is short and testable. :class:`PatientKeys` holds what must be consistent across files:
new UIDs, new patient IDs and each patient's date offset.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.answer_key import Check
from midib.keys.profile import Profile
from midib.run.tools.oracle_policy import Edit, edit_for
from midib.run.tools.strip import element_keyword, is_instance_uid, new_uid
from midib.tagpath import TagPath, iter_elements

TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "AE", "CS", "UR", "DA", "DT", "TM", "AS"}
DATE_VRS = {"DA", "DT", "TM"}
DUMMY = {"PN": "ANONYMOUS", "AE": "ANON", "CS": "ANON", "IS": "0", "DS": "0", "AS": "000Y",
         "UI": "2.25.0", "DA": "19000101", "TM": "000000", "DT": "19000101000000"}
NUMERIC_VRS = {"US", "UL", "SS", "SL", "FL", "FD", "UV", "SV"}


def dummy_value(vr: str) -> object:
    """A neutral non-empty value valid for ``vr`` (holds nothing of the original)."""
    if vr in NUMERIC_VRS:
        return 0
    if vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        return b"\0\0"
    return DUMMY.get(vr, "ANONYMIZED")


@dataclass
class PatientKeys:
    """Consistent replacements across all files of a run."""

    salt: str
    retain_uids: bool = False
    uids: dict[str, str] = field(default_factory=dict)
    patient_ids: dict[str, str] = field(default_factory=dict)

    def uid(self, old: str) -> str:
        if self.retain_uids:
            return old
        return self.uids.setdefault(old, new_uid(old, self.salt))

    def patient_id(self, old: str) -> str:
        digest = hashlib.sha256(f"{self.salt}\0pid\0{old}".encode()).hexdigest()[:10].upper()
        return self.patient_ids.setdefault(old, f"MIDIB{digest}")

    def offset_days(self, patient: str) -> int:
        """A constant shift per patient, 100..3749 days back (never zero)."""
        h = int(hashlib.sha256(f"{self.salt}\0days\0{patient}".encode()).hexdigest(), 16)
        return 100 + h % 3650


def shift_value(vr: str, value: str, days: int) -> str:
    """``value`` (DA, DT or TM) moved back by ``days`` (TM by a whole number of hours)."""
    v = value.strip()
    if not v:
        return v
    if vr == "TM":
        hours = (int(v[:2]) - (1 + days % 23)) % 24
        return f"{hours:02d}{v[2:]}"
    date = dt.datetime.strptime(v[:8], "%Y%m%d").date() - dt.timedelta(days=days)
    return date.strftime("%Y%m%d") + v[8:]


def remove_fragments(text: str, fragments: Iterable[str]) -> str:
    """``text`` without any of ``fragments`` (case-insensitive), whitespace tidied."""
    for frag in sorted({f for f in fragments if f}, key=len, reverse=True):
        text = re.sub(re.escape(frag), "", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


class FileEditor:
    """Applies one file's checks, then the profile-wide rules, to ``ds`` in place."""

    def __init__(self, ds: Dataset, checks: list[Check], keys: PatientKeys, keep: set[str],
                 codes: list[tuple[str, str]], profile: Profile,
                 required: Optional[dict[str, str]] = None, learning: bool = False) -> None:
        self.ds, self.checks, self.keys, self.keep, self.codes = ds, checks, keys, keep, codes
        self.profile, self.required, self.learning = profile, required or {}, learning
        self.edits: list[Edit] = []   # what do_text_removed chose, for requirement learning
        self.old_patient = str(ds.get("PatientID", ""))
        self.days = keys.offset_days(self.old_patient)
        self.protected = {c.path for c in checks
                          if c.path and c.action in ("text_retained", "tag_retained", "text_cleaned")}
        self.shifted: set[str] = set()   # paths already moved in time: never twice

    def apply(self, phi_values: set[str]) -> None:
        done: set[tuple[str, str]] = set()
        for c in self.checks:
            handler = getattr(self, f"do_{c.action}", None)
            key = (c.action, c.path or "", json.dumps(c.expected, sort_keys=True))
            if handler is None or key in done:
                continue  # the same expectation twice (another category): edit once
            done.add(key)
            if c.path or c.action == "pixels_hidden":
                handler(c)
        self.remove_private_and_overlays()
        self.sweep(phi_values - self.keep)
        self.new_patient_id()
        self.remap_uids(self.ds)
        self.record_deid()

    # ---- one method per action -------------------------------------------------------------
    def elements(self, c: Check) -> list[DataElement]:
        return [e for _, e in TagPath.parse(c.path).find(self.ds)] if c.path else []

    def do_text_removed(self, c: Check) -> None:
        """The profile's action at the right depth (see :mod:`oracle_policy`): private
        elements deleted, UIDs left to :meth:`remap_uids` (once), else X, Z or D on the leaf
        or on the ancestor sequence the profile removes."""
        for path, elem in list(TagPath.parse(c.path).find(self.ds)):
            if elem.tag.is_private:
                self._delete(str(path))
                continue
            if elem.VR == "UI" and elem.value:
                continue  # remap_uids() replaces it consistently (twice would break references)
            edit = edit_for(path, elem.keyword, self.profile, self.required, self.learning)
            self.edits.append(edit)
            self.apply_edit(edit)

    def apply_edit(self, edit: Edit) -> None:
        """Delete (X), empty (Z) or put a dummy in (D) the element at ``edit.path``."""
        if edit.code == "X":
            self._delete(edit.path)
            return
        for path, elem in TagPath.parse(edit.path).find(self.ds):
            if edit.code == "Z":
                elem.value = Sequence() if elem.VR == "SQ" else None
            elif elem.VR == "SQ" or (elem.VR == "UI" and elem.value):
                continue  # D on a sequence: items stay, their leaves are edited by their checks
            elif elem.VR in DATE_VRS and elem.value:
                self.shift(str(path), elem)
            else:
                elem.value = dummy_value(elem.VR)

    def do_text_notnull(self, c: Check) -> None:
        for path, elem in TagPath.parse(c.path).find(self.ds):
            if elem.keyword == "PatientID":
                continue  # new_patient_id() replaces it consistently
            if elem.VR in DATE_VRS and elem.value:
                self.shift(str(path), elem)
            else:
                elem.value = dummy_value(elem.VR)

    def do_date_shifted(self, c: Check) -> None:
        for path, elem in TagPath.parse(c.path).find(self.ds):
            if elem.VR in DATE_VRS and elem.value:
                self.shift(str(path), elem)

    def shift(self, path: str, elem: DataElement) -> None:
        """Move a date/time by the patient's offset, once per element whatever asks for it."""
        if path not in self.shifted:
            elem.value = shift_value(elem.VR, str(elem.value), self.days)
            self.shifted.add(path)

    def do_text_cleaned(self, c: Check) -> None:
        for elem in self.elements(c):
            elem.value = remove_fragments(str(elem.value), c.expected.get("removed", []))

    def do_pixels_hidden(self, c: Check) -> None:
        x0, y0, x1, y1 = c.expected["box"]
        frame = int(c.expected.get("frame", 0) or 0)
        ds = self.ds
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.decompress()
        arr = ds.pixel_array.copy()
        region = arr[frame] if int(ds.get("NumberOfFrames", 1) or 1) > 1 else arr
        region[y0:y1, x0:x1] = region.min()
        if int(ds.get("SamplesPerPixel", 1)) > 1:
            ds.PlanarConfiguration = 0
        ds.PixelData = np.ascontiguousarray(arr).tobytes()

    # ---- profile-wide rules ----------------------------------------------------------------
    def _delete(self, path: str) -> None:
        tp = TagPath.parse(path)
        parent: Optional[Dataset] = self.ds
        if tp.depth > 1:
            parent_path = TagPath(tp.steps[:-1], tp.indexes[:-1])
            seq = parent_path.resolve(self.ds)
            parent = seq.value[tp.indexes[-1]] if seq is not None and seq.VR == "SQ" else None
        tag = tp.leaf.tag_in(parent) if parent is not None else None
        if parent is not None and tag is not None and tag in parent:
            del parent[tag]

    def remove_private_and_overlays(self) -> None:
        """Drop private elements no check retains (creators of retained blocks stay), overlays."""
        kept = {p for p in self.protected if TagPath.parse(p).is_private}
        kept_blocks = {(TagPath.parse(p).leaf.group, TagPath.parse(p).leaf.creator.strip().upper())
                       for p in kept if TagPath.parse(p).leaf.creator}
        for path, elem in reversed(list(iter_elements(self.ds))):
            if elem.tag.is_private and str(path) not in kept and not self._is_kept_creator(elem, kept_blocks):
                self._delete(str(path))
        for elem in self.ds:
            if 0x6000 <= elem.tag.group <= 0x601E and elem.tag.element == 0x3000 and elem.value:
                elem.value = bytes(len(elem.value))  # overlay planes blanked, not the module

    @staticmethod
    def _is_kept_creator(elem: DataElement, blocks: set[tuple[int, str]]) -> bool:
        if not (0x10 <= elem.tag.element <= 0xFF):
            return False
        return (elem.tag.group, str(elem.value).strip().upper()) in blocks

    def sweep(self, values: set[str]) -> None:
        """Remove any remaining PHI value from string elements (dates are shifted instead)."""
        values = {v for v in values if len(v) >= 3}
        if not values:
            return
        lowered = [v.lower() for v in values]
        for path, elem in iter_elements(self.ds):
            if (elem.VR not in TEXT_VRS or elem.value in (None, "") or str(path) in self.protected
                    or str(path) in self.shifted):
                continue
            text = str(elem.value)
            if not any(v in text.lower() for v in lowered):
                continue
            if elem.VR in DATE_VRS:
                self.shift(str(path), elem)
            else:
                elem.value = remove_fragments(text, values)

    def new_patient_id(self) -> None:
        if "PatientID" in self.ds and "(0010,0020)" not in self.protected:
            self.ds.PatientID = self.keys.patient_id(self.old_patient)

    def remap_uids(self, ds: Dataset) -> None:
        """Every instance UID anywhere (references included) -> its consistent new UID."""
        for elem in ds.iterall():
            if elem.VR == "UI" and elem.value and is_instance_uid(element_keyword(elem.tag), str(elem.value)):
                elem.value = self.keys.uid(str(elem.value))
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID

    def record_deid(self) -> None:
        self.ds.PatientIdentityRemoved = "YES"
        self.ds.DeidentificationMethod = "midib oracle: answer key applied"
        items = []
        for value, meaning in self.codes:
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
            items.append(item)
        self.ds.DeidentificationMethodCodeSequence = Sequence(items)

    def output_name(self) -> str:
        """``<new PatientID>/<new SOPInstanceUID>.dcm``: no PHI in any folder or file name."""
        patient = str(self.ds.get("PatientID", "")) or "patient"
        return f"{patient}/{self.ds.get('SOPInstanceUID', 'object')}.dcm"
