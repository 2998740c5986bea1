"""The answer key's checks judged in work units, in parallel, each worker reading its own slice.

After matching, everything a check needs beyond its own output file is known (which output
each instance became, the identifier maps, the pixel verdicts), so the key is cut into units
of consecutive instances of one series and each unit is judged where it runs: the worker
seeks to the unit's byte range of the key file (noted during the first pass,
:mod:`midib.score.keyfacts`), reads each instance's output file in full (the values every
check asks about, every UID, the leak sweep's hits: :class:`Judge`), evaluates the checks
(pixel checks take the verdicts of the pixel phase, :mod:`midib.score.pixelphase`) and
midib's per-instance rules, and returns one Arrow table of rows. The parent never holds those
full observations, only the small ones matching needed, so its memory does not grow with the
number of instances. Units are returned in key order (futures consumed in submission order),
so results are the same for any --jobs. The context is set before the pool starts; forked
workers inherit it without copying it through pickles.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator, Optional

import pyarrow as pa

from midib.answer_key import Check
from midib.score import keyfacts, workunits
from midib.score.checks import IdMaps, Observed, evaluate
from midib.score.matching import MatchResult
from midib.score.observation import OutputRecord, generic_key, observe
from midib.score.rows import RowBatch
from midib.score.uids import concrete_key
from midib.score.values import words
from midib.score.verdict import Verdict

#: instances per unit: large enough to amortise a task, small enough to keep memory flat
UNIT_INSTANCES = 48
_CONTEXT: dict[str, Any] = {}


@dataclass
class Judge:
    """Everything needed to turn one instance's checks into rows, wherever it runs."""

    root: Path                      # the run's output folder
    wanted: frozenset[str]          # generic paths some check, ledger entry or rule reads
    match: MatchResult              # instance -> its output's identifying record
    maps: IdMaps
    rules: Any                      # rules.InstanceRules
    precomputed: dict[str, Verdict]  # pixel verdicts, by check id (the pixel phase's)

    def rows(self, group: list[Check]) -> list[dict[str, Any]]:
        """Key rows then rule rows of the instance whose checks are ``group``, as dicts."""
        batch = RowBatch()
        self.add(group, batch)
        return batch.rows()

    def add(self, group: list[Check], batch: RowBatch) -> None:
        """Add the key rows then the rule rows of the instance whose checks are ``group``."""
        group = reconcile_cleaned(group)
        paired = self.match.pairs.get(group[0].instance)
        rec = self.observe(paired.file) if paired is not None else None
        verdicts = [self.verdict(c, rec) for c in group]
        batch.add_keys(group, verdicts, rec.file if rec is not None else "")
        if rec is not None:
            failed = {c.action for c, v in zip(group, verdicts) if not v.passed}
            batch.extend(self.rules.rows_for(group, failed, rec))

    def observe(self, rel: str) -> OutputRecord:
        """The output file read in full: wanted values, UIDs and the sweep's hits."""
        return observe(self.root / rel, rel, self.wanted, self.rules.sweeper)

    def verdict(self, check: Check, rec: Optional[OutputRecord]) -> Verdict:
        if rec is None:
            return Verdict.fail("no output matched")
        if rec.error:  # read fine for matching, not now (changed or removed meanwhile): never a pass
            return Verdict.fail(f"output {rec.file} could not be read again: {rec.error}")
        observed = Observed(elements_for(check, rec), rec, self.maps, self.precomputed.get(check.id),
                            lookup=self.match.pairs.get)
        return evaluate(check, observed)


def elements_for(check: Check, rec: OutputRecord) -> list:
    """The observed elements at the check's path (a concrete path selects its own item)."""
    if not check.path:
        return []
    found = rec.at(generic_key(check.path))
    if "[*]" in check.path:
        return found
    key = concrete_key(check.path)
    return [e for e in found if e.path == key]


def reconcile_cleaned(checks: list[Check]) -> list[Check]:
    """Free text holding several PHI fragments gets one text_cleaned check per fragment, each
    listing the other fragments as words to keep; a word some check wants removed from the same
    element cannot also be required, so it is dropped from the ``retained`` lists."""
    if not any(c.action == "text_cleaned" for c in checks):
        return checks
    removed: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in checks:
        if c.path and c.action in ("text_cleaned", "text_removed"):
            frags = c.expected.get("removed") or [c.expected.get("value", "")]
            removed[(c.instance, c.path)].update(w for f in frags for w in words(str(f)))
    out = []
    for c in checks:
        gone = removed.get((c.instance, c.path or ""), set())
        if c.action == "text_cleaned" and gone:
            kept = [w for w in c.expected.get("retained", []) if not set(words(str(w))) & gone]
            if len(kept) != len(c.expected.get("retained", [])):
                c = replace(c, expected={**c.expected, "retained": kept})
        out.append(c)
    return out


def init_checks(key_path: str, judge: Judge) -> None:
    """Executor initializer: what every unit needs (shared by fork, or pickled once per worker)."""
    _CONTEXT.update(key=Path(key_path), judge=judge)


def units(facts: keyfacts.KeyFacts) -> list[tuple[int, int]]:
    """Byte ranges of the key file: consecutive instances of one series, UNIT_INSTANCES at most."""
    out: list[tuple[int, int]] = []
    series, count = None, 0
    for inst, first in facts.first.items():
        start, end = facts.spans[inst]
        if out and first.series_uid == series and count < UNIT_INSTANCES and out[-1][1] <= start:
            out[-1] = (out[-1][0], end)
            count += 1
        else:
            out.append((start, end))
            series, count = first.series_uid, 1
    return out


def check_unit(span: tuple[int, int]) -> pa.Table:
    """Rows of the key checks and per-instance rules of one unit's instances."""
    judge: Judge = _CONTEXT["judge"]
    batch = RowBatch()
    for group in keyfacts.by_instance(keyfacts.read_span(_CONTEXT["key"], span), True):
        judge.add(group, batch)
    return batch.table()


def run_units(jobs: int, facts: keyfacts.KeyFacts, key_path: Path, judge: Judge,
              factory: Optional[workunits.ExecutorFactory] = None) -> Iterator[pa.Table]:
    """Frames of every unit, in key order, computed by ``jobs`` workers (inline for one)."""
    initargs = (str(key_path), judge)
    if factory is not None:
        ex = factory(jobs, init_checks, initargs)
    elif jobs <= 1:
        init_checks(*initargs)
        ex = workunits.InlineExecutor()
    else:
        from concurrent.futures import ProcessPoolExecutor
        ex = ProcessPoolExecutor(jobs, initializer=init_checks, initargs=initargs)
    with ex:  # a bounded window of units in flight: finished frames do not pile up in memory
        window: deque = deque()
        for span in units(facts):
            window.append(ex.submit(check_unit, span))
            if len(window) >= 2 * max(jobs, 1):
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    _CONTEXT.clear()
