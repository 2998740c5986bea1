"""What one output file holds, read once: the values the key asks about, its UIDs, and leaks.

Scoring is driven by the answer key, so a file does not need to stay in memory as a pydicom
Dataset: one walk over it (at any depth, private elements included) keeps only the elements
whose generic path some check, ledger entry or matching rule names, every UID, a few matching
features, and the leak sweep's hits. Matching and check evaluation then run on these small
records, and pixel data is read again only for the instances whose checks need pixels.

Two readings give the same record: the raw byte walker (:mod:`midib.score.rawwalk`, ~4x
faster, used first) and the pydicom Dataset walk here, which is the reference and reads
whatever the raw walker will not vouch for (big endian, deflate, ISO 2022, damaged files).
"""

from __future__ import annotations

import marshal
import mmap
import os
import pickle
import re
import struct
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from collections.abc import Collection
from typing import Any, Callable, Iterator, NamedTuple, Optional

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from midib.score import archives, codestreams, drawn
from midib.score.values import split_values
from midib.tagpath import TagPath

TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST",
                      "TM", "UC", "UI", "UR", "UT"})
BINARY_TEXTLIKE = frozenset({"UN", "OB"})
#: decoded pixel values or curves: never text, never read here
SKIP_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})
DEFER = 64 * 1024
#: files at least this large are mapped, not read: their pixel data is never touched
MAP_SIZE = 1024 * 1024
#: binary blobs (OB/UN: private blocks, encapsulated documents) up to this size are swept for
#: the text they hide; larger ones are not read (pixel data never is)
BLOB_SWEEP_MAX = 16 * 1024 * 1024
_TEXT_RUN = re.compile(rb"[\x20-\x7e\xc0-\xff]{4,}")
#: UTF-16 text (what Windows software writes) in either byte order: printable ASCII and NULs in turn
_UTF16_RUN = re.compile(rb"(?:[\x20-\x7e]\x00){4,}|(?:\x00[\x20-\x7e]){4,}")
#: UTF-32 text (Python's ``encode("utf-32")``, some Java and C++ tools), either byte order
_UTF32_RUN = re.compile(rb"(?:[\x20-\x7e]\x00\x00\x00){4,}|(?:\x00\x00\x00[\x20-\x7e]){4,}")
#: bulk binary VRs: numbers, never text, but a private one may hide text (swept for its runs)
BULK_VRS = frozenset({"OW", "OF", "OD", "OL", "OV"})
SWEPT_VRS = TEXT_VRS | BINARY_TEXTLIKE


class OverLimit(Exception):
    """A value the key or the sweep must read is larger than :data:`BLOB_SWEEP_MAX`: the file
    is reported unreadable (its checks fail) rather than judged without it."""


class Element(NamedTuple):
    """One observed element: concrete path (midib notation), VR and its values as strings.

    A named tuple, not a dataclass: records travel from workers to the parent by pickle,
    and tuples unpickle ~3x faster (the parent's unpickling was the observe phase's cost).
    """

    path: str
    vr: str
    values: tuple[str, ...]


@dataclass
class OutputRecord:
    """Everything the scorer keeps of one output file."""

    file: str                                   # relative to the output root, POSIX
    elements: dict[str, list[Element]] = field(default_factory=dict)   # generic key -> found
    uids: list[Element] = field(default_factory=list)                  # every UI element
    hits: list[tuple[str, str, str]] = field(default_factory=list)     # (needle id, where, text[:200])
    error: str = ""                             # why the file could not be read, if so
    #: a value the sweep should read was too large to read as one: the file's bytes are swept
    #: in windows instead (:func:`sweep_file_bytes`); never stored, used where it is read
    unswept: bool = False
    #: overlay groups whose OverlayData is present: read by OCR where no key check reads them
    #: (:func:`sweep_drawn`, after matching)
    overlays: tuple[int, ...] = ()

    def at(self, generic_key: str) -> list[Element]:
        return self.elements.get(generic_key, [])

    def trimmed(self, keep: frozenset[str] | set[str]) -> "OutputRecord":
        """The same file with only the elements at ``keep`` (generic keys): what the parent
        still needs of a matched output once matching and the identifier maps are done."""
        kept = {k: found for k in keep if (found := self.at(k))}  # at(): slim records too
        return OutputRecord(self.file, kept, error=self.error)

    def first(self, generic_key: str) -> Optional[str]:
        """The first value at a top-level attribute, or None."""
        found = self.at(generic_key)
        return found[0].values[0] if found and found[0].values else None


@lru_cache(maxsize=65536)
def generic_key(path: str | TagPath) -> str:
    """The canonical generic form of a path: ``[*]`` indexes, private creators upper-cased."""
    tp = TagPath.parse(path) if isinstance(path, str) else path
    return str(tp.canonical())


Scanner = Callable[[str, str, str], list[tuple[str, str]]]   # (text, vr, where) -> [(needle, text)]


def observe(path: Path, rel: str, wanted: frozenset[str], scan: Optional[Scanner]) -> OutputRecord:
    """Read ``path`` once (pixels never read) and keep what the scorer needs.

    The raw byte walker (:mod:`midib.score.rawwalk`) gives the same record ~4x faster; any
    file it cannot promise to read exactly as pydicom does is read by :func:`observe_pydicom`.
    """
    record = observe_raw(path, rel, wanted, scan)
    fallback = record is None
    if record is None:
        record = observe_pydicom(path, rel, wanted, scan)
    if scan is not None and (fallback or record.error or record.unswept):
        sweep_file_bytes(path, record, scan)
    return record


def sweep_drawn(found: list[tuple[Path, OutputRecord, Collection[int]]], scan: Optional[Scanner],
                reader: Optional[drawn.Reader], frames: Collection[str] = ()) -> None:
    """Sweep the text OCR reads in the overlay planes of outputs (their ``record.overlays``
    noted by :func:`observe`, but for the groups given as judged: a key check reads those;
    :mod:`midib.score.drawn`): one OCR engine call for them all, where the scorer runs OCR; the
    hits join each record's. Most planes are a key's (the generator's): nothing to read.
    ``reader``: None where the scorer runs no OCR. ``frames``: outputs (record files) whose
    first frame is read too (extra outputs no source claimed: :data:`drawn.EXTRA_FRAMES_MAX`)."""
    if scan is None or reader is None:
        return
    jobs = [(rec, f"({group:04x},3000)", image) for path, rec, judged in found
            if (todo := tuple(g for g in rec.overlays if g not in judged))
            for group, image in drawn.plane_images(path, todo)]
    jobs += [(rec, drawn.PICTURE, image) for path, rec, _ in found if rec.error   # not DICOM
             for image in drawn.picture_images(path)]
    jobs += [(rec, "(7fe0,0010)", image) for path, rec, _ in found
             if not rec.error and rec.file in frames for image in drawn.frame_images(path)]
    if not jobs:
        return
    for (rec, where, _), text in zip(jobs, drawn.read([image for *_, image in jobs], reader)):
        for reading in drawn.readings(text) if text else ():   # J0HN read as JOHN too
            for needle, hit in scan(reading, "OB", where):
                rec.hits.append((needle, where, hit[:200]))


#: where the sweep reports PHI found in a file's bytes but in no element it could read
FILE_BYTES = "(file bytes)"
_PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10")   # (7FE0,0010), little and big endian


def sweep_file_bytes(path: Path, record: OutputRecord, scan: Scanner) -> None:
    """Sweep the text runs of a file's bytes (pixel data left out) for PHI the element walk did
    not report: the safety net under every file the byte walker would not vouch for.

    pydicom keeps the last of two elements with one tag (a first PatientName holding the name is
    never seen), stops at a truncation, and a file that is not DICOM at all (a README left in a
    submission, a gzipped copy of an input) has no elements: what such a file still holds is a
    leak all the same. The file is read in windows (:func:`file_windows`), so a name past a
    value too large to walk is still found. A needle the walk already found is not reported
    twice."""
    from midib.score.sweep import UNREAD
    known = {nid for nid, _, _ in record.hits}
    unread: list[str] = []
    try:
        with open(path, "rb") as f:
            for at, window in file_windows(f, unread):
                parts = [window]
                if at == 0:   # gzip, zip, zstd, PDF
                    parts += (without_pixel_data(part) for part in archives.unpacked(window, unread))
                    if window.startswith(archives.ZIP_MAGIC) and os.fstat(f.fileno()).st_size > len(window):
                        parts += archives.zip_file_parts(f, unread)   # its directory is at its end
                for part in parts:
                    for run in binary_strings(part):
                        for nid, text in scan(run, "UN", FILE_BYTES):
                            if nid not in known:
                                known.add(nid)
                                record.hits.append((nid, FILE_BYTES, text[:200]))
    except OSError as e:
        unread.append(f"cannot be read: {e.strerror or e}")
    record.hits += [(UNREAD, FILE_BYTES, why) for why in dict.fromkeys(unread)]


#: the most of one file the byte sweep reads: gigabytes of a hostile file would stall scoring
FILE_SWEEP_MAX = 1024 * 1024 * 1024
#: windows overlap by this much, so that text cut at one window's end is whole in the next
WINDOW_OVERLAP = 64 * 1024


def file_windows(f: Any, unread: Optional[list[str]] = None) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) of an open file in windows of :data:`BLOB_SWEEP_MAX` bytes overlapping
    by :data:`WINDOW_OVERLAP`, up to :data:`FILE_SWEEP_MAX` (a larger file is said in
    ``unread``); the pixel data that ends the file is left out (:func:`without_pixel_data`),
    and no window is read past it. One window in memory at a time."""
    size = os.fstat(f.fileno()).st_size
    at = 0
    while at < min(size, FILE_SWEEP_MAX):
        f.seek(at)
        window = f.read(BLOB_SWEEP_MAX)
        if not window:
            return
        if all_zeros(window):     # a hole (a sparse file): nothing in it, but text may follow
            if at + len(window) >= size:
                return
            at += len(window) - WINDOW_OVERLAP
            continue
        kept = without_pixel_data(window, size - at)
        yield at, kept
        if len(kept) < len(window) or at + len(window) >= size:
            return
        at += len(window) - WINDOW_OVERLAP
    if size > FILE_SWEEP_MAX and unread is not None:   # the loop stopped at the limit, not at the end
        unread.append(f"{size / 2**30:.1f} GiB, of which the first {FILE_SWEEP_MAX / 2**30:g} GiB are read")


def all_zeros(data: bytes) -> bool:
    """True when every byte of ``data`` is 0 (~0.5 ns a byte: a gigabyte hole costs half a
    second, not the minute the text searches took over it)."""
    if data[:1] not in (b"", b"\x00") or data[-1:] not in (b"", b"\x00"):
        return False
    return data.count(0) == len(data)


def without_pixel_data(data: bytes, size: Optional[int] = None) -> bytes:
    """``data`` (the first bytes of a file of ``size`` bytes) without the value of a PixelData
    element that ends the file: megabytes of pixel values hold random runs of printable bytes,
    and a short name part would sooner or later be among them. Only an element whose value runs
    to the end of the file (or to its sequence delimiter there) counts: the tag's bytes with a
    made-up length put before some text must not hide that text from the sweep."""
    size = len(data) if size is None else size
    for tag in _PIXEL_TAGS:
        little = tag == _PIXEL_TAGS[0]
        at = data.find(tag)
        while 0 <= at and at + 12 <= len(data):
            if data[at + 4:at + 6] in (b"OB", b"OW", b"UN"):          # explicit VR: 2 reserved bytes
                start = at + 12
                length = int.from_bytes(data[at + 8:at + 12], "little" if little else "big")
            else:
                start = at + 8
                length = int.from_bytes(data[at + 4:at + 8], "little" if little else "big")
            if length == 0xFFFFFFFF:                                   # encapsulated: its delimiter ends the file
                delimiter = b"\xfe\xff\xdd\xe0" if little else b"\xff\xfe\xe0\xdd"
                tail = data[-8:] if size == len(data) else b""
                if tail.startswith(delimiter):
                    return data[:at]
            elif start + length == size:
                return data[:at]
            at = data.find(tag, at + 1)
    return data


def observe_raw(path: Path, rel: str, wanted: frozenset[str],
                scan: Optional[Scanner]) -> Optional[OutputRecord]:
    """The record from the file's raw bytes, or None where the pydicom path must decide."""
    from midib.score.rawwalk import raw_observe  # imports this module: resolved at call time
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < MAP_SIZE:
                return raw_observe(f.read(), rel, wanted, scan)
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return raw_observe(data, rel, wanted, scan)  # type: ignore[arg-type]
    except Exception:  # Fallback or anything unforeseen: the reference path reads it
        return None


def observe_pydicom(path: Path, rel: str, wanted: frozenset[str],
                    scan: Optional[Scanner]) -> OutputRecord:
    """The reference reading: pydicom Dataset (pixels deferred), then :func:`walk_dataset`."""
    record = OutputRecord(file=rel)
    if (why := refusal(path)) is not None:
        record.error = why
        return record
    with warnings.catch_warnings():  # junk files are recorded as such, not warned about
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path, defer_size=DEFER, force=True)
        except Exception as e:  # an unreadable output is recorded, never a crash
            record.error = f"unreadable DICOM: {type(e).__name__}: {e}"
            return record
        if not _looks_like_dicom(ds):
            record.error = "not a DICOM dataset (no identifying or pixel elements)"
            return record
        try:
            if scan is not None:
                sweep_meta(ds, scan, record)
            walk_dataset(ds, "", "", wanted, scan, record)
        except OverLimit as e:
            record.error = f"not read: {e}"
        except Exception as e:
            record.error = f"cannot walk {rel}: {type(e).__name__}: {e}"
    return record


DEFLATED = "1.2.840.10008.1.2.1.99"
#: the most a deflated dataset may inflate to: pydicom inflates it whole, in memory, so a 2 MB
#: file of zeros deflated would ask for gigabytes (no DICOM header needs more than this)
MAX_INFLATED = 256 * 1024 * 1024
_ZEROS = b"\0\0\0\0"


def refusal(path: Path) -> Optional[str]:
    """Why a file is not handed to pydicom at all, or None; its first 64 KB read once.

    * zeros where the first element should be (with or without a preamble): with ``force=True``
      pydicom reads zeros as empty elements, ~0.4 s a megabyte (a sparse file of 200 MB held
      the scorer for 85 s); no stored DICOM object starts with a command group;
    * a deflated dataset inflating beyond :data:`MAX_INFLATED`: pydicom inflates it whole.
    """
    from midib.score.rawframe import Fallback, file_meta
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
            preamble = head[128:132] == b"DICM"
            if len(head) >= 8 and not preamble and head[:4] == _ZEROS:
                return "not a DICOM file: no preamble, and zeros where its first element should be"
            try:
                pos, syntax = file_meta(head)
            except Fallback as e:
                command_set = preamble and str(e) == "command set"
                return "not a DICOM dataset: zeros where its first element should be" if command_set else None
            if preamble and head[pos:pos + 4] == _ZEROS and len(head) >= pos + 8:
                return "not a DICOM dataset: zeros where its first element should be"
            if syntax == DEFLATED:
                f.seek(pos)
                return _inflation_bomb(f)
    except OSError:
        return None
    return None


def _inflation_bomb(f: Any) -> Optional[str]:
    """Why the deflated dataset from ``f``'s position is not read (it inflates beyond
    :data:`MAX_INFLATED`), or None: counted by inflating in bounded steps, nothing kept."""
    import zlib
    inflater, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
    try:
        while chunk := f.read(1 << 20):
            while chunk:
                total += len(inflater.decompress(chunk, 1 << 24))
                if total > MAX_INFLATED:
                    return f"not read: the deflated dataset inflates beyond {MAX_INFLATED // 2**20} MiB"
                chunk = inflater.unconsumed_tail
            if inflater.eof:
                break
    except zlib.error:
        return None   # pydicom says what is wrong with it
    return None


def _looks_like_dicom(ds: Dataset) -> bool:
    """``force=True`` parses any bytes; a real dataset has group 0008 elements or pixel data.

    (deid's default recipe strips SOPClassUID, so its absence alone proves nothing.) A DICOMDIR
    has only group 0004 at its top, and its directory records name every patient: it is read,
    so the sweep sees what it holds.
    """
    try:
        return any(tag.group in (0x0008, 0x0004) or tag == 0x7FE00010 for tag in ds.keys())
    except Exception:
        return False


def _creator(ds: Dataset, tag: int, cache: dict[int, str]) -> str:
    block = (tag & 0xFFFF0000) | ((tag & 0xFF00) >> 8)
    if block not in cache:
        elem = ds.get(block)
        value = elem.value if elem is not None else ""
        if isinstance(value, bytes):
            value = value.decode("latin-1", "replace")
        cache[block] = str(value).strip().upper()
    return cache[block]


def _step(ds: Dataset, tag: int, cache: dict[int, str]) -> str:
    group, elem = tag >> 16, tag & 0xFFFF
    if group % 2 == 1 and elem >= 0x1000:
        return f'({group:04x},"{_creator(ds, tag, cache)}",{elem & 0xFF:02x})'
    return f"({group:04x},{elem:04x})"


def walk_dataset(ds: Dataset, concrete: str, generic: str, wanted: frozenset[str],
                 scan: Optional[Scanner], record: OutputRecord,
                 encoding: Optional[str] = "latin-1") -> None:
    """Visit every element; raw text values are decoded here, without pydicom's conversion.

    Converting every element to a DataElement costs ~5x the file read itself; text VRs only
    need their bytes decoded and split, so raw elements are decoded directly when the
    character set is a single-byte default or UTF-8 (``encoding``), through pydicom otherwise.
    """
    cache: dict[int, str] = {}
    if concrete == "":
        encoding = _encoding(ds)
    for tag, raw in list(ds._dict.items()):
        if concrete == "" and tag >> 16 & 0xFF00 == 0x6000 and (g := drawn.overlay_group(tag)) is not None:
            record.overlays += (g,)
        if tag in SKIP_TAGS:
            if scan is not None and tag == 0x7FE00010:   # a codestream's own header holds text
                _sweep_pixel_headers(scan, record, concrete + _step(ds, tag, cache), raw,
                                     getattr(ds, "filename", None))
            if scan is not None:   # and bytes past the frames
                _sweep_pixel_tail(scan, record, concrete + _step(ds, tag, cache), ds, raw,
                                  getattr(ds, "filename", None))
            continue
        vr, values = _fast(tag, raw, encoding)
        if vr in BINARY_NUMBERS:  # numbers are never text: converted only when asked for
            if generic + _step(ds, tag, cache) not in wanted:
                if scan is not None:  # but their bytes may hide text
                    _sweep_blob(scan, record, concrete + _step(ds, tag, cache), vr,
                                getattr(raw, "value", None))
                continue
            vr, values = None, None
        blob: Any = getattr(raw, "value", None)
        if vr is None:
            length, raw_vr = getattr(raw, "length", 0), getattr(raw, "VR", None)
            if getattr(raw, "value", 0) is None and length > DEFER and raw_vr not in ("SQ", None):
                # a large deferred value: read (below) when it is text or a text-like blob
                if length > BLOB_SWEEP_MAX and (raw_vr in TEXT_VRS or (
                        raw_vr in BINARY_TEXTLIKE and generic + _step(ds, tag, cache) in wanted)):
                    raise OverLimit(f"{concrete + _step(ds, tag, cache)} holds {length} bytes, over the "
                                    f"{BLOB_SWEEP_MAX // 2**20} MiB a value is read")
                if raw_vr not in SWEPT_VRS or length > BLOB_SWEEP_MAX:
                    if scan is not None and raw_vr in BLOB_SWEPT:
                        if length > BLOB_SWEEP_MAX:
                            record.unswept = True
                        elif raw_vr in BULK_VRS:
                            _sweep_blob(scan, record, concrete + _step(ds, tag, cache), raw_vr, ds[tag].value)
                    continue
            elem = ds[tag]
            vr, blob = elem.VR, elem.value
            if vr == "SQ":
                _sequence(ds, tag, elem.value or [], concrete, generic, wanted, scan, record,
                          encoding, cache)
                continue
            values = _values(vr, elem.value)
        if values is None:
            if scan is not None and vr in BLOB_SWEPT:  # binary, not text: its text runs
                _sweep_blob(scan, record, concrete + _step(ds, tag, cache), vr, blob)
            continue
        step = _step(ds, tag, cache)
        c_path, g_path = concrete + step, generic + step
        found = Element(c_path, vr, values)
        if g_path in wanted:
            record.elements.setdefault(g_path, []).append(found)
        if vr == "UI":
            record.uids.append(found)
        if scan is not None and (vr in TEXT_VRS or vr in BINARY_TEXTLIKE):
            for value in swept_texts(vr, values, c_path):
                for needle, text in scan(value, vr, c_path):
                    record.hits.append((needle, c_path, text[:200]))


def _sequence(ds: Dataset, tag: int, items: Any, concrete: str, generic: str,
              wanted: frozenset[str], scan: Optional[Scanner], record: OutputRecord,
              encoding: Optional[str], cache: dict[int, str]) -> None:
    step = _step(ds, tag, cache)
    c_path, g_path = concrete + step, generic + step
    if g_path in wanted:
        record.elements.setdefault(g_path, []).append(Element(c_path, "SQ", (str(len(items)),)))
    for i, item in enumerate(items):
        walk_dataset(item, f"{c_path}[{i}]", f"{g_path}[*]", wanted, scan, record, encoding)


BINARY_NUMBERS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "AT", "SV", "UV", "OW", "OF",
                            "OD", "OL", "OV"})
#: binary VRs whose bytes are swept for the text runs they may hide
BLOB_SWEPT = BINARY_TEXTLIKE | BINARY_NUMBERS
_UNSPLIT = frozenset({"LT", "ST", "UT", "UR"})


def _encoding(ds: Dataset) -> Optional[str]:
    """The codec for raw text of ``ds``, or None when pydicom must decode (ISO 2022 etc.)."""
    raw = ds._dict.get(0x00080005)
    value = getattr(raw, "value", b"") or b""
    if not isinstance(value, bytes):
        value = "\\".join(value if isinstance(value, list) else [str(value)]).encode()
    return charset_codec(value)


def charset_codec(value: bytes) -> Optional[str]:
    """The codec for raw text under Specific Character Set ``value`` (raw bytes), or None."""
    charset = value.decode("ascii", "replace").strip(" \x00")
    if charset in ("", "ISO_IR 100", "ISO_IR 6"):
        return "latin-1"
    if charset == "ISO_IR 192":
        return "utf-8"
    return None


def _fast(tag: int, raw: Any, encoding: Optional[str]) -> tuple[Optional[str], Optional[tuple[str, ...]]]:
    """(VR, values) decoded straight from a raw text element; (None, None) to use pydicom."""
    value = getattr(raw, "value", None)
    vr = getattr(raw, "VR", None)
    if not isinstance(value, bytes):
        return None, None
    if vr in BINARY_NUMBERS:
        return vr, None
    if vr in BINARY_TEXTLIKE:
        return vr, _values(vr, value)
    if encoding is None or vr not in TEXT_VRS:
        return None, None
    text = value.decode("latin-1" if vr == "UI" else encoding, "replace").rstrip("\x00 ")
    if vr in _UNSPLIT:
        return vr, (text,)
    return vr, tuple(v.strip() for v in text.split("\\"))


def _values(vr: str, value: Any) -> Optional[tuple[str, ...]]:
    """String values of an element; binary data is decoded only if it looks like text."""
    if value is None:
        return ()
    if isinstance(value, bytes):
        if vr not in BINARY_TEXTLIKE or len(value) > BLOB_SWEEP_MAX:
            return None
        if value.startswith(b"%PDF-") or archives.compressed(value):
            return None   # a document or an archive, however printable: unpacked as a blob
        text = value.decode("latin-1", "replace").rstrip("\x00 ")
        printable = sum(ch.isprintable() for ch in text)
        if not text or printable < 0.9 * len(text):
            return None
        return tuple(split_values(text))
    if vr in ("OB", "OW", "OF", "OD", "OL", "OV"):
        return None
    return tuple(v.strip() if isinstance(v, str) else str(v) for v in split_values(value))


#: the longest multi-valued text also searched with its values joined
JOINED_MAX = 4096
#: VRs whose values are never one text cut up: dates, times, UIDs, numbers (geometry: every
#: image's position and orientation would be one more distinct string to search)
_NOT_JOINED = frozenset({"DA", "DT", "TM", "UI", "DS", "IS", "AS"})


def swept_texts(vr: str, values: tuple[str, ...], where: str = "") -> tuple[str, ...]:
    """The texts the sweep searches in one element: each value, then, for a multi-valued text
    element, the values joined by spaces. A name, an address or an MRN cut into values
    (``SCOTT\\PARK``, ``443 Mcdaniel Stream\\New Melissamouth, WA 85385``, ``MRN5657\\6718``)
    is still the value to a reader; dates and UIDs are searched value by value only. The
    integers of a private IS element (``where`` ends in a private step) are also searched run
    together (``5657\\6718``): public IS values are counts and indexes."""
    if len(values) >= 2 and vr == "IS" and where.endswith(")") and '"' in where.rpartition("(")[2]:
        joined = "".join(v.strip() for v in values)
        if joined.isdigit() and len(joined) <= 32:
            return (*values, joined)
    if len(values) < 2 or vr in _NOT_JOINED or vr not in TEXT_VRS:
        return values
    joined = " ".join(values)
    return values if len(joined) > JOINED_MAX else (*values, joined)


def binary_strings(data: bytes) -> tuple[str, ...]:
    """The runs of >= 4 printable characters in a binary value (what ``strings`` and
    ``strings -el``/``-eb`` show): a name in a private OB block or an encapsulated PDF is text
    between bytes that are not, in one byte per character or in UTF-16 or UTF-32."""
    text, wide = _runs(data)
    runs = [m.group(0).decode("latin-1").strip() for m in text]
    runs += [m.group(0).replace(b"\x00", b"").decode("ascii").strip() for m in wide]
    return tuple(r for r in runs if r and _texty(r))


#: data at least this long is searched only where numpy finds a run could start
_SCAN_BY_REGION = 64 * 1024
_TEXT_BYTES = np.zeros(256, dtype=bool)
_TEXT_BYTES[0x20:0x7F] = _TEXT_BYTES[0xC0:] = True
_ASCII_BYTES = np.zeros(256, dtype=bool)
_ASCII_BYTES[0x20:0x7F] = True


def _runs(data: bytes) -> tuple[list[re.Match[bytes]], list[re.Match[bytes]]]:
    """The matches of :data:`_TEXT_RUN`, then of :data:`_UTF16_RUN` and :data:`_UTF32_RUN`
    (only where it has NULs), exactly as ``finditer`` over the whole of ``data`` gives them.

    The UTF-16 pattern costs ~100 ns a byte in Python's regex engine whatever the bytes are,
    so a sparse file of zeros took a minute per 512 MB. For long data numpy marks where a
    match could start (four bytes of the class, or four char/NUL pairs) and the regex runs only
    on the clusters of such starts: every match starts at a marked position and covers only
    marked ones, so a cluster (starts less than 16 bytes apart) holds whole matches only."""
    if len(data) < _SCAN_BY_REGION:
        wide = list(_UTF16_RUN.finditer(data)) if b"\x00" in data else []
        if b"\x00\x00\x00" in data:
            wide += _UTF32_RUN.finditer(data)
        return list(_TEXT_RUN.finditer(data)), wide
    if all_zeros(data):                             # a sparse file's hole: nothing to find
        return [], []
    arr = np.frombuffer(data, dtype=np.uint8)
    text = _TEXT_BYTES[arr]
    starts = text[:-3] & text[1:-2] & text[2:-1] & text[3:]
    found = _in_regions(_TEXT_RUN, data, starts, 4)
    if b"\x00" not in data:
        return found, []
    ascii_, nul = _ASCII_BYTES[arr], arr == 0
    pair = (ascii_[:-1] & nul[1:]) | (nul[:-1] & ascii_[1:])      # "c\0" or "\0c" at j
    starts = pair[:-6] & pair[2:-4] & pair[4:-2] & pair[6:]
    wide = _in_regions(_UTF16_RUN, data, starts, 8)
    if b"\x00\x00\x00" in data:
        nul3 = nul[:-2] & nul[1:-1] & nul[2:]                          # three NULs from j
        quad = (ascii_[:-3] & nul3[1:]) | (nul3[:-1] & ascii_[3:])   # "c\0\0\0" or "\0\0\0c" at j
        starts = quad[:-12] & quad[4:-8] & quad[8:-4] & quad[12:]
        wide += _in_regions(_UTF32_RUN, data, starts, 16)
    return found, wide


def _in_regions(pattern: re.Pattern[bytes], data: bytes, starts: np.ndarray, width: int) -> list[re.Match[bytes]]:
    """``pattern.finditer`` over ``data``, run only on the clusters of ``starts`` (each a
    position where a match of at least ``width`` bytes could begin), results in order."""
    edges = np.diff(np.concatenate(([0], starts.view(np.int8), [0])))
    run_starts, run_ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # [start, end)
    if not len(run_starts):
        return []
    breaks = np.flatnonzero(run_starts[1:] - run_ends[:-1] > 16) + 1
    firsts = run_starts[np.concatenate(([0], breaks))]
    lasts = run_ends[np.concatenate((breaks - 1, [len(run_ends) - 1]))] - 1
    out: list[re.Match[bytes]] = []
    for first, last in zip(firsts.tolist(), lasts.tolist()):
        out += pattern.finditer(data, first, last + width)
    return out


_PLAIN_BYTES = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ^,.-/:"


def _texty(run: str) -> bool:
    """True for a run that reads as text: at least 70 % ASCII letters, digits, spaces and the
    separators of names, dates and identifiers (``^ , . - / :``).
    Random bytes (encrypted or compressed content) make printable runs too, a third of them
    accented letters, and folded to plain letters ``N@Ë!úSÅ`` would read ``usa``: a country
    "found" in gdcmanon's encrypted attributes by chance. Text, names and dates pass."""
    raw = run.encode("latin-1", "replace")       # runs are Latin-1 or ASCII: one byte a character
    return len(raw) - len(raw.translate(None, _PLAIN_BYTES)) >= 0.7 * len(run)


def blob_vr(vr: Optional[str]) -> str:
    """The VR the sweep is told for a blob's text runs: an OW or a US holding text is searched
    as unknown bytes (UN), dates included."""
    return vr if vr in BINARY_TEXTLIKE else "UN"


def blob_values(vr: Optional[str], data: Any) -> Optional[tuple[str, ...]]:
    """What the sweep reads of a binary element that has no text values: its text runs
    (None: not a binary VR, too large, too short to hold a word, or no text in it).

    Numbers (US, FL, OW, OF, ...) are swept too, public and private: a tool can hide a name in
    an overlay, a waveform or a LUT as well as in a private block, and the sweep's needles
    (whole words, names capitalised, dates as dates) do not turn up by chance in the few
    printable runs that numbers make. Pixel data is never passed here (its codestream headers
    are: :func:`pixel_header_runs`)."""
    if vr not in BLOB_SWEPT or not isinstance(data, (bytes, bytearray, memoryview)):
        return None
    if len(data) > BLOB_SWEEP_MAX or len(data) < 4:
        return None
    data = bytes(data)
    runs = binary_strings(data)
    if data.startswith(b"%PDF-") or archives.compressed(data):  # an encapsulated report
        runs += tuple(r for part in archives.unpacked(data) for r in binary_strings(part))
    if vr in _WIDE_NUMBERS and len(data) <= _NUMBERS_READ_MAX:
        runs += long_numbers(vr, data)
    return runs or None


#: binary numbers wide enough to hold an identifier of 7+ digits, and their struct codes
_WIDE_NUMBERS = {"UL": "I", "SL": "i", "UV": "Q", "SV": "q", "FD": "d", "OL": "I", "OV": "Q", "OD": "d"}
#: only short values are read as numbers: an array of thousands is data, not an identifier
_NUMBERS_READ_MAX = 64


def long_numbers(vr: str, data: bytes) -> tuple[str, ...]:
    """The whole numbers of 7 or more digits a binary numeric value holds, in decimal: an MRN,
    a phone number or a birth date (``38851048``, ``19390304``) stored as a UL, an SV or an FD
    is the identifier to whoever reads the element, however the bytes look."""
    code = _WIDE_NUMBERS[vr]   # struct, not numpy: a few values of every such element in every file
    count = len(data) // struct.calcsize(code)
    out = []
    for v in struct.unpack_from(f"<{count}{code}", data):
        if isinstance(v, float) and not (v.is_integer() and abs(v) < 1e18):
            continue
        if abs(int(v)) >= 1_000_000:
            out.append(str(abs(int(v))))
    return tuple(out)


def meta_values(vr: str, value: Any) -> Optional[tuple[str, ...]]:
    """Text of a file meta element (group 0002) as swept: AE titles, UIDs, private information.
    The key never checks the meta header, but a tool can leave PHI there (an AE title named after
    the patient, the original MediaStorageSOPInstanceUID)."""
    if isinstance(value, (bytes, bytearray)):
        if vr in TEXT_VRS:
            value = bytes(value).decode("latin-1", "replace").rstrip("\x00 ")
        else:
            return _values(vr, bytes(value)) or blob_values(vr, value)
    if vr not in TEXT_VRS or value is None:
        return None
    return tuple(v.strip() for v in split_values(value))


#: where the sweep reports text found in the 128-byte preamble (free for any use, PS3.10 7.1)
PREAMBLE = "(preamble)"


def sweep_meta(ds: Dataset, scan: Scanner, record: OutputRecord) -> None:
    """Sweep the preamble and the file meta header of a pydicom dataset (the raw walker:
    ``rawwalk.meta_elements``): no key checks them, and a tool may leave PHI in either."""
    for value in binary_strings(bytes(getattr(ds, "preamble", None) or b"")):
        for needle, text in scan(value, "OB", PREAMBLE):
            record.hits.append((needle, PREAMBLE, text[:200]))
    meta = getattr(ds, "file_meta", None)
    if not meta:
        return
    for elem in meta:
        values = meta_values(elem.VR, elem.value)
        where = f"({elem.tag.group:04x},{elem.tag.element:04x})"
        for value in values or ():
            for needle, text in scan(value, elem.VR, where):
                record.hits.append((needle, where, text[:200]))


def _sweep_blob(scan: Scanner, record: OutputRecord, where: str, vr: Optional[str], data: Any) -> None:
    if isinstance(data, (bytes, bytearray, memoryview)) and len(data) > BLOB_SWEEP_MAX:
        record.unswept = True
        return
    for value in blob_values(vr, data) or ():
        for needle, text in scan(value, blob_vr(vr), where):
            record.hits.append((needle, where, text[:200]))


def pixel_header_runs(buf: Any, pos: int) -> tuple[str, ...]:
    """The text runs of the codestream headers (JPEG COM/APPn, JPEG 2000 COM, JP2 boxes) of the
    encapsulated pixel data whose fragments start at ``pos`` of ``buf``
    (:mod:`midib.score.codestreams`): what the camera or workstation wrote beside the pixels."""
    return tuple(r for p in codestreams.pixel_header_payloads(buf, pos) for r in binary_strings(p))


#: the image pixel attributes that fix how many bytes native pixel data fills (PS3.5 8.1.1,
#: PS3.3 C.7.6.3): SamplesPerPixel, NumberOfFrames, Rows, Columns, BitsAllocated
PIXEL_SIZE_TAGS = frozenset({0x00280002, 0x00280008, 0x00280010, 0x00280011, 0x00280100})


#: bits per sample of the float pixel data elements, whatever BitsAllocated says (PS3.3 C.7.6.24)
FLOAT_PIXEL_BITS = {0x7FE00008: 32, 0x7FE00009: 64}


def native_pixel_size(numbers: dict[int, Any], tag: int = 0x7FE00010) -> Optional[int]:
    """The bytes the frames of native pixel data (``tag``: PixelData or a float pixel data)
    fill, padded to even length, from the values of :data:`PIXEL_SIZE_TAGS` (SamplesPerPixel
    and NumberOfFrames are 1 when absent); None when one is missing, not one positive integer,
    or the image is implausibly large."""
    dims = [numbers.get(0x00280010), numbers.get(0x00280011),
            FLOAT_PIXEL_BITS.get(tag, numbers.get(0x00280100)),
            numbers.get(0x00280002, 1), numbers.get(0x00280008, 1)]
    if not all(type(v) is int and v > 0 for v in dims):
        return None
    rows, columns, bits, samples, frames = dims
    size = (rows * columns * samples * frames * bits + 7) // 8
    return None if size > 1 << 40 else size + size % 2


def pixel_tail_runs(value: Any, size: int) -> tuple[str, ...]:
    """The text runs of what a native PixelData value holds past its frames (``value``: the
    bytes from the end of the frames on, or all of them with ``size`` the frames' length).

    Pixel values are never swept (random runs of printable bytes), but bytes past the last
    frame are no pixel: a tool, or a hand, that appends a note there leaves it readable by
    ``strings`` while every viewer shows a clean image. Pixel data without the attributes that
    size it (no Rows, say, or in an object that has no image at all) is no image anyone can
    view: its bytes are read whole (``size`` 0). At most :data:`BLOB_SWEEP_MAX` bytes."""
    tail = bytes(value[size:size + BLOB_SWEEP_MAX])
    if len(tail) < 4 or all_zeros(tail):
        return ()
    return binary_strings(tail)


def _sweep_pixel_tail(scan: Scanner, record: OutputRecord, where: str, ds: Dataset, raw: Any,
                      filename: Any) -> None:
    """Sweep the bytes past the frames of a native PixelData element read by pydicom (the raw
    walker's ``_pixel_tail``): from its value, or from the file where pydicom deferred it."""
    length = getattr(raw, "length", 0)
    if not length or length == 0xFFFFFFFF or getattr(raw, "is_undefined_length", False):
        return
    numbers: dict[int, Any] = {}
    for tag in PIXEL_SIZE_TAGS:
        try:
            if tag in ds:
                value = ds[tag].value
                numbers[tag] = int(value) if isinstance(value, int) else value
        except Exception:
            numbers[tag] = None
    size = native_pixel_size(numbers, int(getattr(raw, "tag", 0x7FE00010)))
    if size is None:
        size = 0
    if length <= size:
        return
    value, at = getattr(raw, "value", None), getattr(raw, "value_tell", None)
    if isinstance(value, (bytes, bytearray)):
        runs = pixel_tail_runs(value, size)
    elif value is None and isinstance(filename, (str, os.PathLike)) and isinstance(at, int):
        try:
            with open(filename, "rb") as f:
                f.seek(at + size)
                runs = pixel_tail_runs(f.read(min(length - size, BLOB_SWEEP_MAX)), 0)
        except OSError:
            return
    else:
        return
    for run in swept_texts("OB", runs):
        for needle, text in scan(run, "OB", where):
            record.hits.append((needle, where, text[:200]))


def _sweep_pixel_headers(scan: Scanner, record: OutputRecord, where: str, raw: Any,
                         filename: Any) -> None:
    """Sweep the codestream headers of an encapsulated PixelData element read by pydicom: from
    its value, or from the file where pydicom deferred it (never the whole pixel data read)."""
    undefined = getattr(raw, "length", 0) == 0xFFFFFFFF or getattr(raw, "is_undefined_length", False)
    if not undefined:
        return
    value, at = getattr(raw, "value", None), getattr(raw, "value_tell", None)
    if isinstance(value, (bytes, bytearray)):
        runs = pixel_header_runs(value, 0)
    elif value is None and isinstance(filename, (str, os.PathLike)) and isinstance(at, int):
        try:
            with open(filename, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                runs = pixel_header_runs(data, at)
        except (OSError, ValueError):
            return
    else:
        return
    for run in runs:
        for needle, text in scan(run, "OB", where):
            record.hits.append((needle, where, text[:200]))


class Interner:
    """One shared copy of each repeated string across records (paths, VRs, common values).

    Records come back from workers by pickle, each with its own copies of the same path and
    value strings; for `small` that was ~100 MB of duplicates held until scoring ends.
    """

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        if len(text) > 64:
            return text
        return self._seen.setdefault(text, text)

    def record(self, rec: OutputRecord) -> OutputRecord:
        """``rec`` with its strings shared (the same record; element lists rebuilt once)."""
        s, new = self, {}

        def el(e: Element) -> Element:
            key = id(e)
            if key not in new:
                new[key] = Element(s(e.path), s(e.vr), tuple(s(v) for v in e.values))
            return new[key]
        rec.elements = {s(k): [el(e) for e in found] for k, found in rec.elements.items()}
        rec.uids = [el(e) for e in rec.uids]
        rec.hits = [(s(n), s(w), s(t)) for n, w, t in rec.hits]
        return rec


def pack_record(rec: OutputRecord) -> bytes:
    """``rec`` as bytes for the scratch store (:mod:`midib.score.diskmap`): read once in the
    observe phase, it is judged later from these bytes instead of a second walk of the file.

    marshal of plain tuples, not pickle: a record holds ~100 Elements, and a named tuple
    pickles through a Python-level ``__getnewargs__`` each (2x slower both ways). Anything
    marshal refuses (never seen: values are strings) is pickled instead, marked apart.
    """
    plain = (rec.file, rec.error,
             {k: [tuple(e) if e is not None else None for e in found] for k, found in rec.elements.items()},
             [tuple(e) for e in rec.uids], [tuple(h) for h in rec.hits], tuple(rec.overlays))
    try:
        return b"M" + marshal.dumps(plain)
    except ValueError:
        return b"P" + pickle.dumps(rec, pickle.HIGHEST_PROTOCOL)


def unpack_record(data: bytes) -> OutputRecord:
    """The record :func:`pack_record` stored, equal to the one it was given."""
    if data[:1] == b"P":
        return pickle.loads(data[1:])
    file, error, elements, uids, hits, overlays = marshal.loads(data[1:])
    element = tuple.__new__  # Element(*e) through its Python __new__ costs 3x more
    return OutputRecord(file, {k: [element(Element, e) if e is not None else None for e in found]
                               for k, found in elements.items()},
                        [element(Element, e) for e in uids], hits, error, overlays=overlays)
