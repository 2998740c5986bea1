"""How an observed DICOM value is compared with a planted one, closing the official scorer's holes.

The MIDI-B validation script compared raw strings, so ``DOE^JOHN`` left as ``JOHN DOE`` passed
as removed, ``19-Jan-2004`` passed as a shifted ``20040119``, and ``1.0`` failed to equal ``1``
in a text attribute. Here values are compared as the VR says: person names by components,
text case- and punctuation-insensitively as whole words, dates as calendar dates in any common
spelling (also inside DateTime and free text), numbers as numbers only for numeric VRs, and
multi-valued elements value by value.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from functools import lru_cache
from typing import Any, Iterable

NUMERIC_VRS = frozenset({"DS", "IS", "FL", "FD", "SL", "SS", "UL", "US", "SV", "UV"})
DATE_VRS = frozenset({"DA", "DT"})
_WORD = re.compile(r"[0-9a-z]+")
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
#: a month by name: its abbreviation or its full name, as a whole word (``margin``, ``decubitus``
#: and ``novel`` are no months)
_MON = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
        r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![a-z])\.?")
_DATE_PATTERNS = [
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)(?P<m>[01]\d)(?P<d>[0-3]\d)(?=(?:\d\d){0,3}(?:\.\d+)?(?!\d))"),
    re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4})(?!\d)"),
    re.compile(r"(?<!\d)(?P<d>\d{1,2})(?:st|nd|rd|th)?[-\s]*" + _MON + r"[-\s,]*(?P<y>\d{4})(?!\d)"),
    re.compile(_MON + r"\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s*(?P<y>\d{4})(?!\d)"),
    # 1939-Mar-04, 1939 March 4 (year first, month by name)
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)[-\s/.]*" + _MON + r"[-\s/.,]*(?P<d>\d{1,2})(?!\d)"),
    # 1939 03 04 and 04 03 1939: one space between two-digit parts, not inside a longer row of numbers
    re.compile(r"(?<!\d)(?<!\d )(?P<y>(?:19|20)\d\d) (?P<m>[01]\d) (?P<d>[0-3]\d)(?!\d)(?! \d)"),
    re.compile(r"(?<!\d)(?<!\d )(?P<a>[0-3]\d) (?P<b>[0-3]\d) (?P<y>(?:19|20)\d\d)(?!\d)(?! \d)"),
    # 3/4/39, 04.03.39, 03-04-39: a two-digit year (either century, either order), not inside
    # a longer row of numbers (10.1.2.39); with dots or dashes, only two-digit parts (a version
    # 4.3.39 is no date)
    re.compile(r"(?<![\d/])(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<yy>\d\d)(?![\d/])"),
    re.compile(r"(?<![\d.-])(?P<a>\d\d)(?P<sep>[.-])(?P<b>\d\d)(?P=sep)(?P<yy>\d\d)(?![\d.-])"),
    # 04-Mar-39, 4 March 39: the month by name, a two-digit year
    re.compile(r"(?<!\d)(?P<d>\d{1,2})(?:st|nd|rd|th)?[-\s]*" + _MON + r"[-\s,]*'?(?P<yy>\d\d)(?![\d:])"),
    # Feb-12-63, Feb. 12th 63: the month by name first, a two-digit year
    re.compile(_MON + r"[-\s]*(?P<d>\d{1,2})(?:st|nd|rd|th)?[-\s,]+'?(?P<yy>\d\d)(?![\d:])"),
    # 04031939 and 03041939: day and month first, in either order, then the year
    re.compile(r"(?<!\d)(?P<a>[0-3]\d)(?P<b>[0-3]\d)(?P<y>(?:19|20)\d\d)(?!\d)"),
]


#: distinct strings remembered per memoised helper: the same values (a patient's name, a
#: series' descriptions, planted values) are compared in every instance, so a few thousand
#: distinct strings serve hundreds of thousands of calls
MEMO_SIZE = 1 << 14
#: longer texts (reports, SR text) are rarely repeated and would make the memos heavy: computed
LONG = 256


#: characters that show nothing: a NUL between the letters of UTF-16 text read as bytes, a soft
#: hyphen, zero-width spaces and joiners, a byte-order mark inside a value
_INVISIBLE = dict.fromkeys(map(ord, "\x00\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"), None)
#: Cyrillic and Greek letters drawn like Latin ones (Unicode's confusables, the unambiguous ones)
_HOMOGLYPHS = str.maketrans("АВЕЅІЈКМНОРСТХУаеіјоѕрсухԁһӏΑΒΕΖΗΙΚΜΝΟΡΤΥΧοϲ",
                            "ABESIJKMHOPCTXYaeijospcyxdhlABEZHIKMNOPTYXoc")


def plain(text: str) -> str:
    """``text`` as a reader sees it: full-width and other compatibility forms folded to ASCII
    (NFKD), accents dropped, invisible characters removed, look-alike Cyrillic and Greek letters
    read as Latin. ``ＤＯＥ``, ``D\u200bOE``, ``DÖE``, ``D\x00O\x00E`` and ``DОE`` (a Cyrillic O) all
    read ``DOE``: a tool that writes the name so is still showing it. ASCII text without NUL is
    returned as it is (the common case costs one scan)."""
    if text.isascii() and "\x00" not in text:
        return text
    text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE))
    return "".join(c for c in text if not unicodedata.combining(c)
                   and unicodedata.category(c) != "Cf").translate(_HOMOGLYPHS)


def norm_text(value: Any) -> str:
    """Lower case, punctuation and whitespace runs collapsed to one space."""
    return " ".join(_words(value if type(value) is str else str(value)))


def words(value: Any) -> list[str]:
    """The alphanumeric words of a value, lower-cased (a new list: callers may change it)."""
    return list(_words(value if type(value) is str else str(value)))


def _words(text: str) -> tuple[str, ...]:
    return _words_memo(text) if len(text) <= LONG else tuple(_WORD.findall(plain(text).lower()))


@lru_cache(maxsize=MEMO_SIZE)
def _words_memo(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(plain(text).lower()))


def split_values(value: Any) -> list[str]:
    """A DICOM value as a list of strings, one per value (multi-valued split on backslash)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v) for v in value]
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    text = str(value)
    return text.split("\\") if "\\" in text else [text]


def name_components(value: Any, min_len: int = 2) -> list[str]:
    """The words of a person name (all component groups), those of at least ``min_len`` chars."""
    return list(_name_components(value if type(value) is str else str(value), min_len))


@lru_cache(maxsize=MEMO_SIZE)
def _name_components(text: str, min_len: int) -> tuple[str, ...]:
    return tuple(w for w in _words(text.replace("^", " ").replace("=", " ")) if len(w) >= min_len)


def contains_words(haystack: Any, needle: Any) -> bool:
    """True if the words of ``needle`` occur consecutively, as whole words, in ``haystack``."""
    hay = haystack if type(haystack) is str else str(haystack)
    ndl = needle if type(needle) is str else str(needle)
    if len(hay) > LONG:
        return _contains_words.__wrapped__(hay, ndl)
    return _contains_words(hay, ndl)


@lru_cache(maxsize=MEMO_SIZE)
def _contains_words(haystack: str, needle: str) -> bool:
    hay, ndl = _words(haystack), _words(needle)
    if not ndl:
        return False
    n = len(ndl)
    return any(hay[i:i + n] == ndl for i in range(len(hay) - n + 1))


def _valid_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def dates_in(text: Any) -> set[dt.date]:
    """Every calendar date written in ``text``, in any common spelling (ambiguous ones both ways).

    ``20040119``, ``2004-01-19``, ``01/19/2004``, ``19.01.2004``, ``19-Jan-2004``,
    ``January 19, 2004``, ``2004-Jan-19``, ``2004 01 19``, the date part of a DateTime
    ``20040119083000``, ``19012004`` all give 2004-01-19; ``1/19/04``, ``19.01.04`` and
    ``19-Jan-04`` give it too (and 1904-01-19: a two-digit year is read in both centuries, as
    a reader would guess either).
    """
    text = text if type(text) is str else str(text)
    return set(_dates_in(text) if len(text) <= LONG else _dates_in.__wrapped__(text))


@lru_cache(maxsize=MEMO_SIZE)
def _dates_in(text: str) -> frozenset[dt.date]:
    low = text.lower()
    found: set[dt.date] = set()
    for pat in _DATE_PATTERNS:
        for m in pat.finditer(low):
            g = m.groupdict()
            years = [int(g["y"])] if g.get("y") else [1900 + int(g["yy"]), 2000 + int(g["yy"])]
            if g.get("mon"):
                candidates = [(_MONTHS[g["mon"][:3]], int(g["d"]))]
            elif g.get("a") is not None:
                a, b = int(g["a"]), int(g["b"])
                candidates = [(a, b), (b, a)]
            else:
                candidates = [(int(g["m"]), int(g["d"]))]
            found.update(d for y in years for mm, dd in candidates if (d := _valid_date(y, mm, dd)))
    return frozenset(found)


#: a TM value (PS3.5 Table 6.2-1): HH, HHMM, HHMMSS, with a fraction of up to 6 digits
TM_VALUE = re.compile(r"^([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?$")


def dicom_moment(date_text: str, time_text: str) -> dt.datetime | None:
    """A DA value and a TM value (HH, HHMM, HHMMSS, a fraction) as one datetime, or None."""
    day, time_text = dicom_date(date_text), (time_text or "").strip()
    if day is None or not TM_VALUE.match(time_text):
        return None
    digits, _, fraction = time_text.partition(".")
    digits = digits.ljust(6, "0")
    return dt.datetime(day.year, day.month, day.day, int(digits[:2]), int(digits[2:4]),
                       int(digits[4:6])) + dt.timedelta(seconds=float("0." + (fraction or "0")))


def whole_days_around(offset: dt.timedelta) -> set[int]:
    """The whole-day shifts a date can show under one date-and-time ``offset``: -205 days 4 hours
    moves 16:00 by -205 days and 02:00 by -206 (one value when the offset is whole days)."""
    days = offset.total_seconds() / 86400
    return {math.floor(days), math.ceil(days)}


def dicom_date(value: Any) -> dt.date | None:
    """The date of a DA value or the date part of a DT value, or None if it is not one."""
    return _dicom_date(value if type(value) is str else str(value))


@lru_cache(maxsize=MEMO_SIZE)
def _dicom_date(text: str) -> dt.date | None:
    digits = text.strip()[:8]
    if len(digits) == 8 and digits.isdigit():
        return _valid_date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    return None


def as_number(value: Any) -> float | None:
    """A value as a float, or None when it is not a number."""
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def value_present(vr: str | None, original: str, observed: Iterable[str]) -> bool:
    """True if ``original`` (a planted value, maybe multi-valued) can still be read in ``observed``.

    The leak test of text_removed: any one original value surviving is a leak.
    """
    observed = [o for o in observed if str(o).strip()]
    for orig in split_values(original):
        if not orig.strip():
            continue
        if any(_one_present(vr, orig, obs) for obs in observed):
            return True
    return False


def _one_present(vr: str | None, orig: str, obs: str) -> bool:
    if vr == "PN":
        comps = name_components(orig)
        return any(contains_words(obs, c) for c in comps) if comps else False
    if vr in NUMERIC_VRS:
        a, b = as_number(orig), as_number(obs)
        return a is not None and a == b
    date = dicom_date(orig) if vr in DATE_VRS or vr is None else None
    if date is not None and date in dates_in(obs):
        return True
    return contains_words(obs, orig)


def same_value(vr: str | None, expected: str, observed: Iterable[str]) -> bool:
    """True if ``observed`` holds ``expected``: value by value, compared as the VR says."""
    exp = [e for e in split_values(expected)]
    obs = list(observed)
    if len(exp) != len(obs):
        return False
    return all(_one_equal(vr, e, o) for e, o in zip(exp, obs))


def _one_equal(vr: str | None, exp: str, obs: str) -> bool:
    if vr in NUMERIC_VRS:
        a, b = as_number(exp), as_number(obs)
        if a is not None and b is not None:
            return abs(a - b) <= 1e-9 * max(1.0, abs(a))
    if vr in DATE_VRS:
        return dicom_date(exp) == dicom_date(obs) and str(exp).strip()[8:] == str(obs).strip()[8:]
    if vr == "PN":
        return name_components(exp, 1) == name_components(obs, 1)
    return norm_text(exp) == norm_text(obs)
