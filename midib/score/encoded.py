"""Text written in an encoding any reader undoes in one step: base64, hexadecimal, percent
(URL) encoding, HTML character references.

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
LABEL = re.compile(r"\[(base64|hex|percent-encoded|HTML-escaped)\] ")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{8,}={0,2}(?![A-Za-z0-9+/=_-])")
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
        for m in _HEX.finditer(text):
            if len(out) >= MAX_RUNS:
                break
            decoded = _readable(bytes.fromhex(m.group(0)))
            if decoded is not None:
                out.append(("hex", decoded))
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


def _readable(data: bytes) -> str | None:
    """``data`` as text when it reads as text (UTF-8, else Latin-1 letters), else None: a
    quarter of random bytes are printable Latin-1, so Latin-1 counts only when every byte is a
    printable ASCII character or an accented letter, and three in four are ASCII."""
    if len(data) < 4:
        return None
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
