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
from typing import Callable, Optional

from midib.answer_key import Check
from midib.score.observation import Element, OutputRecord
from midib.score.verdict import Verdict


@dataclass
class IdMaps:
    """old -> new identifiers as the run revealed them (mapping CSVs) or as matching derived them."""

    uid: dict[str, set[str]] = field(default_factory=dict)
    patid: dict[str, set[str]] = field(default_factory=dict)
    primary: dict[str, set[str]] = field(default_factory=dict)   # from SOP/series/study/FoR UIDs only
    source: str = "derived"          # "mapping" when read from the run's CSVs


@dataclass
class Observed:
    """What the matched output held for one check."""

    elements: list[Element]                      # at the check's path (empty: absent)
    record: Optional[OutputRecord] = None        # the whole output record (None: unmatched)
    maps: IdMaps = field(default_factory=IdMaps)
    precomputed: Optional[Verdict] = None        # pixel verdicts computed in batch
    lookup: Callable[[str], Optional[OutputRecord]] = lambda instance: None  # other instances

    @property
    def values(self) -> list[str]:
        return [v for e in self.elements for v in e.values]

    @property
    def vr(self) -> Optional[str]:
        return self.elements[0].vr if self.elements else None

    def shown(self) -> str:
        """The observed values as one line for the results table."""
        return "\\".join(self.values)[:500]


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
    """Run the check of ``check.action``; unknown actions and exceptions become failures."""
    fn = load_families().get(check.action)
    if fn is None:
        return Verdict.fail(f"unknown action {check.action!r}: no check registered")
    try:
        return fn(check, observed)
    except Exception as e:  # a broken check must fail visibly, never vanish
        return Verdict.fail(f"check raised {type(e).__name__}: {e}", observed.shown())


def name_vr(check: Check, observed: Observed) -> Optional[str]:
    """The VR to compare as: PN for names wherever they sit (free text, private, UN)."""
    if check.hipaa_class == "names" and observed.vr in (None, "UN", "LO", "LT", "ST", "UT", "SH", "OB"):
        return "PN"
    return observed.vr
