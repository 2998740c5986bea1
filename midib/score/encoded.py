"""Text written in an encoding any reader undoes in one step: base64, base32, hexadecimal
(of UTF-8 or UTF-16 text), percent (URL) encoding, HTML character references, letters spaced
out (``A R E L L A N O``).

``RE9FXkpPSE4=`` is ``DOE^JOHN`` to anyone with a shell; a submission that writes PHI that way
has not removed it. The sweep searches the decoded form of each such run as well as the text
itself (:meth:`midib.score.sweep.Sweeper._search`). A run is decoded only when the result reads
as text (nine characters in ten printable, a letter or a digit among them): a hash, a UID or a
long word decodes to bytes that do not, so ordinary values cost one regular-expression scan.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from urllib.parse import unquote

#: the label a decoded hit's text starts with: ``[base64] DOE^JOHN``
LABEL = re.compile(r"\[(base64|base32|hex|percent-encoded|HTML-escaped|letter-spaced)\] ")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{8,}={0,2}(?![A-Za-z0-9+/=_-])")
#: base32 (RFC 4648): upper-case letters and 2-7, padded to a multiple of eight characters
_BASE32 = re.compile(r"(?<![A-Za-z0-9=])[A-Z2-7]{8,}={0,6}(?![A-Za-z0-9=])")
#: three or more single letters, each followed by one space or dot: ``A R E L L A N O``
_SPACED = re.compile(r"(?<![A-Za-z])(?:[A-Za-z][ .]){2,}[A-Za-z](?![A-Za-z])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){4,}(?![0-9A-Fa-f])")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(r"&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z]+);")
_LATIN1_TEXT = re.compile(rb"[\x20-\x7e\xc0-\xff\t\r\n]*")
#: at most this many runs of one value are decoded (a megabyte of base64 is one run anyway)
MAX_RUNS = 64


def decoded_forms(text: str) -> list[tuple[str, str]]:
    """(how, decoded text) for each encoded run of ``text`` that decodes to readable text."""
    if len(text) < 6:
        return []
    out: list[tuple[str, str]] = []
    if len(text) >= 8:
        for m in _BASE64.finditer(text, 0, len(text)):
            if len(out) >= MAX_RUNS:
                break
            run = m.group(0)
            if run.isdigit():       # a number (a date, an ID) is never base64 of text
                continue
            decoded = _readable(_unbase64(run))
            if decoded is not None:
                out.append(("base64", decoded))
        for m in _BASE32.finditer(text):
            if len(out) >= MAX_RUNS:
                break
            run = m.group(0)
            if len(run) % 8 == 0 and (decoded := _readable(_unbase32(run))) is not None:
                out.append(("base32", decoded))
        for m in _HEX.finditer(text):
            if len(out) >= MAX_RUNS:
                break
            decoded = _readable(bytes.fromhex(m.group(0)))
            if decoded is not None:
                out.append(("hex", decoded))
        if (" " in text or "." in text) and _SPACED.search(text):   # one form: the words side by side
            out.append(("letter-spaced", _SPACED.sub(lambda m: re.sub(r"[ .]", "", m.group(0)), text)))
    if "%" in text and _PERCENT.search(text):
        out.append(("percent-encoded", unquote(text, errors="replace")))
    if "&" in text and _ENTITY.search(text):
        out.append(("HTML-escaped", html.unescape(text)))
    return out


def labelled(how: str, decoded: str) -> str:
    """The text a hit found in a decoded run shows: the decoding, then what it gave."""
    return f"[{how}] {decoded}"


def is_decoded(hit_text: str) -> bool:
    """True for the text of a hit found only once the value was decoded."""
    return hit_text.startswith("[") and LABEL.match(hit_text) is not None


def _unbase64(run: str) -> bytes:
    run = run.rstrip("=")
    padded = run + "=" * (-len(run) % 4)
    try:
        if "-" in run or "_" in run:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _unbase32(run: str) -> bytes:
    try:
        return base64.b32decode(run)
    except (binascii.Error, ValueError):
        return b""


def _readable(data: bytes) -> str | None:
    """``data`` as text when it reads as text (UTF-8, else Latin-1 letters), else None: a
    quarter of random bytes are printable Latin-1, so Latin-1 counts only when every byte is a
    printable ASCII character or an accented letter, and three in four are ASCII."""
    if len(data) < 4:
        return None
    if len(data) % 2 == 0 and b"\x00" in data and (data[1::2].count(0) == len(data) // 2
                                                   or data[0::2].count(0) == len(data) // 2):
        data = data.replace(b"\x00", b"")   # UTF-16 of ASCII text (hex of what Windows writes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if _LATIN1_TEXT.fullmatch(data) is None or sum(b < 0x80 for b in data) < 0.75 * len(data):
            return None
        text = data.decode("latin-1")
    printable = sum(ch.isprintable() for ch in text)
    if printable < 0.9 * len(text) or not any(ch.isalnum() for ch in text):
        return None
    return text
