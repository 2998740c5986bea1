"""An output file's elements read straight from its bytes, without building pydicom Datasets.

Scoring reads every output once (in full, with the leak sweep) and every source once for
matching features, and pydicom's Dataset machinery (a RawDataElement per element, a Dataset and a conversion per
sequence item) cost ~5x the bytes' own parsing. This walker parses one ``bytes`` of the file
with ``struct.unpack_from`` and yields exactly what :func:`midib.score.observation.walk_dataset`
would from the pydicom Dataset: same elements, paths, VRs, values, UIDs and sweep hits.

Exactness beats coverage: whatever the walker cannot reproduce byte for byte (big endian,
deflate, ISO 2022 character sets, truncated or out-of-order data, VRs switching mid-file, an
ambiguous VR that matters) raises :class:`Fallback`, and the caller uses the pydicom path,
so a hostile file is never read worse than before.
"""

from __future__ import annotations

import re
import struct
from typing import Optional

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.tag import BaseTag

from midib.score.observation import (BINARY_NUMBERS, BINARY_TEXTLIKE, BLOB_SWEEP_MAX, BULK_VRS, DEFER, SKIP_TAGS,
                                     SWEPT_VRS, TEXT_VRS, PREAMBLE, Element, OutputRecord, Scanner,
                                     _UNSPLIT, _values, binary_strings, blob_values, blob_vr, swept_texts,
                                     charset_codec, meta_values, pixel_header_runs, PIXEL_SIZE_TAGS,
                                     native_pixel_size, pixel_tail_runs)
from midib.score.drawn import overlay_group
from midib.score.rawframe import (CHARSET, EXPLICIT_HEADER, IMPLICIT_HEADER, ITEM, ITEM_END,
                                  KNOWN_VRS, PIXEL_DATA, SEQ_END, U32, UNDEFINED, VRS, STEPS,
                                  Fallback, file_meta, implicit_syntax, implicit_vr,
                                  looks_implicit, pydicom_encodings, skip_fragments, tag_step)

_EMPTY_TEXT = ("",)
_NUMBER_SIZES = {"US": 2, "SS": 2, "UL": 4, "SL": 4, "FL": 4, "FD": 8, "AT": 4, "SV": 8, "UV": 8}
_PLAIN_STEP = re.compile(r"\(([0-9a-f]{4}),([0-9a-f]{4})\)")
_LEVELS: dict[tuple[int, str], tuple[frozenset[str], frozenset[int]]] = {}
__all__ = ["Fallback", "raw_observe"]


def raw_observe(data: bytes, rel: str, wanted: frozenset[str],
                scan: Optional[Scanner]) -> OutputRecord:
    """The record of a Part 10 file held in ``data`` (bytes or an mmap); raises
    :class:`Fallback` where only pydicom can say what the reference would make of it."""
    pos, syntax = file_meta(data)
    implicit = implicit_syntax(data, pos, syntax)
    wanted = wanted if isinstance(wanted, frozenset) else frozenset(wanted)
    walker = _Walker(data, OutputRecord(file=rel), wanted, scan)
    if scan is not None:
        walker.to_sweep.extend(meta_elements(data, pos))
    walker.dataset(pos, len(data), implicit, "", "", top=True)
    if not walker.looks_like_dicom:
        return OutputRecord(file=rel, error="not a DICOM dataset (no identifying or pixel elements)")
    walker.sweep()
    return walker.record


def meta_elements(buf: bytes, end: int) -> list[Element]:
    """The file meta header's elements as the sweep reads them (see ``observation.meta_values``);
    the header was already parsed by :func:`file_meta`, so it is well formed up to ``end``."""
    found: list[Element] = []
    pos = 132 if len(buf) >= 132 and buf[128:132] == b"DICM" else 0
    if pos and (runs := binary_strings(bytes(buf[:128]))):
        found.append(Element(PREAMBLE, "OB", runs))
    while pos + 8 <= end:
        group, elem, vrb, length = EXPLICIT_HEADER(buf, pos)
        vr, long_form = VRS[vrb]
        if long_form:
            length, pos = U32(buf, pos + 8)[0], pos + 12
        else:
            pos += 8
        values = meta_values(vr, buf[pos:pos + length])
        if values:
            found.append(Element(f"({group:04x},{elem:04x})", vr, values))
        pos += length
    return found


def wanted_tags(wanted: frozenset[str], generic: str) -> frozenset[int]:
    """The public tags wanted right under ``generic``: an int lookup per element instead of
    building and hashing its path string (most elements are neither wanted nor UIDs).

    Cached by the identity of ``wanted`` (kept alive by the cache, so its id is never reused):
    callers build equal sets per work unit, and comparing them would cost more than it saves.
    """
    key = (id(wanted), generic)
    entry = _LEVELS.get(key)
    if entry is not None and entry[0] is wanted:
        return entry[1]
    if len(_LEVELS) > 4096:
        _LEVELS.clear()
    start, tags = len(generic), set()
    for path in wanted:
        if path.startswith(generic) and (m := _PLAIN_STEP.fullmatch(path, start)):
            tags.add(int(m[1] + m[2], 16))
    _LEVELS[key] = (wanted, frozenset(tags))
    return _LEVELS[key][1]


class _Walker:
    """One file's walk: the record being filled and the character set of its text."""

    def __init__(self, buf: bytes, record: OutputRecord, wanted: frozenset[str],
                 scan: Optional[Scanner]) -> None:
        self.buf, self.record, self.wanted, self.scan = buf, record, wanted, scan
        self.codec: Optional[str] = None       # set at the first top-level tag >= charset
        self.encodings: list[str] = []
        self.looks_like_dicom = False
        self.to_sweep: list[Element] = []      # swept once the file is known to be DICOM

    def dataset(self, pos: int, end: int, implicit: bool, concrete: str, generic: str,
                top: bool = False) -> int:
        """Walk one dataset from ``pos`` to ``end`` (-1: to its item delimiter); return its end.

        One long loop on purpose: it runs for every element of every output and every source,
        and a method call per element cost ~15% of the walk.
        """
        buf, n, wanted, record, scan = self.buf, len(self.buf), self.wanted, self.record, self.scan
        to_sweep, wanted_here = self.to_sweep, wanted_tags(wanted, generic)
        limit = n if end < 0 else end
        creators: dict[int, tuple[str, str]] = {}   # block -> (value, path form)
        sizes: dict[int, tuple[int, int]] = {}      # image pixel attribute -> (value at, length)
        prev, codec = -1, self.codec
        while end < 0 or pos < end:
            if pos + 8 > n:
                raise Fallback("truncated")
            if implicit:
                group, elem, length = IMPLICIT_HEADER(buf, pos)
                vr, vpos = None, pos + 8
            else:
                group, elem, vrb, length = EXPLICIT_HEADER(buf, pos)
                vpos = pos + 8
            tag = group << 16 | elem
            if tag == ITEM_END and end < 0:
                return pos + 8
            if tag <= prev or group == 0xFFFE:
                raise Fallback("element order")
            prev = tag
            if top and elem == 0x3000 and group >> 8 == 0x60 and overlay_group(tag) is not None:
                self.record.overlays += (group,)   # an overlay plane: read by OCR where enabled
            if not implicit:
                info = VRS.get(vrb)
                if info is None:
                    raise Fallback("unknown VR")
                vr = info[0]
                if info[1]:
                    if pos + 12 > n:
                        raise Fallback("truncated")
                    length, vpos = U32(buf, pos + 8)[0], pos + 12
            if top and (self.codec is None or not self.looks_like_dicom):
                self._top_tag(tag, vpos, length)
                codec = self.codec
            if implicit and tag == CHARSET and not top:
                raise Fallback("item character set (implicit text is decoded by pydicom)")
            if length == UNDEFINED:
                pos = self._undefined(tag, vr, vpos, implicit, creators, concrete, generic)
                if pos > limit:
                    raise Fallback("value overruns its dataset")
                continue
            pos = vpos + length
            if pos > limit:
                raise Fallback("value overruns its dataset")
            if group == 0x0028 and tag in PIXEL_SIZE_TAGS:
                sizes[tag] = (vpos, length)
            elif group == 0x7FE0 and tag in SKIP_TAGS and scan is not None and length:
                self._pixel_tail(sizes, concrete, tag, vpos, length)
            if tag in SKIP_TAGS:
                continue
            if group & 1 and 0x10 <= elem < 0x100:
                creators[tag] = self._creator(vr, vpos, length)
            if implicit:
                vr = self._vr_of_implicit(tag, creators)
                if vr not in KNOWN_VRS:
                    if vr == "OB or OW" and not group & 1:  # pydicom makes it OW in implicit VR
                        if scan is not None:                  # binary, never kept: its text runs
                            self._blob(tag, creators, concrete, "OW", vpos, pos)
                        continue
                    raise Fallback(f"ambiguous VR {vr}")  # its correction may fail in pydicom
            elif (top and length > DEFER and tag != CHARSET and vr != "SQ"
                  and (vr not in SWEPT_VRS or length > BLOB_SWEEP_MAX)):
                if length > BLOB_SWEEP_MAX and (vr in TEXT_VRS or vr in BINARY_TEXTLIKE):
                    raise Fallback("value over the read limit")  # the reference says which
                if scan is not None and vr in BULK_VRS:  # bulk numbers: their text runs
                    self._blob(tag, creators, concrete, vr, vpos, pos)
                continue                # pydicom deferred it and the reference skips it
            if vr == "SQ":
                self._sequence(tag, vpos, length, implicit, creators, concrete, generic)
                continue
            if group & 1 and elem >= 0x1000:
                step = self._path_step(tag, creators)
                is_wanted = generic + step in wanted
            else:
                step, is_wanted = "", tag in wanted_here
            if implicit:
                values = self._implicit_values(tag, vr, vpos, length, is_wanted)
            elif not is_wanted and vr != "UI" and (scan is None or vr not in SWEPT_VRS):
                if scan is not None and vr in BINARY_NUMBERS and length >= 4:  # numbers: their text runs
                    self._blob(tag, creators, concrete, vr, vpos, pos)
                continue  # the reference would decode it only to drop it
            elif length and vr in TEXT_VRS and codec is not None:  # the common case, inline
                text = buf[vpos:pos].decode("latin-1" if vr == "UI" else codec,
                                            "replace").rstrip("\x00 ")
                if vr in _UNSPLIT:
                    values = vr, (text,)
                elif "\\" in text:
                    values = vr, tuple(v.strip() for v in text.split("\\"))
                else:
                    values = vr, (text.strip(),)
            else:
                values = self._values(tag, vr, vpos, length, False, is_wanted)
            if values is None:
                if scan is not None and (vr in BINARY_TEXTLIKE or (implicit and vr in BULK_VRS)):
                    self._blob(tag, creators, concrete, vr, vpos, pos)
                continue
            step = step or STEPS.get(tag) or tag_step(tag)
            vr, found = values[0], Element(concrete + step, values[0], values[1])
            if is_wanted:
                g_path = generic + step
                elements = record.elements
                if g_path in elements:
                    elements[g_path].append(found)
                else:
                    elements[g_path] = [found]
            if vr == "UI":
                record.uids.append(found)
            if scan is not None and vr in SWEPT_VRS:
                to_sweep.append(found)
        if pos != end:
            raise Fallback("dataset overrun")
        return pos

    def _blob(self, tag: int, creators: dict, concrete: str, vr: str, vpos: int, end: int) -> None:
        """Queue the text runs of a binary element for the sweep (as the reference's ``_sweep_blob``)."""
        if end - vpos > BLOB_SWEEP_MAX:
            self.record.unswept = True      # swept in windows of the file's bytes instead
            return
        runs = blob_values(vr, self.buf[vpos:end])
        if runs:
            step = self._path_step(tag, creators) if tag >> 16 & 1 and tag & 0xFFFF >= 0x1000 \
                else STEPS.get(tag) or tag_step(tag)
            self.to_sweep.append(Element(concrete + step, blob_vr(vr), runs))

    def _pixel_tail(self, sizes: dict[int, tuple[int, int]], concrete: str, tag: int, vpos: int,
                    length: int) -> None:
        """Queue the text runs of what native pixel data holds past its frames for the sweep
        (as the reference's ``_sweep_pixel_tail``): ``sizes`` locates the image pixel
        attributes read before it in the same dataset."""
        numbers: dict[int, object] = {}
        for attr, (at, n) in sizes.items():
            raw = self.buf[at:at + n]
            if attr == 0x00280008:          # NumberOfFrames, IS
                try:
                    numbers[attr] = int(bytes(raw).decode("ascii").strip(" \x00")) if raw.strip(b" \x00") else None
                except ValueError:
                    numbers[attr] = None
            else:                          # US
                numbers[attr] = int.from_bytes(raw, "little") if n == 2 else None
        size = native_pixel_size(numbers, tag) or 0   # not sized: read whole
        if length <= size:
            return
        runs = pixel_tail_runs(memoryview(self.buf)[vpos + size:vpos + length], 0)
        if runs:
            self.to_sweep.append(Element(concrete + tag_step(tag), "OB", runs))

    def _top_tag(self, tag: int, vpos: int, length: int) -> None:
        """Top-level bookkeeping: is it DICOM at all, and the character set of its text."""
        if tag >> 16 in (0x0008, 0x0004) or tag == PIXEL_DATA:  # 0004: a DICOMDIR
            self.looks_like_dicom = True
        if self.codec is None and tag >= CHARSET:
            raw = self.buf[vpos:vpos + length] if tag == CHARSET and length != UNDEFINED else b""
            self.codec = charset_codec(raw)
            if self.codec is None:
                raise Fallback("character set needs pydicom")
            self.encodings = pydicom_encodings(raw if tag == CHARSET else None)

    def _vr_of_implicit(self, tag: int, creators: dict[int, tuple[str, str]]) -> str:
        group, elem = tag >> 16, tag & 0xFFFF
        if group & 1 and elem >= 0x100:
            block = (tag & 0xFFFF0000) | (elem >> 8)
            return implicit_vr(tag, creators.get(block, ("", ""))[0])
        return implicit_vr(tag, None)

    def _undefined(self, tag: int, vr: Optional[str], vpos: int, implicit: bool,
                   creators: dict[int, tuple[str, str]], concrete: str, generic: str) -> int:
        """An undefined-length element: a sequence (UN too, PS3.5 6.2.2) or encapsulated pixels."""
        if implicit:
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                vr = None
                if vpos + 4 <= len(self.buf):
                    g, e = struct.unpack_from("<HH", self.buf, vpos)
                    vr = "SQ" if (g << 16 | e) == ITEM else None
        if vr == "SQ" or (vr == "UN" and not implicit):
            return self._sequence(tag, vpos, UNDEFINED, implicit, creators, concrete, generic)
        if tag == PIXEL_DATA:
            end = skip_fragments(self.buf, vpos)
            if self.scan is not None:   # the codestreams' own headers (comments, EXIF) hold text
                runs = pixel_header_runs(self.buf, vpos)
                if runs:
                    self.to_sweep.append(Element(concrete + tag_step(tag), "OB", runs))
            return end
        raise Fallback("undefined-length value")

    def _sequence(self, tag: int, vpos: int, length: int, implicit: bool,
                  creators: dict[int, tuple[str, str]], concrete: str, generic: str) -> int:
        """Walk a sequence's items; its own element (item count) is recorded before them."""
        buf, n = self.buf, len(self.buf)
        step = self._path_step(tag, creators)
        c_path, g_path = concrete + step, generic + step
        found = self.record.elements.setdefault(g_path, []) if g_path in self.wanted else None
        slot = len(found) if found is not None else 0
        if found is not None:
            found.append(None)  # type: ignore[arg-type]  # filled once the items are counted
        end = -1 if length == UNDEFINED else vpos + length
        pos, count = vpos, 0
        while end < 0 or pos < end:
            if pos + 8 > n:
                raise Fallback("truncated sequence")
            group, elem, item_len = IMPLICIT_HEADER(buf, pos)
            item = group << 16 | elem
            if item == SEQ_END and end < 0:
                pos += 8
                break
            if item != ITEM:
                raise Fallback("not an item")
            pos += 8
            item_implicit = implicit or bool(looks_implicit(buf, pos, n if end < 0 else end))
            if item_len == UNDEFINED:
                pos = self.dataset(pos, -1, item_implicit, f"{c_path}[{count}]", f"{g_path}[*]")
            else:
                if pos + item_len > (n if end < 0 else end):
                    raise Fallback("item overruns its sequence")
                pos = self.dataset(pos, pos + item_len, item_implicit,
                                   f"{c_path}[{count}]", f"{g_path}[*]")
            count += 1
        if end >= 0 and pos != end:
            raise Fallback("sequence overrun")
        if found is not None:
            found[slot] = Element(c_path, "SQ", (str(count),))
        return pos

    def _creator(self, vr: Optional[str], vpos: int, length: int) -> tuple[str, str]:
        """A private creator: its value (private dictionary key) and its path form."""
        if vr not in (None, "LO", "SH", "CS", "UN"):
            raise Fallback("odd private creator VR")
        raw = self.buf[vpos:vpos + length]
        if b"\\" in raw or max(raw, default=0) > 0x7E:
            raise Fallback("odd private creator")
        value = raw.decode("ascii").rstrip("\x00 ")
        return value, value.strip().upper()

    def _path_step(self, tag: int, creators: dict[int, tuple[str, str]]) -> str:
        group, elem = tag >> 16, tag & 0xFFFF
        if group & 1 and elem >= 0x1000:
            block = (tag & 0xFFFF0000) | (elem >> 8)
            creator = creators.get(block, ("", ""))[1]
            return f'({group:04x},"{creator}",{elem & 0xFF:02x})'
        return tag_step(tag)

    def _implicit_values(self, tag: int, vr: str, vpos: int, length: int,
                         is_wanted: bool) -> Optional[tuple[str, tuple[str, ...]]]:
        """Implicit elements are all converted by the reference: text through pydicom here
        too, and numbers checked for the length errors pydicom would raise on."""
        if length and not (vr in SWEPT_VRS or is_wanted):
            size = _NUMBER_SIZES.get(vr)
            if size and length % size:
                raise Fallback("number of a wrong length")
            return None
        return self._values(tag, vr, vpos, length, True, is_wanted)

    def _values(self, tag: int, vr: str, vpos: int, length: int, implicit: bool,
                is_wanted: bool) -> Optional[tuple[str, tuple[str, ...]]]:
        """(VR, values) as the reference gives them, or None where it keeps nothing."""
        if length == 0:
            if vr == "UN" and not implicit:
                vr = self._known_vr_of_empty_un(tag)
            return vr, (() if vr in ("DS", "IS") or vr not in TEXT_VRS else _EMPTY_TEXT)
        if implicit:
            if vr in TEXT_VRS or vr in BINARY_TEXTLIKE or is_wanted:
                return self._converted(tag, vr, vpos, length, True)
            return None
        if vr in TEXT_VRS:
            if self.codec is None:
                raise Fallback("text before the character set")
            raw = self.buf[vpos:vpos + length]
            text = raw.decode("latin-1" if vr == "UI" else self.codec, "replace").rstrip("\x00 ")
            if vr in _UNSPLIT:
                return vr, (text,)
            return vr, tuple(v.strip() for v in text.split("\\"))
        if vr in BINARY_TEXTLIKE:
            values = _values(vr, self.buf[vpos:vpos + length])
            return None if values is None else (vr, values)
        if is_wanted:   # numbers: converted only when asked for, as pydicom converts them
            return self._converted(tag, vr, vpos, length, False)
        return None

    def _known_vr_of_empty_un(self, tag: int) -> str:
        """pydicom replaces an (empty) explicit UN by the dictionary's VR."""
        if tag >> 16 & 1:
            raise Fallback("empty private UN")
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            return "UN"
        if vr not in KNOWN_VRS or vr == "SQ":
            raise Fallback("empty UN of a sequence or ambiguous VR")
        return vr

    def _converted(self, tag: int, vr: str, vpos: int, length: int,
                   implicit: bool) -> Optional[tuple[str, tuple[str, ...]]]:
        """Convert with pydicom's own converter (numbers, implicit text): its exact strings."""
        raw = RawDataElement(BaseTag(tag), vr, length, self.buf[vpos:vpos + length], vpos,
                             implicit, True)
        try:
            elem = convert_raw_data_element(raw, encoding=self.encodings)
        except Exception as e:
            raise Fallback(f"conversion: {e}") from e
        values = _values(elem.VR, elem.value)
        return None if values is None else (elem.VR, values)

    def sweep(self) -> None:
        """Run the leak sweep once the file is known to be DICOM (as the reference does)."""
        scan, hits = self.scan, self.record.hits
        if scan is None:
            return
        for where, vr, values in self.to_sweep:
            for value in swept_texts(vr, values, where):
                for needle, text in scan(value, vr, where):
                    hits.append((needle, where, text[:200]))
