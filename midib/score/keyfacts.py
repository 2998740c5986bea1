"""The answer key, streamed: a first pass for facts, a second pass instance by instance.

A `small` key holds ~300,000 checks (~600 MB as objects); `midi-b` size, fifty times more.
Scoring never needs them all at once: a first pass gathers the few facts that span checks
(which attributes to read, the pixel checks and PHI boxes, what the key keeps, who each instance and patient
is, for row metadata), and a second pass yields the checks of one instance at a time
(keys are written instance by instance). A key that is not grouped by instance is read into
memory and grouped (correct, just not flat in memory).
"""

from __future__ import annotations

import json

try:  # the key is the biggest file scoring reads (~300,000 lines for `small`)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from sys import intern
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Optional

from midib.answer_key import Check, read_key_header
from midib.errors import MidibError
from midib.score import deid
from midib.score.matching import FEATURE_PATHS
from midib.score.observation import generic_key
from midib.score.pixelstage import PIXEL_ACTIONS

_RETAINING = ("text_retained", "tag_retained")


class InstanceFacts(NamedTuple):
    """Who an instance is (what rule rows copy from "any check of the same instance").

    Kept for every instance of the key, so it is a small tuple of shared strings, not a
    :class:`Check` (a `midi-b` key has 54,000 instances).
    """

    instance: str
    file: str                     # the source file, relative to the benchmark's input folder
    patient_id: str
    study_uid: str
    series_uid: str
    modality: str


class PixelCheck(NamedTuple):
    """What the pixel phase reads of a pixel check (a third of a :class:`Check`'s memory)."""

    id: str
    instance: str
    file: str
    action: str
    expected: dict


def instance_facts(rec: dict) -> InstanceFacts:
    return InstanceFacts(intern(rec["instance"]), rec.get("file") or "", intern(rec.get("patient_id") or ""),
                         intern(rec.get("study_uid") or ""), intern(rec.get("series_uid") or ""),
                         intern(rec.get("modality") or ""))


@dataclass
class KeyFacts:
    """What spans checks, gathered in one pass."""

    count: int = 0
    first: dict[str, InstanceFacts] = field(default_factory=dict)    # instance -> who it is (on disk once indexed)
    first_of_patient: dict[str, InstanceFacts] = field(default_factory=dict)
    wanted: set[str] = field(default_factory=set)                    # generic paths to read
    pixel_checks: dict[str, list[PixelCheck]] = field(default_factory=dict)  # judged before the units
    boxes: dict[str, list[list[int]]] = field(default_factory=dict)  # PHI boxes per instance
    grouped: bool = True                                             # checks contiguous per instance
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # instance -> key file bytes
    refs: set[str] = field(default_factory=set)                      # generic paths other checks read

    def sources(self, input_dir: Path) -> "SourcePaths":
        return SourcePaths(input_dir, self.first)


class SourcePaths(Mapping[str, Path]):
    """instance -> its source file, made on access from :attr:`KeyFacts.first` (which already
    holds the relative names): a dict of Paths kept for the whole score cost ~300 bytes an
    instance (3 MB per 10,000), for files most scores open only to compare pixels."""

    def __init__(self, input_dir: Path, first: Mapping[str, InstanceFacts]) -> None:
        self.input_dir, self.first = input_dir, first
        self._len: Optional[int] = None

    def __getitem__(self, instance: str) -> Path:
        facts = self.first[instance]
        if not facts.file:
            raise KeyError(instance)
        return self.input_dir / facts.file

    def __contains__(self, instance: object) -> bool:
        facts = self.first.get(instance)  # type: ignore[call-overload]
        return facts is not None and bool(facts.file)

    def __iter__(self) -> Iterator[str]:
        return (i for i, facts in self.first.items() if facts.file)

    def __len__(self) -> int:
        if self._len is None:
            self._len = sum(1 for _ in self)
        return self._len


def gather(records: Iterable[dict], on_retained: Callable[[Check], None],
           spans: Optional[dict[str, tuple[int, int]]] = None,
           tables: Optional[dict[str, Any]] = None) -> KeyFacts:
    """Pass 1 over raw key records (Check objects are built only where kept).

    ``on_retained`` sees every retention check (the sweep must not search those values).
    ``spans`` is filled by :func:`raw_records` as it reads (byte range of each instance's
    checks), so workers can later read their own slice of the key. ``tables``: where the
    per-instance facts go instead of dicts (``first``, ``boxes``, ``pixel_checks``: e.g.
    :class:`midib.score.diskmap.Spool` tables written as the key is read).
    """
    facts = KeyFacts(wanted=set(FEATURE_PATHS) | set(deid.DEID_PATHS),
                     spans=spans if spans is not None else {}, **(tables or {}))
    previous: Optional[str] = None
    for rec in records:
        facts.count += 1
        instance, path, action = rec["instance"], rec.get("path"), rec["action"]
        if instance != previous:
            if instance in facts.first:
                facts.grouped = False
            else:
                facts.first[instance] = instance_facts(rec)
            previous = instance
        if rec["patient_id"] not in facts.first_of_patient:
            facts.first_of_patient[rec["patient_id"]] = instance_facts(rec)
        if path:
            facts.wanted.add(generic_key(path))
        expected = rec.get("expected") or {}
        if action == "date_interval" and expected.get("reference_path"):
            for ref in (expected["reference_path"], expected.get("reference_time_path")):
                if ref:
                    facts.refs.add(generic_key(ref))
                    facts.wanted.add(generic_key(ref))
        if action in PIXEL_ACTIONS:
            c = _check(rec)
            facts.pixel_checks.setdefault(intern(c.instance), []).append(
                PixelCheck(c.id, intern(c.instance), c.file, c.action, c.expected))
            _add_boxes(facts.boxes, c)
        if action in _RETAINING:
            on_retained(_check(rec))
    return facts


def _check(rec: dict) -> Check:
    """A Check from a parsed key record. A record with exactly the Check's fields (every key
    midib writes) becomes the object's attribute dict as it is: a third of the cost of
    ``Check(**rec)``, which mattered at 300,000 checks per `small` key."""
    if rec.keys() == _FIELDS:
        check = object.__new__(Check)
        check.__dict__ = rec
        return check
    return Check(**rec) if rec.keys() <= _FIELDS else Check.from_dict(rec)


def _add_boxes(boxes: dict[str, list[list[int]]], c: Check) -> None:
    if c.action == "pixels_hidden" and c.expected.get("box"):
        boxes.setdefault(c.instance, []).append(list(c.expected["box"]))
    elif c.action == "pixels_retained":
        boxes.setdefault(c.instance, []).extend(list(b) for b in c.expected.get("boxes", []))


def by_instance(checks: Iterable[Check], grouped: bool) -> Iterator[list[Check]]:
    """Pass 2: the checks of one instance at a time, in key order.

    A key not grouped by instance is held whole here, so a check ID repeated anywhere in an
    instance's checks is refused (a grouped key's repeats were refused by :func:`raw_records`).
    """
    if not grouped:
        groups: dict[str, list[Check]] = defaultdict(list)
        ids: dict[str, set[str]] = defaultdict(set)
        for c in checks:
            if c.id in ids[c.instance]:
                raise MidibError(f"the answer key lists check ID {c.id!r} twice for instance {c.instance!r}")
            ids[c.instance].add(c.id)
            groups[c.instance].append(c)
        del ids
        yield from groups.values()
        return
    group: list[Check] = []
    for c in checks:
        if group and c.instance != group[0].instance:
            yield group
            group = []
        group.append(c)
    if group:
        yield group


def key_source(path: Path, spans: Optional[dict[str, tuple[int, int]]] = None
               ) -> tuple[Callable[[], Iterator[Check]], Callable[[], Iterator[dict]]]:
    """Re-iterable streams of the key file: checks, and raw records (for :func:`gather`, which
    also notes each instance's byte range in ``spans``)."""
    return (lambda: fast_checks(path)), (lambda: raw_records(path, spans))


_FIELDS = frozenset(Check.__dataclass_fields__)


def raw_records(path: Path, spans: Optional[dict[str, tuple[int, int]]] = None) -> Iterator[dict]:
    """The key file's records as dicts (format and version checked first); with ``spans``,
    instance -> (first byte, end byte) of its lines, valid when the key is grouped.

    A check ID twice in one instance's run of lines is refused (it gave two result rows with
    one ID). Only the current run's IDs are kept, so memory stays flat in the key's size; a
    repeat across instances is not looked for.
    """
    read_key_header(path)
    group: Optional[str] = None
    ids: set[str] = set()
    with path.open("rb") as f:
        offset = len(f.readline())
        for lineno, line in enumerate(f, start=2):
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            rec = _parse(line, path, lineno)
            instance, check_id = rec.get("instance"), rec.get("id")
            if instance != group:
                group = instance
                ids.clear()
            if isinstance(check_id, str):
                if check_id in ids:
                    raise MidibError(f"{path}:{lineno}: check ID {check_id!r} appears twice for "
                                     f"instance {instance!r}")
                ids.add(check_id)
            if spans is not None:
                inst = intern(rec["instance"])  # one copy shared with facts.first and the ledger's
                spans[inst] = (spans[inst][0] if inst in spans else start, offset)
            yield rec


def _parse(line: bytes, path: Path, lineno: int) -> dict:
    try:
        return _loads(line)
    except json.JSONDecodeError as e:
        raise MidibError(f"{path}:{lineno}: corrupt record ({e.msg})") from e


def read_span(path: Path, span: tuple[int, int]) -> Iterator[Check]:
    """The checks in bytes [start, end) of the key file (one work unit's instances)."""
    with path.open("rb") as f:
        f.seek(span[0])
        data = f.read(span[1] - span[0])
    for n, line in enumerate(data.splitlines()):
        if line.strip():
            yield _check(_parse(line, path, 0))


def fast_checks(path: Path) -> Iterator[Check]:
    """:func:`midib.answer_key.read_key`, minus its per-record field filtering when the record
    has exactly the known fields (the usual case; ~3x faster on 300,000 checks)."""
    return (_check(rec) for rec in raw_records(path))


def list_source(checks: list[Check]) -> tuple[Callable[[], Iterator[Check]], Callable[[], Iterator[dict]]]:
    """The same two streams over checks already in memory (re-derived under --profile)."""
    return (lambda: iter(checks)), (lambda: (c.to_dict() for c in checks))
