"""The leak sweep: every planted PHI value searched everywhere in the output, not only where the
key looks.

A tool can move PHI instead of removing it (into another attribute, a private block, a nested
sequence, an SR text node, the file name); per-path checks would not see that. The sweep looks
for every ledger PHI value (role ``phi``, not pixels) in every string element at any depth and
in output file and folder names. To stay useful it must not cry wolf:

* values the key requires retained (e.g. patient characteristics under rtnPatCharsOpt) are not
  searched; nor values under 3 characters (sex ``M``) or short plain numbers (weights, ages);
* names are searched by component (each of >= 3 characters, as a whole word, capitalised
  outside PN values), so ``DOE^JOHN`` is found in ``Seen by John Doe`` but ``DOE`` is not
  found in ``DOES``, nor ``KEY^DANIEL`` in ``applies the answer key``; in any case when two
  components of the same name stand side by side (``arellano emily``, ``john doe``): a lower-cased
  full name is still the name, and two adjacent parts do not occur in prose by chance; and
  the family and given names run together, either way round, as one word in any case
  (``EmilyArellano``, ``ARELLANOEMILY``: a file or folder named after the patient);
* identifiers made of a letter prefix and a long digit run (``MRN38851048``, ``A12345678``)
  are also searched as the digits alone (``REQ-38851048``), also as a whole digit run inside a
  token, zero-padded or as an IS/DS number (``ID38851048``, ``0038851048``), and regrouped
  (``38-85-10-48``); a phone or social security number is also searched as its digits run
  together (``4000823654``) or regrouped: the digits are the identifier;
* an address also by its lines (street, city, state and ZIP code), each as a whole;
* every other value (station names, IDs, serials, accession numbers, institutions, addresses)
  is searched only as a whole: all its words in a row, case and punctuation ignored, so
  ``VARIAN-TPS2`` is found in ``varian tps2`` but not in ``Varian Medical Systems``;
* dates are searched only as dates (any spelling, see :func:`midib.score.values.dates_in`),
  never in UIDs; times are not searched (not identifiers under HIPAA Safe Harbor);
* UIDs are searched as whole UIDs, and an identifier of 7+ digits as a whole component of one;
* a run written in base64, hexadecimal, percent or HTML encoding is searched decoded too
  (:mod:`midib.score.encoded`), and a hit there is never taken as judged by a key check at
  the same place: that check compared the encoded text;
* a name, word or date counts against an output only when it belongs to the patient the output
  was matched to (any patient for unmatched outputs): a shifted date may equal another patient's
  birth date and a tool's random dummy name another patient's surname. A UID or an identifier
  with 7+ digits (an MRN, a long accession number) of another patient inside this patient's file is a
  leak wherever it comes from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from midib.answer_key import Check
from midib.ledger import LedgerEntry
from midib.score.encoded import decoded_forms, labelled
from midib.score.uidneedles import PREFIX as UID_PREFIX, UidNeedles
from midib.score.values import dates_in, dicom_date, name_components, norm_text, plain, words

_RETAINING = frozenset({"text_retained", "tag_retained"})
#: text that may hold a date: a four-digit year somewhere, d/m/yy (or with dots or dashes), or
#: a month by name before a two-digit year (see :func:`midib.score.values.dates_in`)
_DIGITS4 = re.compile(r"\d{4}|\d[/.-]\d{1,2}[/.-]\d\d|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
                      r"[a-z]*\.?[-\s,]*'?\d\d")
_TOKEN = re.compile(r"[0-9A-Za-z]+")
_UIDISH = re.compile(r"[0-9.]{8,}")
_DIGIT_RUN = re.compile(r"\d{7,}")
#: numbers in a row with one or two separators between them (``38-85-10-48``, ``(400) 082-3654``,
#: ``3885_1048``, ``3885,1048``, ``3885:1048``)
_DIGIT_GROUPS = re.compile(r"\d+(?:[\s\-./()_,:]{1,2}\d+)+")
_DIGITS = re.compile(r"\d+")
#: the most groups joined into one identifier (a phone number is three, an MRN in pairs four,
#: a phone number with every digit apart ten)
_GROUPS_JOINED = 12
#: an identifier written as digits and separators, maybe behind a short letter prefix
#: (``(400) 082-3654``, ``123-45-6789``, ``MRN 38-85-10-48``): its digits alone are searched too
_DIGITS_WITH_SEPARATORS = re.compile(r"[A-Za-z]{0,6}[-_ #:]?[\d\s()+\-./]+")
#: what a UI value holds when it is one (padding included): anything else in a UI is read as text
_UID_TEXT = re.compile(r"[0-9.\s\x00]*")
#: values of these VRs are numbers, times or ages: never names, IDs or UIDs
_NUMERIC_VRS = frozenset({"DS", "IS", "TM", "AS", "DA", "DT", "US", "SS", "UL", "SL", "FL", "FD"})
#: where a date can be written: its own VRs, free text, unknown bytes, file names ("")
_DATE_TEXT_VRS = frozenset({"DA", "DT", "LO", "LT", "SH", "ST", "UT", "UC", "PN", "UN", "OB", "CS",
                            "AE", "UR", ""})
#: kinds never searched, matched as whole ``_``-separated words of the kind (a substring test
#: skipped ``acquisition_datetime``, ``contribution_date_time`` for their "time", and would
#: skip any ``image_...`` kind for its "age")
_SKIP_KINDS = frozenset({"time", "age", "sex", "weight", "size", "height", "geometry",
                         # characteristics, not identifiers (HIPAA keeps states and countries):
                         # ``USA``, ``SGT``, ``OTHER`` turned up in manufacturers' addresses, prose
                         # and random compressed bytes
                         "country", "region", "rank", "ethnic"})
#: words that make a kind with "time" a date-time (swept as a date), not a time of day
_DATE_WORDS = frozenset({"date", "datetime"})


def skipped_kind(kind: str, value: str = "") -> bool:
    """True for values the sweep does not search by their kind: times of day (not identifiers
    under HIPAA Safe Harbor), patient characteristics, geometry. A date-time kind
    (``contribution_date_time``) is searched when its value holds a date (then only as a date:
    its time digits are never searched as words)."""
    tokens = set(kind.lower().split("_"))
    skip = tokens & _SKIP_KINDS
    if not skip:
        return False
    if skip == {"time"} and tokens & _DATE_WORDS:
        return dicom_date(value) is None
    return True


MEMO_SIZE = 20_000
_NO_NEEDLE = object()
#: the hit of content the sweep could not read (a format midib cannot open, a file past the
#: sweep's limits): its text says what; it fails the output wherever it is, for any patient
UNREAD = "u:unread"


@dataclass(slots=True)
class Needle:
    """One searchable PHI value and the patients it belongs to (slots and a tuple: there are
    ~120 per patient, in the parent and every worker)."""

    text: str                      # what is searched (a name component for names)
    kind: str
    phi_class: str = "other"
    patients: tuple[str, ...] = ()
    whole: str = ""                 # the planted value it comes from (the full name)


class LedgerIds:
    """A set of ledger entry IDs that costs a bit per ID, not ~90 bytes: midib writes them as
    ``L`` and seven or more digits (``L0000123``), which are kept as bits of a bytearray indexed
    by the number; any other spelling (an imported key's) in a plain set. The retention checks
    of a `midi-b` key name ~2 million IDs: ~180 MB as strings, ~700 KB as bits."""

    def __init__(self) -> None:
        self.bits, self.other = bytearray(), set()

    @staticmethod
    def _number(entry_id: str) -> int:
        """The bit of a canonical ``L`` + zero-padded digits ID, or -1 (``L12`` and ``L0000012``
        are distinct IDs: only the padded spelling midib writes gets a bit)."""
        digits = entry_id[1:]
        if entry_id[:1] != "L" or len(digits) < 7 or not (digits.isascii() and digits.isdigit()):
            return -1
        n = int(digits)
        return n if len(digits) == 7 or digits[0] != "0" else -1

    def add(self, entry_id: str) -> None:
        n = self._number(entry_id)
        if n < 0:
            self.other.add(entry_id)
            return
        if n >> 3 >= len(self.bits):
            self.bits.extend(bytes((n >> 3) + 1 - len(self.bits) + len(self.bits) // 2))
        self.bits[n >> 3] |= 1 << (n & 7)

    def update(self, ids: Iterable[str]) -> None:
        for entry_id in ids:
            self.add(entry_id)

    def __contains__(self, entry_id: object) -> bool:
        if not isinstance(entry_id, str):
            return False
        n = self._number(entry_id)
        if n < 0:
            return entry_id in self.other
        return n >> 3 < len(self.bits) and bool(self.bits[n >> 3] >> (n & 7) & 1)


@dataclass
class Sweeper:
    """Search index over the ledger's PHI values; called on every string of every output."""

    needles: dict[str, Needle] = field(default_factory=dict)
    by_first_word: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)
    dates: dict[dt.date, str] = field(default_factory=dict)
    uids: UidNeedles = field(default_factory=UidNeedles)     # planted UIDs, packed once frozen
    name_parts: set[str] = field(default_factory=set)      # needles that are name components
    partners: dict[str, set[str]] = field(default_factory=dict)  # name part -> other parts' words
    short_parts: set[str] = field(default_factory=set)     # two-letter parts: only beside a partner
    kept_ids: LedgerIds = field(default_factory=LedgerIds)  # only while indexing
    kept_values: set[tuple[str, str]] = field(default_factory=set)   # (patient, value) kept
    kept_texts: set[str] = field(default_factory=set)   # values kept for some patient (normalised)
    memo: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict, repr=False)
    uid_memo: dict[str, Needle | None] = field(default_factory=dict, repr=False)  # rebuilt UID needles

    def keep(self, check: Check) -> None:
        """Note a retention check: its ledger values must not be searched."""
        self.kept_ids.update(check.ledger_ids)
        kept = norm_text(check.expected.get("value", ""))
        self.kept_values.add((check.patient_id, kept))
        self.kept_texts.add(kept)

    def add_entry(self, e: LedgerEntry) -> None:
        """Index one ledger entry if it is sweepable PHI the key does not keep."""
        if e.role != "phi" or e.channel in ("pixel", "overlay") or not e.value:
            return
        if e.id in self.kept_ids or skipped_kind(e.kind, e.value):
            return
        if (e.patient_id, norm_text(e.value)) in self.kept_values:   # kept for this patient only:
            # one patient's retained ethnic group WHITE is another's mother's maiden name
            return
        _index_entry(self, e)

    def freeze(self) -> None:
        """Drop the indexing-only sets and pack the UIDs (the sweeper is shipped to every worker)."""
        self.kept_ids, self.kept_values = LedgerIds(), set()
        self.uids.freeze()

    def needle(self, nid: str) -> Needle | None:
        """The needle a hit names (UID needles are rebuilt from their packed facts)."""
        if nid == UNREAD:
            return _UNREAD_NEEDLE
        if nid.startswith(UID_PREFIX):
            found = self.uid_memo.get(nid, _NO_NEEDLE)
            if found is _NO_NEEDLE:  # a leaky output's UIDs are asked about several times each
                if len(self.uid_memo) >= MEMO_SIZE:
                    self.uid_memo.clear()
                uid = nid[len(UID_PREFIX):]
                facts = self.uids.facts(uid)
                found = self.uid_memo[nid] = (None if facts is None else
                                              Needle(uid, facts.kind, facts.phi_class, facts.patients, uid))
            return found  # type: ignore[return-value]
        return self.needles.get(nid)

    def __call__(self, text: str, vr: str, where: str) -> list[tuple[str, str]]:
        """The needles found in ``text`` (an element value of ``vr``, or a file name).

        Memoised: most values repeat across the instances of a series (manufacturer,
        descriptions, the patient's own values), and searching one costs ~20 us.
        """
        if not text:
            return []
        key = (text, vr)
        found = self.memo.get(key)
        if found is None:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            found = self.memo[key] = self._search(text, vr)
        return found

    def _search(self, text: str, vr: str, decode: bool = True) -> list[tuple[str, str]]:
        hits: list[tuple[str, str]] = []
        if (vr == "UI" and _UID_TEXT.fullmatch(text)) or (_UIDISH.fullmatch(text) and "." in text):
            nid = self.uids.get(text.strip(" \x00"))
            bare = text.strip(" \x00")
            if nid or not (_DOTTED_DATE.fullmatch(bare) or _ZERO_LED.search(bare)):
                return [(nid, text)] if nid else self._ids_in_uid(text)
            # 04.03.1939, 1939.03.04, 400.082.3654 alone: a date or a phone number written with
            # dots (a UID has no part led by a zero), read as text
        if vr == "UI":  # not a UID (a name or a date in a private UI): read as unknown text
            vr = "UN"
        if vr not in _NUMERIC_VRS:
            raw = _TOKEN.findall(plain(text))
            ws = [w.lower() for w in raw]
            for i, w in enumerate(ws):
                for seq, nid in self.by_first_word.get(w, ()):
                    if tuple(ws[i:i + len(seq)]) == seq and (
                            self._beside_partner(nid, ws, i, len(seq)) if nid in self.short_parts else
                            nid not in self.name_parts or raw[i][0].isupper() or vr == "PN"
                            or self._beside_partner(nid, ws, i, len(seq))):
                        hits.append((nid, text))
            hits += self._ids_in_tokens(raw, {nid for nid, _ in hits}, text)
            if _DIGIT_GROUPS.search(text):
                hits += self._ids_in_groups(text, {nid for nid, _ in hits})
        elif vr in ("IS", "DS") and (number := _integer_text(text)) is not None and len(number) >= 7:
            hits += self._ids_in_tokens([number], set(), text)   # an MRN's digits as a number
        if self.dates and vr in _DATE_TEXT_VRS and _DIGITS4.search(text):
            found = ({dicom_date(text)} if vr in ("DA", "DT") and dicom_date(text) and "-" not in text.strip()[1:]
                     else dates_in(text))   # an old-style 1939.03.04 in a DA, a range 19000101-19390304
            hits += [(self.dates[d], text) for d in found if d in self.dates]
        if vr not in _NUMERIC_VRS and "." in text:
            for m in _UIDISH.finditer(text):
                if nid := self.uids.get(m.group(0).strip(".")):
                    hits.append((nid, text))
        if decode and vr not in _NUMERIC_VRS:   # base64, hex, %XX, &#NN;: PHI all the same
            seen = {nid for nid, _ in hits}     # found as written: judged as written
            for how, form in decoded_forms(text):
                for nid, _ in self._search(form, "UN", False):
                    if nid not in seen:
                        seen.add(nid)
                        hits.append((nid, labelled(how, form)))
        return hits

    def _ids_in_tokens(self, tokens: list[str], found: set[str], text: str) -> list[tuple[str, str]]:
        """Identifiers of 7+ digits written inside a longer token or zero-padded: the digit run
        of ``ID38851048``, ``MRN38851048X``, ``0038851048`` (``MRN38851048`` planted). A tool
        that swaps the prefix or pads the number still publishes the identifier. Whole digit
        runs only (a run is never searched inside a longer one), so chance matches need 7+
        equal digits exactly bounded."""
        hits = []
        for tok in tokens:
            if len(tok) < 7 or tok.isalpha():
                continue
            for run in _DIGIT_RUN.findall(tok):
                self._id_digits(run, found, hits, text)
        return hits

    def _id_digits(self, run: str, found: set[str], hits: list[tuple[str, str]], text: str) -> None:
        """Add to ``hits`` the identifiers whose digits are ``run``, zero-padded or not."""
        for digits in {run, run.lstrip("0")}:
            for seq, nid in self.by_first_word.get(digits, ()):
                if len(seq) == 1 and nid not in found:
                    found.add(nid)
                    hits.append((nid, text))

    def _ids_in_groups(self, text: str, found: set[str]) -> list[tuple[str, str]]:
        """Identifiers of 7+ digits written in groups (``38-85-10-48``, ``E-7864-4251``,
        ``(400)0823654``): up to :data:`_GROUPS_JOINED` groups in a row, joined, must equal an
        identifier's digits exactly. Regrouping publishes the number all the same; a chance
        match needs consecutive numbers whose digits spell the whole identifier."""
        hits = []
        for m in _DIGIT_GROUPS.finditer(text):
            groups = _DIGITS.findall(m.group(0))
            for i in range(len(groups)):
                joined = ""
                for g in groups[i:i + _GROUPS_JOINED]:
                    joined += g
                    if len(joined) >= 7:
                        self._id_digits(joined, found, hits, text)
        return hits

    def _ids_in_uid(self, text: str) -> list[tuple[str, str]]:
        """An identifier of 7+ digits (an MRN, an accession number) written as a whole component
        of a new UID (``1.2.826.0.1.38851048.1``): a tool that builds UIDs from the patient's
        number publishes it. Only whole components, and only identifiers, never dates: a UID's
        digits are otherwise random or a timestamp."""
        hits = []
        for part in text.strip(" \x00").split("."):
            if len(part) >= 7 and part.isdigit():
                hits += [(nid, text) for seq, nid in self.by_first_word.get(part, ()) if len(seq) == 1]
        return hits

    def _beside_partner(self, nid: str, ws: list[str], i: int, n: int) -> bool:
        """A lower-case name part counts when another part of the same name is its neighbour."""
        partners = self.partners.get(nid)
        if not partners:
            return False
        return (i > 0 and ws[i - 1] in partners) or (i + n < len(ws) and ws[i + n] in partners)

    def _add(self, key: str, text: str, kind: str, patient: str, phi_class: str = "other",
             whole: str = "") -> str:
        needle = self.needles.setdefault(key, Needle(text, kind, phi_class, whole=whole or text))
        if patient not in needle.patients:
            needle.patients += (patient,)
        return key

    def add_words(self, text: str, kind: str, patient: str, phi_class: str = "other",
                  whole: str = "") -> None:
        seq = tuple(words(text))
        key = "w:" + " ".join(seq)
        if key not in self.needles:
            self.by_first_word.setdefault(seq[0], []).append((seq, key))
        self._add(key, text, kind, patient, phi_class, whole)


def _integer_text(text: str) -> str | None:
    """The digits of an IS or DS value that is a whole number, however written (``38851048``,
    ``+38851048``, ``3.8851048E7``, ``38851048.0``), or None."""
    number = text.strip(" \x00+")
    if number.isdigit():
        return number
    try:
        value = float(number)
    except ValueError:
        return None
    return str(int(value)) if value.is_integer() and 1e6 <= value < 1e15 else None


def _searchable(text: str) -> bool:
    plain = norm_text(text).replace(" ", "")
    if len(plain) < 3:
        return False
    if plain.replace(".", "").isdigit() and len(plain) < 5:
        return False
    return True


def sweeper_for(checks: Iterable[Check]) -> Sweeper:
    """An empty sweeper that knows what the key keeps (values it must not search)."""
    sweeper = Sweeper()
    for c in checks:
        if c.action in _RETAINING:
            sweeper.keep(c)
    return sweeper


def build_sweeper(entries: Iterable[LedgerEntry], checks: Iterable[Check]) -> Sweeper:
    """Index every sweepable PHI value of the ledger, minus what the key says must be kept."""
    sweeper = sweeper_for(checks)
    for e in entries:
        sweeper.add_entry(e)
    sweeper.freeze()
    return sweeper


def _index_entry(sweeper: Sweeper, e: LedgerEntry) -> None:
    value = e.value.strip()
    if e.vr == "UI" or e.channel == "uid" or e.kind.endswith("_uid"):
        sweeper.uids.add(value, e.kind, e.phi_class, e.patient_id)
        return
    date = dicom_date(value) if (e.vr in ("DA", "DT") or "date" in e.kind) else None
    if date is not None:
        sweeper.dates[date] = sweeper._add(f"d:{date.isoformat()}", value, e.kind, e.patient_id,
                                             e.phi_class)
        return
    if is_person_name(e):
        comps = name_components(value, 3)
        for comp in comps:
            sweeper.add_words(comp, e.kind, e.patient_id, e.phi_class, value)
            sweeper.name_parts.add("w:" + comp)
            others = {w for c in comps if c != comp for w in words(c)}
            if others:
                sweeper.partners.setdefault("w:" + comp, set()).update(others)
        _index_short_parts(sweeper, e, value, comps)
        if len(comps) >= 2 and comps[0].isalpha() and comps[1].isalpha():
            for joined in (comps[0] + comps[1], comps[1] + comps[0]):   # ArellanoEmily, EMILYARELLANO
                sweeper.add_words(joined, e.kind, e.patient_id, e.phi_class, value)
        return
    for part in value.split("\\"):
        if _searchable(part):
            sweeper.add_words(part, e.kind, e.patient_id, e.phi_class)
            if "address" in e.kind:
                for piece in _address_parts(part):
                    sweeper.add_words(piece, e.kind, e.patient_id, e.phi_class, part)
            if (digits := id_digits(part)) is not None:
                sweeper.add_words(digits, e.kind, e.patient_id, e.phi_class, part)
            elif (local := _email_local_part(part)) is not None:
                sweeper.add_words(local, e.kind, e.patient_id, e.phi_class, part)   # samuelkirk
            elif _DIGITS_WITH_SEPARATORS.fullmatch(part.strip()) and len(
                    digits := "".join(_DIGITS.findall(part))) >= 7 and digits != part.strip():
                sweeper.add_words(digits, e.kind, e.patient_id, e.phi_class, part)   # 4000823654


def _index_short_parts(sweeper: Sweeper, e: LedgerEntry, value: str, long: list[str]) -> None:
    """Two-letter name parts (``LI^NA``, ``WU``, ``NG``, ``LE``), found only beside another part
    of the same name, in any case: alone they are prose (``NA``, ``LI``, ``DO``). Beside a part
    of three letters or more where the name has one (``DE LA CRUZ``: ``de la`` is French and
    Spanish prose, ``la cruz`` is the name), beside each other where it has none."""
    short = [c for c in name_components(value, 2) if len(c) == 2 and c.isalpha()]
    if not short:
        return
    long_words = {w for c in long for w in words(c)}
    for comp in short:
        partners = long_words or {w for c in short if c != comp for w in words(c)}
        if not partners:
            continue   # a lone two-letter name: nothing tells it from prose
        sweeper.add_words(comp, e.kind, e.patient_id, e.phi_class, value)
        key = "w:" + " ".join(words(comp))
        sweeper.name_parts.add(key)
        sweeper.short_parts.add(key)
        sweeper.partners.setdefault(key, set()).update(partners)


_PREFIXED_ID = re.compile(r"[A-Za-z]{1,6}[-_ #:]?(\d{6,})")


def _address_parts(address: str) -> list[str]:
    """The lines of an address written on one line (``443 Mcdaniel Stream``, ``New
    Melissamouth``, ``WA 85385``): each names the place alone (HIPAA counts the street, the
    city and the ZIP code). A line of one short word (``Apt``) is left to the whole value."""
    pieces = [p.strip() for p in address.split(",")]
    if len(pieces) < 2:
        return []
    return [p for p in pieces if _searchable(p) and (len(words(p)) >= 2 or len(p) >= 8)]


_EMAIL = re.compile(r"([A-Za-z0-9._%+-]+)@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _email_local_part(value: str) -> str | None:
    """The part before the ``@`` of an e-mail address of 6+ letters or digits (``samuelkirk``):
    the account names the person wherever the domain went (``samuelkirk at gmail``). Shorter
    or dotted parts (``jd``, ``john.doe``) are left to the name and whole-value searches."""
    m = _EMAIL.fullmatch(value.strip())
    if m is None or not m.group(1).isalnum() or len(m.group(1)) < 6:
        return None
    return m.group(1)


def id_digits(value: str) -> str | None:
    """The digit run of an identifier written as a short letter prefix and >= 6 digits
    (``MRN38851048`` -> ``38851048``), or None: a tool that strips the prefix keeps the identifier."""
    m = _PREFIXED_ID.fullmatch(value.strip())
    return m.group(1) if m else None


def is_person_name(e: LedgerEntry) -> bool:
    """Only person names are searched part by part: a station name ``VARIAN-TPS2`` is not a
    person, and its part ``varian`` inside the retained Manufacturer ``Varian Medical Systems``
    is no leak (such a hit would fail every correct de-identifier, which must keep it)."""
    return e.vr == "PN" or e.phi_class == "names"


def relevant_hits(hits: list[tuple[str, str, str]], sweeper: Sweeper,
                  patient: str | None) -> list[tuple[str, str, str]]:
    """Hits that count against an output matched to ``patient`` (None: unmatched; another
    patient's value only when :func:`_unmistakable`), de-duplicated."""
    seen: set[tuple[str, str]] = set()
    found_parts: dict[tuple[str, str], set[str]] = {}
    kept = []
    for nid, where, text in hits:
        needle = sweeper.needle(nid)
        if needle is None or (patient is not None and patient not in needle.patients
                              and not _unmistakable(nid, needle)):
            continue   # another patient's name or date may be met by chance (a dummy, a shift)
        if patient is None and not _unmistakable(nid, needle) and norm_text(needle.whole) in sweeper.kept_texts:
            continue   # in an output of no known patient, a value some patient keeps (a tar of
            # correct outputs holds one patient's retained ethnic group WHITE, another's maiden name)
        found_parts.setdefault((needle.whole, where), set()).add(needle.text.lower())
        kept.append((nid, where, text, needle))
    out = []
    places = _Places(found_parts)
    for nid, where, text, needle in kept:
        key = (needle.whole, where)
        if key in seen or (nid in sweeper.name_parts and not _identifies(needle, found_parts[key], text)):
            continue
        if nid in sweeper.name_parts and places.within_other_name(needle, where):
            continue
        seen.add(key)  # one row per value and place (not per name part)
        out.append((nid, where, text))
    return out


class _Places:
    """The names found at each place, by two or more parts or one: what
    :meth:`within_other_name` compares, gathered once per output (it was rebuilt per hit, which
    made an output that kept every name quadratic in its hits)."""

    def __init__(self, found: dict[tuple[str, str], set[str]]) -> None:
        self.parts: dict[str, set[str]] = {}
        self.wholes: dict[str, list[str]] = {}
        for (whole, where), parts in found.items():
            self.parts.setdefault(where, set()).update(parts)
            self.wholes.setdefault(where, []).append(whole)

    def within_other_name(self, needle: Needle, where: str) -> bool:
        """True when this name part's own value (``PARK``, planted alone somewhere) is only
        part of another name found at the same place by two or more parts (``PARK^SCOTT``): a
        needle's text belongs to the first value planted with it, so one name found once made
        two rows."""
        mine = set(name_components(needle.whole, 1))
        here = self.parts.get(where, set())
        for whole in self.wholes.get(where, ()):
            if whole != needle.whole:
                theirs = set(name_components(whole, 1))
                if mine < theirs and len(here & theirs) >= 2:
                    return True
        return False


_DIGITS7 = re.compile(r"\d{7}")
#: a part of a dotted number led by a zero: no UID has one (PS3.5 9.1)
_ZERO_LED = re.compile(r"(?:^|\.)0\d")
#: a whole value that is a dotted date (three parts, the year first or last), not a UID
_DOTTED_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.(?:(?:19|20)\d\d|\d\d)|(?:19|20)\d\d\.\d{1,2}\.\d{1,2}"
                          r"|\d{3}\.\d{3}\.\d{4}")   # 11.22.14, 1939.03.04, a phone 801.441.1093


_UNREAD_NEEDLE = Needle("", "content not read", "other", (), "")


def _unmistakable(nid: str, needle: Needle) -> bool:
    """A value no tool writes by chance: a UID, an identifier with a run of 7+ digits (an MRN,
    a long accession number), a whole address or e-mail. Such a value of another patient in this output is a
    leak; another patient's name (a de-identifier's random dummy may be ``WARNER``) or date (a
    shifted date may land on it) is not counted against this one."""
    return (nid.startswith(UID_PREFIX) or nid == UNREAD
            or (not nid.startswith("d:") and bool(_DIGITS7.search(needle.text)))
            or (needle.text == needle.whole and any(k in needle.kind for k in _WHOLE_KINDS)
                and len(words(needle.text)) >= 3))


#: kinds whose whole value (not a line or a part of it) no tool writes by chance: another
#: patient's full address or e-mail in this output is theirs, leaked (a patients' swap scored 99.8 %)
_WHOLE_KINDS = ("address", "email")


def _identifies(needle: Needle, found: set[str], text: str) -> bool:
    """A name is identified by two of its parts, or one part plus another part's initial
    (``DOE, J``); a lone family name is not enough where the name has more parts: a tool's
    random replacement ``BROWN^VIOLET`` for ``BROWN^DEBRA^F`` shares a common surname by chance.
    (Only called for name parts: other values are searched whole.)"""
    parts = name_components(needle.whole, 1)
    long_parts = {p for p in parts if len(p) >= 3}
    if len(found) >= 2 or len(long_parts) <= 1:
        return True
    tokens = set(words(text))  # any case here: "john DOE" is two parts of DOE^JOHN
    others = [p for p in parts if p not in found]
    return any(p in tokens or p[0] in tokens for p in others)


def scan_file_name(sweeper: Sweeper, rel: str) -> list[tuple[str, str, str]]:
    """Hits in an output's relative path (folder and file names), where = 'file name'."""
    text = rel.replace("/", " ").replace("_", " ")
    return [(nid, "file name", rel) for nid, _ in sweeper(text, "", "file name")]


def covered(needle: Needle, expected: list[str]) -> bool:
    """True if a key check at the same place already judges this value (no double counting).

    Only the same value counts: a birth date moved into PatientName is still a sweep hit,
    even though PatientName has its own check (for the name).
    """
    return _covered(needle.text, tuple(expected))


@lru_cache(maxsize=1 << 13)
def _covered(found: str, expected: tuple[str, ...]) -> bool:
    """:func:`covered` on plain strings, memoised: the same values meet at the same places in
    every instance of a series."""
    wanted = set(words(found))  # the part actually found (a name component for names)
    date = dicom_date(found)
    for text in expected:
        if wanted and wanted <= set(words(text)):
            return True
        if date is not None and (dicom_date(text) == date or date in dates_in(text)):
            return True
    return False
