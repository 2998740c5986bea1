"""The metadata inside compressed pixel data: JPEG comments and application segments (EXIF,
JFIF, Adobe, ICC), JPEG 2000 comments and JP2 boxes (XML, UUID).

Encapsulated pixel data (PS3.5 A.4) is a run of fragments, each a compressed image or part of
one; the pixel values sit in entropy-coded bytes that are noise to a text search, but the
codestream's header is not: a camera or a secondary-capture workstation writes the operator,
the patient or a free comment there (an EXIF ``Artist``, a JPEG ``COM`` segment, a JP2 ``xml ``
box), and a de-identifier that rewrites the DICOM header leaves it as it was. The sweep reads
those headers' payloads, never the coded image data, so megabytes of pixels add no random
matches. Marker syntax: ITU-T T.81 B.1 (JPEG, shared by JPEG-LS, T.87), T.800 A.1 (JPEG 2000
codestream) and ISO/IEC 15444-1 I.4 (JP2 boxes).
"""

from __future__ import annotations

import re
import struct
from typing import Any, Iterator

#: at most this many bytes of metadata are taken from one fragment, and this many fragments
#: read: a hostile file of a million fragments must not stall scoring
HEADER_MAX = 1024 * 1024
FRAGMENTS_MAX = 100_000
_ITEM_HEADER = struct.Struct("<HHL").unpack_from
_ITEM, _SEQ_END = (0xFFFE, 0xE000), (0xFFFE, 0xE0DD)
_JPEG_SOI = b"\xff\xd8"
_J2K_SOC = b"\xff\x4f\xff\x51"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
#: JPEG markers that carry text a writer chose: APP0-APP15, COM; and JPEG-LS LSE (T.87 C.2.4:
#: parameters or mapping tables, numbers that read as text only when someone put text there)
_JPEG_TEXT_MARKERS = frozenset(range(0xE0, 0xF0)) | {0xFE, 0xF8}
#: JPEG markers without a length field (T.81 B.1.1.3: RSTn, SOI, EOI, TEM)
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD9)) | {0x01}
_JPEG_SOS, _J2K_SOT, _J2K_COM = 0xDA, 0x90, 0x64


def fragment_spans(buf: Any, pos: int) -> Iterator[tuple[int, int]]:
    """[start, end) of each fragment of encapsulated pixel data whose items start at ``pos``
    (the byte after the PixelData element's undefined length), the basic offset table first,
    end clipped to the buffer. Stops at the sequence delimiter or at the first thing that is
    not an item: never raises."""
    n = len(buf)
    for _ in range(FRAGMENTS_MAX):
        if pos + 8 > n:
            return
        group, elem, length = _ITEM_HEADER(buf, pos)
        if (group, elem) != _ITEM or length == 0xFFFFFFFF:
            return
        start = pos + 8
        pos = start + length
        yield start, min(pos, n)


def header_payloads(fragment: bytes) -> list[bytes]:
    """The text-bearing header payloads of one fragment: a JPEG (or JPEG-LS) image's APPn and
    COM segments before its scan, a JPEG 2000 codestream's COM segments before its first tile,
    a JP2 file's boxes other than the codestream (then that codestream's comments). Anything
    else (the offset table, a later fragment of a frame, RLE) yields nothing."""
    head = bytes(fragment[:16])
    if head.startswith(_JPEG_SOI):
        return _jpeg(fragment)
    if head.startswith(_J2K_SOC):
        return _j2k(fragment)
    if head.startswith(_JP2_SIGNATURE):
        return _jp2(fragment)
    return []


def _jpeg(data: bytes) -> list[bytes]:
    return [bytes(data[start:end]) for marker, start, end in _jpeg_header(data)
            if marker in _JPEG_TEXT_MARKERS]


def _jpeg_header(data: Any) -> Iterator[tuple[int, int, int]]:
    """(marker, payload start, payload end) of each segment of a JPEG's header, up to and
    including its first SOS; stops at anything that is not a marker segment."""
    pos, n = 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return
        marker = data[pos + 1]
        if marker == 0xFF:          # fill bytes before a marker (T.81 B.1.1.2)
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        length = data[pos + 2] << 8 | data[pos + 3]
        if length < 2:
            return
        yield marker, pos + 4, pos + 2 + length
        if marker == _JPEG_SOS:
            return
        pos += 2 + length


def _j2k(data: bytes) -> list[bytes]:
    out, pos, n = [], 2, len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == _J2K_SOT:
            return out
        length = data[pos + 2] << 8 | data[pos + 3]
        if length < 2:
            return out
        if marker == _J2K_COM:      # Rcom (2 bytes), then the comment
            out.append(bytes(data[pos + 6:pos + 2 + length]))
        pos += 2 + length
    return out


def _jp2(data: bytes) -> list[bytes]:
    out, pos, n = [], 0, len(data)
    while pos + 8 <= n:
        length, kind = struct.unpack_from(">L4s", data, pos)
        header = 8
        if length == 1 and pos + 16 <= n:    # XLBox: a 64-bit length follows
            length, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif length == 0:                     # the last box runs to the end
            length = n - pos
        if length < header:
            return out
        body = data[pos + header:min(pos + length, n)]
        if kind == b"jp2c":
            out += _j2k(body)
        elif kind not in (b"jP  ", b"ftyp"):
            out.append(bytes(body))
        pos += length
    return out


#: header bytes taken from one PixelData element in all: what a sweep of a value reads at most
PAYLOAD_MAX = 16 * 1024 * 1024


def pixel_header_payloads(buf: bytes, pos: int) -> list[bytes]:
    """Every fragment's header payloads (:func:`header_payloads`) and what else it carries
    besides coded pixels (:func:`hidden_payloads`), in file order, at most
    :data:`PAYLOAD_MAX` bytes of them: a hostile file of many fragments full of tiny segments
    costs no more than one large value."""
    out, total, complete = [], 0, False
    for index, (start, end) in enumerate(fragment_spans(buf, pos)):
        head = buf[start:min(end, start + HEADER_MAX)]
        found = header_payloads(head) + hidden_payloads(buf, start, end, index == 0, complete)
        complete = index > 0 and _ends_a_frame(buf, start, end)
        for payload in found:
            if payload:
                out.append(payload)
                total += len(payload) + 64          # a segment costs something however short
                if total > PAYLOAD_MAX:
                    return out
    return out


#: markers that cannot occur inside JPEG entropy-coded data (there 0xFF is followed by 0x00 or
#: a restart marker): a COM or APPn segment anywhere after the scan header is a real segment
_JPEG_LATE_SEGMENT = re.compile(rb"\xff[\xe0-\xef\xfe]")
#: segments taken from one fragment's coded data, and bytes of its tail searched for EOI
_LATE_SEGMENTS_MAX, _TAIL = 64, 64 * 1024


def _ends_a_frame(buf: Any, start: int, end: int) -> bool:
    """Whether a fragment ends a compressed frame (a JPEG's or a JPEG 2000 codestream's EOI/EOC
    before its padding, or an RLE frame, which is one fragment): the next fragment must then
    start a frame, and one that does not is no coded data."""
    data = memoryview(buf)[start:end]
    return (bytes(data[-8:]).rstrip(b"\x00").endswith(b"\xff\xd9")
            or _rle_unused_header(data) is not None)


def hidden_payloads(buf: Any, start: int, end: int, first: bool,
                    after_frame: bool = False) -> list[bytes]:
    """What a fragment holds besides a codestream's header and coded pixels, where no decoder
    looks and every reader of the bytes does:

    * a JPEG's COM or APPn segments after its scan header (before EOI, or past a megabyte of
      padding segments), and the bytes after its EOI;
    * the basic offset table (the first item), which holds only 32-bit offsets;
    * a JPEG 2000 codestream's tile-part comments and the bytes after its EOC;
    * the unused offset slots of an RLE fragment's header;
    * a fragment that is not the start of a codestream but reads as text, or whatever it
      holds when it follows a fragment that ended its frame (``after_frame``: a frame
      continued over fragments is coded data, not text, and is left alone)."""
    data = memoryview(buf)[start:end]
    if not len(data):
        return []
    head = bytes(data[:16])
    if first and not head.startswith((_JPEG_SOI, _J2K_SOC, _JP2_SIGNATURE)):
        return [bytes(data[:_TAIL])]       # the offset table (a frame there: no table at all)
    if head.startswith(_JPEG_SOI):
        out = []
        scan = _jpeg_scan_start(data)
        # from the scan's coded data, or from where the header reading stopped (a COM past a
        # megabyte of padding segments is before the scan but beyond HEADER_MAX)
        begin = HEADER_MAX if scan is None or scan > HEADER_MAX else scan
        if begin < len(data):
            for m in _JPEG_LATE_SEGMENT.finditer(data, begin):
                if len(out) >= _LATE_SEGMENTS_MAX:
                    break
                at = m.start()
                length = data[at + 2] << 8 | data[at + 3] if at + 4 <= len(data) else 0
                out.append(bytes(data[at + 4:at + 2 + max(length, 2)][:HEADER_MAX]))
        tail_at = max(0, len(data) - _TAIL)
        tail = bytes(data[tail_at:])
        eoi = tail.rfind(b"\xff\xd9")
        if eoi >= 0 and tail[eoi + 2:].strip(b"\x00"):
            out.append(tail[eoi + 2:])
        return out
    if head.startswith(_J2K_SOC):
        return _j2k_hidden(data)
    if head.startswith(_JP2_SIGNATURE):
        return []
    if (unused := _rle_unused_header(data)) is not None:
        return [unused] if unused.strip(b"\x00") else []
    sample = bytes(data[:_TAIL])
    if after_frame:                 # not a frame's start, not a frame's continuation: no pixels
        return [sample]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    return [sample] if printable >= 0.9 * len(sample) else []


_J2K_SOD, _J2K_EOC = 0x93, b"\xff\xd9"


def _j2k_hidden(data: Any) -> list[bytes]:
    """The comments of a JPEG 2000 codestream's tile-part headers (T.800 A.4: each tile-part
    starts with SOT, whose Psot gives its length, and its header runs to SOD) and the bytes
    after its EOC: the main header's comments are :func:`header_payloads`'. Coded data is
    skipped by the tile-part lengths, never searched."""
    out, pos, n = [], 2, len(data)
    while pos + 4 <= n and data[pos] == 0xFF and data[pos + 1] != _J2K_SOT:   # the main header
        length = data[pos + 2] << 8 | data[pos + 3]
        if length < 2:
            return out
        pos += 2 + length
    for _ in range(FRAGMENTS_MAX):
        if pos + 12 > n or data[pos] != 0xFF or data[pos + 1] != _J2K_SOT:
            break
        psot = int.from_bytes(data[pos + 6:pos + 10], "big")
        at = pos + 12
        while at + 4 <= n and data[at] == 0xFF and data[at + 1] != _J2K_SOD:
            length = data[at + 2] << 8 | data[at + 3]
            if length < 2:
                break
            if data[at + 1] == _J2K_COM:
                out.append(bytes(data[at + 6:at + 2 + length][:HEADER_MAX]))
            at += 2 + length
        if psot < 12:               # 0: the last tile-part runs to EOC, whose place is unknown
            return out
        pos += psot
    if bytes(data[pos:pos + 2]) == _J2K_EOC and bytes(data[pos + 2:pos + 2 + _TAIL]).strip(b"\x00\xff"):
        out.append(bytes(data[pos + 2:pos + 2 + _TAIL]))
    return out


_RLE_HEADER = struct.Struct("<16L").unpack_from


def _rle_unused_header(data: Any) -> bytes | None:
    """The unused offset slots of an RLE fragment's 64-byte header (PS3.5 G.5: the number of
    segments, 1 to 15, then 15 offsets, the first 64, those past the number of segments
    zero), or None when the fragment does not start with such a header. A writer may put
    anything there: no decoder reads it."""
    if len(data) < 64:
        return None
    count, *offsets = _RLE_HEADER(data, 0)
    used = offsets[:count] if 1 <= count <= 15 else []
    if not used or used[0] != 64 or any(b <= a for a, b in zip(used, used[1:])) or used[-1] >= len(data):
        return None
    return bytes(data[4 + 4 * count:64])


def _jpeg_scan_start(data: Any) -> int | None:
    """Where a JPEG's first scan's coded data starts (after its SOS segment), or None."""
    for marker, _, end in _jpeg_header(data):
        if marker == _JPEG_SOS:
            return end
    return None
