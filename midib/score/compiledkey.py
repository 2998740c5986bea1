"""A work unit's checks "compiled": parsed once into the columns the judging loop reads.

Judging a unit used to cost ~27 us per check beyond reading the outputs: parsing ~800 bytes
of JSON per check, reconciling text_cleaned expectations, then for every check deriving the
same things again (generic and concrete path, memo key, results text of ``expected``,
attribute, ~20 attribute reads for the row). None of that depends on the run being scored,
only on the key's bytes, so a unit is compiled once into columns (:class:`CompiledUnit`) and
the columns are pickled in the user's cache (:mod:`midib.cache`'s folder, keyed like its
entries on the key file's path, size, mtime and midib's code digest): the next score of any
run against the same key unpickles ~270 bytes per check instead of parsing ~800 of JSON
(~3 us instead of ~8; the cache holds about a third of the key's size). A compiled unit
is also what the fused judging loop of :mod:`midib.score.checkunits` walks, so keys that are
not cached (``--profile``, ungrouped keys, cache off) are compiled in memory the same way.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections import defaultdict, namedtuple
from dataclasses import replace
from functools import lru_cache, partial
from operator import itemgetter
from pathlib import Path
from sys import intern
from typing import NamedTuple, Optional

from midib import cache
from midib.answer_key import Check
from midib.score import keyfacts
from midib.score.checks import expectation_key
from midib.score.observation import generic_key
from midib.score.rows import attribute_of, expected_text
from midib.score.uids import concrete_key
from midib.score.values import words

#: the Check's fields, in order (a compiled unit keeps one column per field)
FIELDS = tuple(Check.__dataclass_fields__)
_SHARED = frozenset(FIELDS) - {"id", "expected", "weight", "ledger_ids"}   # repeated strings
_FIELD_VALUES = itemgetter(*FIELDS)
#: results columns a compiled unit holds ready-made, by results column -> unit column
ROW_COLUMNS = {"check_id": "id", "instance": "instance", "patient_id": "patient_id",
               "study_uid": "study_uid", "series_uid": "series_uid", "modality": "modality",
               "scope": "scope", "action": "action", "path": "path_text", "attribute": "attribute",
               "tag_name": "tag_name", "category": "category", "hipaa_class": "hipaa_class",
               "ps315_action": "ps315_action_text", "ps315_option": "ps315_option_text",
               "iod_type": "iod_type_text", "weight": "weight_float", "expected": "expected_text"}
#: compiled units of this many keys (versions of key files or of midib) are kept in the cache
KEEP_KEYS = 2


#: A check as a tuple with the :class:`Check`'s field names (made from them, so the two never
#: drift apart): what the per-instance rules read of an instance's checks (attributes only),
#: several times cheaper to make than a Check from columns (every instance's checks go to the
#: rules, only some to check functions).
KeyCheck = namedtuple("KeyCheck", FIELDS)
_new_key_check = partial(tuple.__new__, KeyCheck)   # KeyCheck._make without a Python frame
#: fields kept only in a derived column (the weight as a float: one column fewer to unpickle)
_STORED = {"weight": "weight_float"}


class CompiledUnit(NamedTuple):
    """One unit's checks as columns (name -> list, one entry per check, key order).

    Columns: every :data:`FIELDS` (``expected`` reconciled), the ready results columns of
    :data:`ROW_COLUMNS`, and what the judging loop derives from a check alone: ``generic``
    (generic key of the path, None without one), ``concrete`` (the concrete key elements must
    match, None for ``[*]`` paths and none), ``prefix``
    (:func:`~midib.score.checks.expectation_key`: the memo key minus the function and the
    observed values, None when not memoised). ``bounds`` are each instance's [start, end) rows.
    """

    columns: dict[str, list]
    bounds: list[tuple[int, int]]

    def __len__(self) -> int:  # type: ignore[override]
        return len(self.columns["id"])

    def checks(self, start: int, end: int) -> list[KeyCheck]:
        """The checks of rows [start, end) as :class:`KeyCheck` tuples."""
        cols = [self.columns[_STORED.get(f, f)][start:end] for f in FIELDS]
        return list(map(_new_key_check, zip(*cols)))

    def row_columns(self, start: int, end: int) -> dict[str, list]:
        """The results columns of rows [start, end) that depend on the check alone."""
        return {name: self.columns[src][start:end] for name, src in ROW_COLUMNS.items()}

    def field_columns(self) -> list[list]:
        """The columns of :data:`FIELDS`, in order (for :func:`make_check`)."""
        return [self.columns[_STORED.get(f, f)] for f in FIELDS]


def make_check(field_columns: list[list], i: int) -> Check:
    """Row ``i`` of a unit's :meth:`~CompiledUnit.field_columns` as a real :class:`Check` (what
    check functions are given), built like :func:`keyfacts._check`: its attribute dict set."""
    check = object.__new__(Check)
    check.__dict__ = dict(zip(FIELDS, [c[i] for c in field_columns]))
    return check


@lru_cache(maxsize=65536)
def path_keys(path: str) -> tuple[str, Optional[str]]:
    """(generic key, concrete key or None for ``[*]`` paths) of a check's path."""
    return generic_key(path), (None if "[*]" in path else concrete_key(path))


def compile_checks(checks: list[Check], shared: bool = False) -> CompiledUnit:
    """Compile checks grouped by instance (consecutive), reconciling each instance's
    text_cleaned expectations first. ``shared``: equal strings made one object (what a unit
    about to be pickled needs, to be written and read once per unit, not once per check)."""
    columns: dict[str, list] = {f: [] for f in FIELDS}
    bounds: list[tuple[int, int]] = []
    rows: list[tuple] = []
    for group in keyfacts.by_instance(checks, True):
        start = len(rows)
        rows += [_FIELD_VALUES(c.__dict__) for c in reconcile_cleaned(group)]
        bounds.append((start, len(rows)))
    for f, values in zip(FIELDS, zip(*rows) if rows else [()] * len(FIELDS)):
        columns[f] = _interned(values) if shared and f in _SHARED else list(values)
    _derive(columns)
    return CompiledUnit(columns, bounds)


def _interned(values: tuple) -> list:
    """The values with equal strings made one object: pickled once per unit, not per check."""
    try:
        return list(map(intern, values))   # the usual column: strings only, ~5x faster
    except TypeError:
        return [intern(v) if type(v) is str else v for v in values]


def _derive(columns: dict[str, list]) -> None:
    """Add the results and judging columns derived from the fields."""
    paths = columns["path"]
    columns["path_text"] = [p or "" for p in paths]
    columns["attribute"] = [attribute_of(p) for p in paths]
    for f in ("ps315_action", "ps315_option", "iod_type"):
        columns[f + "_text"] = [v or "" for v in columns[f]]
    columns["weight_float"] = [float(w) for w in columns.pop("weight")]
    columns["expected_text"] = [expected_text(e) for e in columns["expected"]]
    keys = [path_keys(p) if p else (None, None) for p in paths]
    columns["generic"] = [k[0] for k in keys]
    columns["concrete"] = [k[1] for k in keys]
    columns["prefix"] = [expectation_key(a, h, e, p) if p else None   # never memoised without a path
                         for a, h, e, p in zip(columns["action"], columns["hipaa_class"],
                                               columns["expected"], paths)]


def reconcile_cleaned(checks: list[Check]) -> list[Check]:
    """Free text holding several PHI fragments gets one text_cleaned check per fragment, each
    listing the other fragments as words to keep; a word some check wants removed from the same
    element cannot also be required, so it is dropped from the ``retained`` lists. Only the
    elements some text_cleaned check judges are looked at (a few per instance)."""
    cleaned = {(c.instance, c.path) for c in checks if c.action == "text_cleaned" and c.path}
    if not cleaned:
        return checks
    removed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in checks:
        if (c.instance, c.path) in cleaned and c.action in ("text_cleaned", "text_removed"):
            frags = c.expected.get("removed") or [c.expected.get("value", "")]
            removed[(c.instance, c.path)].update(w for f in frags for w in words(str(f)))
    return [_kept(c, removed[(c.instance, c.path)]) if c.action == "text_cleaned" and c.path else c
            for c in checks]


def _kept(check: Check, gone: set[str]) -> Check:
    """``check`` without the retained words that are also removed from its element."""
    retained = check.expected.get("retained", [])
    kept = [w for w in retained if not set(words(str(w))) & gone]
    if len(kept) == len(retained):
        return check
    return replace(check, expected={**check.expected, "retained": kept})


def load_unit(key: Path, span: tuple[int, int]) -> CompiledUnit:
    """The compiled checks of bytes [start, end) of the key file: from the user's cache when an
    earlier score compiled them, else parsed, compiled and stored there (best effort)."""
    entry = _entry(key, span)
    if entry is not None:
        try:  # the bytes first: pickle.load on a file object reads in small pieces, ~10x slower
            found = pickle.loads(entry.read_bytes())
            if isinstance(found, CompiledUnit):
                return found
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError,
                ValueError, IndexError, KeyError):
            pass
    unit = compile_checks(list(keyfacts.read_span(key, span)), shared=entry is not None)
    if entry is not None:
        _store(entry, unit)
    return unit


def _entry(key: Path, span: tuple[int, int]) -> Optional[Path]:
    """Where the unit's pickle lives: one folder per key version, one file per unit."""
    folder = cache.cache_dir()
    if folder is None:
        return None
    try:
        name = cache.file_key("score-units", key)
    except OSError:
        return None
    return folder / f"score-units-{name}" / f"{span[0]}-{span[1]}.pkl"


def _store(entry: Path, unit: CompiledUnit) -> None:
    """Atomic write (temp file + rename): parallel workers and scorers never read half a unit.
    A new key folder prunes the oldest beyond :data:`KEEP_KEYS`."""
    try:
        if not entry.parent.is_dir():
            entry.parent.mkdir(parents=True, exist_ok=True)
            _prune(entry.parent.parent)
        fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(unit, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
    except OSError:
        return


def _prune(folder: Path) -> None:
    try:
        found = sorted(folder.glob("score-units-*"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in found[:-KEEP_KEYS]:
        shutil.rmtree(old, ignore_errors=True)
