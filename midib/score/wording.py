"""The wording of a document without pixels (SR, RTSTRUCT, reports), for matching.

Two reports of one template have the same header features; a de-identifier removes a few PHI
words, not the findings, so the words they share settle which source an output came from
(:meth:`midib.score.fingerprint.PixelFingerprint._by_text`).
"""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.multival import MultiValue

from midib.score.values import words

#: share of words an output must have in common with its source for a text-only match
MIN_TEXT_OVERLAP = 0.5
_NOT_WORDS = frozenset({"UI", "DA", "DT", "TM", "PN", "AS"})
#: VRs whose values are numbers or bytes, never words: not even converted (an RTSTRUCT's
#: contour coordinates are most of its elements and cost ~70 ms a file to convert)
_NUMERIC = frozenset({"DS", "IS", "FL", "FD", "US", "SS", "UL", "SL", "SV", "UV", "AT",
                      "OB", "OW", "OF", "OD", "OL", "OV"})


#: text VRs whose values are words (not UIDs, dates, times, names, ages or numbers)
_WORD_VRS = frozenset({"AE", "CS", "LO", "LT", "SH", "ST", "UC", "UR", "UT"})


def text_words(path: Path) -> set[str]:
    """The words of every text value of a file (any depth), UIDs, dates and names left out.

    Read by the raw byte walker (:mod:`midib.score.rawwalk`), which hands every text value to
    a scanner: pydicom converted each element of an RTSTRUCT's contour sequences, ~40 ms a
    file, and content matching reads the words of every tied document and its candidates.
    Files the walker leaves to pydicom are read the reference way, :func:`_pydicom_words`."""
    from midib.score.observation import observe_raw
    found: set[str] = set()

    def collect(value: str, vr: str, where: str) -> list:
        if vr in _WORD_VRS and not where.startswith("(0002,"):  # the dataset, not its file meta
            found.update(words(value))
        return []

    record = observe_raw(path, path.name, frozenset(), collect)
    if record is not None and not record.error:
        return found
    return _pydicom_words(path)


def _pydicom_words(path: Path) -> set[str]:
    """:func:`text_words` through a pydicom Dataset."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        found: set[str] = set()
        _collect_words(ds, found)
        return found
    except Exception:
        return set()


def _collect_words(ds: pydicom.Dataset, found: set[str]) -> None:
    for tag in list(ds.keys()):
        if ds.get_item(tag).VR in _NUMERIC:
            continue
        elem = ds[tag]
        if elem.VR == "SQ":
            for item in elem.value or []:
                _collect_words(item, found)
            continue
        if elem.VR in _NOT_WORDS or not isinstance(elem.value, (str, list, MultiValue)):
            continue
        values = [elem.value] if isinstance(elem.value, str) else elem.value
        found.update(w for v in values if isinstance(v, str) for w in words(v))


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0
