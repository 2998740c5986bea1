"""Part 10 framing read from raw bytes, decided exactly as pydicom decides it.

Where the dataset starts (preamble, group 2), whether it is implicit or explicit VR, what VR
pydicom would give an implicit element, and how encapsulated pixel data is stepped over: the
byte walker (:mod:`midib.score.rawwalk`) must agree with ``pydicom.dcmread`` on all of these,
so each rule here mirrors pydicom 3's reader, and anything else raises :class:`Fallback`.
"""

from __future__ import annotations

import struct
from typing import Optional

from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import dictionary_VR, private_dictionary_VR
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.tag import BaseTag
from pydicom.uid import PrivateTransferSyntaxes
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32
from pydicom.values import converters

from midib.score.observation import BINARY_NUMBERS, BINARY_TEXTLIKE, TEXT_VRS

EXPLICIT_HEADER = struct.Struct("<HH2sH").unpack_from
IMPLICIT_HEADER = struct.Struct("<HHL").unpack_from
U32 = struct.Struct("<L").unpack_from
_U16 = struct.Struct("<H").unpack_from

UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
CHARSET = 0x00080005
PIXEL_DATA = 0x7FE00010
IMPLICIT_LE = "1.2.840.10008.1.2"
#: syntaxes pydicom reads specially (big endian, deflate): left to it
OTHER_SYNTAXES = frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99",
                            *map(str, PrivateTransferSyntaxes)})
KNOWN_VRS = TEXT_VRS | BINARY_NUMBERS | BINARY_TEXTLIKE | {"SQ"}
#: VR bytes -> (VR, has a 4-byte length)
VRS = {vr.encode(): (vr, vr in EXPLICIT_VR_LENGTH_32) for vr in KNOWN_VRS}
STEPS: dict[int, str] = {}
_VR_CACHE: dict[int, str] = {}


class Fallback(Exception):
    """The raw walk cannot promise pydicom's result for this file: use the pydicom path."""


def file_meta(buf: bytes) -> tuple[int, Optional[str]]:
    """Where the dataset starts (after preamble and group 2) and the transfer syntax UID."""
    n = len(buf)
    pos = 132 if n >= 132 and buf[128:132] == b"DICM" else 0
    syntax = None
    while pos + 8 <= n and _U16(buf, pos)[0] == 2:
        group, elem, vrb, length = EXPLICIT_HEADER(buf, pos)
        info = VRS.get(vrb)
        if info is None:
            raise Fallback("file meta not explicit VR")
        if info[1]:
            if pos + 12 > n:
                raise Fallback("truncated file meta")
            length, pos = U32(buf, pos + 8)[0], pos + 12
        else:
            pos += 8
        if length == UNDEFINED or pos + length > n:
            raise Fallback("odd file meta length")
        if elem == 0x0010:
            try:
                syntax = bytes(buf[pos:pos + length]).decode("ascii").rstrip("\x00 ")
            except UnicodeDecodeError:
                raise Fallback("transfer syntax UID not ASCII") from None
        pos += length
    if n - pos >= 2 and _U16(buf, pos)[0] == 0:
        raise Fallback("command set")
    return pos, syntax


def implicit_syntax(buf: bytes, pos: int, syntax: Optional[str]) -> bool:
    """Implicit VR or not, decided as pydicom decides it (guessing without a transfer syntax)."""
    if pos >= len(buf):
        return True
    if syntax is None:
        if len(buf) - pos < 6:
            raise Fallback("too short to guess the encoding")
        group = _U16(buf, pos)[0]
        implicit = buf[pos + 4:pos + 6].decode("latin-1") not in converters
        if not implicit and group >= 1024:
            raise Fallback("big endian")
    elif syntax in OTHER_SYNTAXES:
        raise Fallback(f"transfer syntax {syntax}")
    else:
        implicit = syntax == IMPLICIT_LE
    if looks_implicit(buf, pos) not in (None, implicit):
        raise Fallback("encoding differs from the transfer syntax")
    return implicit


def looks_implicit(buf: bytes, pos: int, limit: Optional[int] = None) -> Optional[bool]:
    """pydicom's test of a dataset's first element: are bytes 4-5 not a VR-like pair?"""
    end = len(buf) if limit is None else limit
    if pos + 6 > end:
        return None
    a, b = buf[pos + 4], buf[pos + 5]
    return not (0x40 < a < 0x5B and 0x40 < b < 0x5B)


def skip_fragments(buf: bytes, pos: int) -> int:
    """The position after the sequence delimiter of encapsulated data (fragments not read)."""
    n = len(buf)
    while True:
        if pos + 8 > n:
            raise Fallback("truncated fragments")
        group, elem, length = IMPLICIT_HEADER(buf, pos)
        tag = group << 16 | elem
        if tag == SEQ_END:
            return pos + 8
        if tag != ITEM or length == UNDEFINED:
            raise Fallback("odd fragment")
        pos += 8 + length


def tag_step(tag: int) -> str:
    step = STEPS.get(tag)
    if step is None:
        step = STEPS[tag] = f"({tag >> 16:04x},{tag & 0xFFFF:04x})"
    return step


def implicit_vr(tag: int, creator: Optional[str]) -> str:
    """The VR pydicom's dictionaries give an implicit element (maybe ambiguous: "US or SS")."""
    if creator is None and tag in _VR_CACHE:
        return _VR_CACHE[tag]
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        group, elem = tag >> 16, tag & 0xFFFF
        vr = "UN"
        if group & 1:
            if 0x10 <= elem < 0x100:
                vr = "LO"
            elif elem & 0xFF00 and creator:
                try:
                    vr = private_dictionary_VR(tag, creator)
                except KeyError:
                    pass
        elif elem == 0:
            vr = "UL"
    if creator is None:
        _VR_CACHE[tag] = vr
    return vr


def pydicom_encodings(raw: Optional[bytes]) -> list[str]:
    """The encodings pydicom decodes a dataset's text with (its own conversion of the charset)."""
    if raw is None:
        return [default_encoding]
    elem = convert_raw_data_element(RawDataElement(BaseTag(CHARSET), "CS", len(raw), raw,
                                                   0, False, True))
    return list(convert_encodings(elem.value))
