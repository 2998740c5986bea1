"""The check registry: one small pure function per answer-key action.

A check function takes the :class:`~midib.answer_key.Check` and what the output showed
(:class:`Observed`) and returns a :class:`~midib.score.verdict.Verdict`. Functions are
registered by action name with :func:`register`; :func:`evaluate` is the only way the scorer
calls them, so an exception inside a check becomes a failed check carrying the error (the
official scorer's bare ``except:`` left such checks unscored, silently).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from collections.abc import Collection
from typing import Any, Callable, Hashable, Optional

from midib.answer_key import Check
from midib.score.observation import Element, OutputRecord
from midib.score.verdict import Verdict


@dataclass
class IdMaps:
    """old -> new identifiers as the run revealed them (mapping CSVs) or as matching derived them."""

    # values: the new identifiers seen for one old one (a tuple where derived: one per UID of
    # the benchmark, so a 48-byte tuple instead of a 216-byte set saves ~9 MB per 10,000 instances)
    uid: dict[str, Collection[str]] = field(default_factory=dict)
    patid: dict[str, Collection[str]] = field(default_factory=dict)
    primary: dict[str, Collection[str]] = field(default_factory=dict)   # SOP/series/study UIDs only
    source: str = "derived"          # "mapping" when read from the run's CSVs


def link(mapping: dict[str, Collection[str]], old: str, new: str) -> None:
    """Note ``old -> new`` in ``mapping`` (old -> tuple of its distinct new values, in order)."""
    found = mapping.get(old)
    if found is None:
        mapping[old] = (new,)
    elif new not in found:
        mapping[old] = (*found, new)


class Observed:
    """What the matched output held for one check.

    A plain class with slots, not a dataclass: one is built per check (~300,000 for ``small``),
    and ``values`` is read several times by a check, so it is computed once, on first use.
    """

    __slots__ = ("elements", "record", "maps", "precomputed", "lookup", "_values")

    def __init__(self, elements: list[Element], record: Optional[OutputRecord] = None,
                 maps: Optional[IdMaps] = None, precomputed: Optional[Verdict] = None,
                 lookup: Optional[Callable[[str], Optional[OutputRecord]]] = None) -> None:
        self.elements = elements                  # at the check's path (empty: absent)
        self.record = record                      # the whole output record (None: unmatched)
        self.maps = maps if maps is not None else IdMaps()
        self.precomputed = precomputed            # pixel verdicts computed in batch
        self.lookup = lookup if lookup is not None else _no_lookup   # other instances
        self._values: Optional[list[str]] = None

    @property
    def values(self) -> list[str]:
        if self._values is None:
            self._values = [v for e in self.elements for v in e.values]
        return self._values

    @property
    def vr(self) -> Optional[str]:
        return self.elements[0].vr if self.elements else None

    def shown(self) -> str:
        """The observed values as one line for the results table."""
        return "\\".join(self.values)[:500]


def _no_lookup(instance: str) -> Optional[OutputRecord]:
    return None


CheckFunction = Callable[[Check, Observed], Verdict]
REGISTRY: dict[str, CheckFunction] = {}
_FAMILIES = ("text", "dates", "uids", "deid", "pixels")
_LOADED: list[bool] = []


def register(action: str) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator: make ``fn`` the check of ``action``."""
    def wrap(fn: CheckFunction) -> CheckFunction:
        REGISTRY[action] = fn
        return fn
    return wrap


def load_families() -> dict[str, CheckFunction]:
    """Import every family module (each registers its actions) and return the registry."""
    if not _LOADED:
        for family in _FAMILIES:
            importlib.import_module(f"midib.score.checks.{family}")
        _LOADED.append(True)
    return REGISTRY


def evaluate(check: Check, observed: Observed) -> Verdict:
    """Run the check of ``check.action``; unknown actions and exceptions become failures.

    Verdicts of the pure actions are memoised (see :func:`memo_key`): the same expectation
    meets the same observed values in every instance of a series, and a hit costs a dict look-up
    instead of a comparison by VR.
    """
    fn = (REGISTRY if _LOADED else load_families()).get(check.action)
    if fn is None:
        return Verdict.fail(f"unknown action {check.action!r}: no check registered")
    try:
        key = memo_key(check, observed, fn)
        found = _MEMO.get(key) if key is not None else None
    except (TypeError, IndexError, AttributeError):  # unhashable or odd shapes: compute instead
        key = None
    if key is None:
        return _run(fn, check, observed)
    if found is None:
        if len(_MEMO) >= MEMO_SIZE:
            _MEMO.clear()
        found = _MEMO[key] = _run(fn, check, observed)
    return found


def evaluate_uncached(check: Check, observed: Observed) -> Verdict:
    """:func:`evaluate` without the memo (the reference the memo is tested against)."""
    fn = load_families().get(check.action)
    if fn is None:
        return Verdict.fail(f"unknown action {check.action!r}: no check registered")
    return _run(fn, check, observed)


def _run(fn: CheckFunction, check: Check, observed: Observed) -> Verdict:
    try:
        return fn(check, observed)
    except Exception as e:  # a broken check must fail visibly, never vanish
        return Verdict.fail(f"check raised {type(e).__name__}: {e}", observed.shown())


#: actions whose verdict depends only on the action, ``expected``, ``hipaa_class`` and the
#: observed elements' VRs and values (not on the record, the maps, other instances or pixels)
PURE_ACTIONS = frozenset({"text_removed", "text_retained", "tag_retained", "text_notnull",
                          "text_cleaned", "date_shifted", "uid_changed"})
#: pure actions whose verdict on a UID inside a sequence reads the path (see expectation_key)
_UID_IN_SEQUENCE = frozenset({"uid_changed"})
MEMO_SIZE = 10_000  # ~4 MB at most; checks stream series by series, so a clear costs little
_MEMO: dict[Hashable, Verdict] = {}


def memo_key(check: Check, observed: Observed, fn: Optional[CheckFunction] = None) -> Optional[Hashable]:
    """Everything a pure check reads, as a hashable key; None when the verdict must be computed.

    A file-name check (text_removed without a path) reads the record's file name: never memoised.
    Element paths are left out on purpose: no memoised check reads them. ``fn`` (the registered
    function) is part of the key, so re-registering an action never returns stale verdicts.
    """
    if check.path is None:
        return None
    prefix = memo_prefix(check, fn)
    if prefix is None:
        return None
    els = observed.elements
    if len(els) == 1:  # the common case, without building a list
        e = els[0]
        return prefix + (((e[1], e[2]),),)
    return prefix + (tuple([(e[1], e[2]) for e in els]),)


def memo_prefix(check: Check, fn: Optional[CheckFunction]) -> Optional[tuple]:
    """The part of :func:`memo_key` that depends on the check alone (function, action, HIPAA
    class, frozen expectation), or None when the action is not memoised: what the scorer's
    fused loop (:mod:`midib.score.compiledkey`) computes once per check before the elements."""
    found = expectation_key(check.action, check.hipaa_class, check.expected, check.path)
    return (fn,) + found if found is not None else None


def expectation_key(action: str, hipaa_class: str, expected: Any,
                    path: Optional[str] = None) -> Optional[tuple]:
    """(action, HIPAA class, frozen expectation) of a memoised action, else None: the part of
    :func:`memo_key` a compiled key unit can keep (functions are not pickled). A UID inside a
    sequence is not memoised: whether its absence passes depends on the enclosing sequence
    (``uids.removable_parent``), and paths are not part of the key."""
    if action not in PURE_ACTIONS or (path is not None and action in _UID_IN_SEQUENCE and "[" in path):
        return None
    if type(expected) is dict and len(expected) == 1 and type(expected.get("value")) is str:
        frozen: Hashable = expected["value"]
    else:
        frozen = _freeze(expected)
        if frozen is None:
            return None
    return (action, hipaa_class, frozen)


def memo_get(key: Hashable) -> Optional[Verdict]:
    """The memoised verdict of a :func:`memo_key`, or None (a hit is exactly what
    :func:`evaluate` would return for that key)."""
    return _MEMO.get(key)


def _freeze(value: Any) -> Optional[Hashable]:
    """A hashable, type-preserving image of a JSON value (None if it holds something else)."""
    if isinstance(value, dict):
        items = []
        for k in sorted(value):
            v = _freeze(value[k])
            if v is None and value[k] is not None:
                return None
            items.append((k, v))
        return ("d", tuple(items))
    if isinstance(value, (list, tuple)):
        items = [_freeze(v) for v in value]
        if any(f is None and v is not None for f, v in zip(items, value)):
            return None
        return ("l", tuple(items))
    if value is None or isinstance(value, (str, int, float, bool)):
        return (type(value).__name__, value)
    return None


def clear_memo() -> None:
    """Forget every memoised verdict (tests; a new scoring run need not, keys are complete)."""
    _MEMO.clear()


def name_vr(check: Check, observed: Observed) -> Optional[str]:
    """The VR to compare as: PN for names wherever they sit (free text, private, UN)."""
    if check.hipaa_class == "names" and observed.vr in (None, "UN", "LO", "LT", "ST", "UT", "SH", "OB"):
        return "PN"
    return observed.vr
