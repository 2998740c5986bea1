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

import struct
from typing import Iterator

#: at most this many bytes of metadata are taken from one fragment, and this many fragments
#: read: a hostile file of a million fragments must not stall scoring
HEADER_MAX = 1024 * 1024
FRAGMENTS_MAX = 100_000
_ITEM_HEADER = struct.Struct("<HHL").unpack_from
_ITEM, _SEQ_END = (0xFFFE, 0xE000), (0xFFFE, 0xE0DD)
_JPEG_SOI = b"\xff\xd8"
_J2K_SOC = b"\xff\x4f\xff\x51"
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
#: JPEG markers that carry text a writer chose: APP0-APP15, COM
_JPEG_TEXT_MARKERS = frozenset(range(0xE0, 0xF0)) | {0xFE}
#: JPEG markers without a length field (T.81 B.1.1.3: RSTn, SOI, EOI, TEM)
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD9)) | {0x01}
_JPEG_SOS, _J2K_SOT, _J2K_COM = 0xDA, 0x90, 0x64


def fragments(buf: bytes, pos: int) -> Iterator[bytes]:
    """The fragments of encapsulated pixel data whose items start at ``pos`` (the byte after
    the PixelData element's undefined length), the basic offset table first. Stops at the
    sequence delimiter or at the first thing that is not an item: never raises."""
    n = len(buf)
    for _ in range(FRAGMENTS_MAX):
        if pos + 8 > n:
            return
        group, elem, length = _ITEM_HEADER(buf, pos)
        if (group, elem) != _ITEM or length == 0xFFFFFFFF:
            return
        start = pos + 8
        pos = start + length
        yield buf[start:min(pos, n, start + HEADER_MAX)]


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
    out, pos, n = [], 2, len(data)
    while pos + 4 <= n:
        if data[pos] != 0xFF:
            return out
        marker = data[pos + 1]
        if marker == 0xFF:          # fill bytes before a marker (T.81 B.1.1.2)
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        length = data[pos + 2] << 8 | data[pos + 3]
        if marker in _JPEG_TEXT_MARKERS:
            out.append(bytes(data[pos + 4:pos + 2 + length]))
        if marker == _JPEG_SOS or length < 2:
            return out
        pos += 2 + length
    return out


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
    """Every fragment's header payloads (:func:`header_payloads`), in file order, at most
    :data:`PAYLOAD_MAX` bytes of them: a hostile file of many fragments full of tiny segments
    costs no more than one large value."""
    out, total = [], 0
    for fragment in fragments(buf, pos):
        for payload in header_payloads(fragment):
            if payload:
                out.append(payload)
                total += len(payload) + 64          # a segment costs something however short
                if total > PAYLOAD_MAX:
                    return out
    return out
