"""The answer key's checks judged in work units, in parallel, each worker reading its own slice.

After matching, everything a check needs beyond its own output file is known (which output
each instance became, the identifier maps, the pixel verdicts), so the key is cut into units
of consecutive instances of one series and each unit is judged where it runs: the worker
loads the unit's checks compiled (:mod:`midib.score.compiledkey`: parsed once from the unit's
byte range of the key file, noted during the first pass, :mod:`midib.score.keyfacts`, then
cached for the user), takes each instance's full record, read in the observe phase (the
values every check asks about, every UID, the leak sweep's hits: :class:`Judge`,
:mod:`midib.score.records`), evaluates the checks
(pixel checks take the verdicts of the pixel phase, :mod:`midib.score.pixelphase`) and
midib's per-instance rules, and returns the unit's rows finished: an Arrow table, its CSV
text and its counts. The parent never holds those
full observations, only the small ones matching needed, so its memory does not grow with the
number of instances. Units are returned in key order (futures consumed in submission order),
so results are the same for any --jobs. The context is set before the pool starts; forked
workers inherit it without copying it through pickles.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Iterator, Optional


from midib.answer_key import Check
from midib.score import keyfacts, workunits
from midib.score.checks import IdMaps, Observed, evaluate, load_families, memo_get
from midib.score.compiledkey import CompiledUnit, compile_checks, load_unit, make_check
from midib.score.matching import MatchResult
from midib.score.observation import OutputRecord, generic_key, observe, sweep_drawn
from midib.score.pixelstage import PIXEL_ACTIONS
from midib.score.records import RecordStore
from midib.score.rows import RowBatch
from midib.score.sink import UnitResult, unit_result
from midib.score.uids import concrete_key
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
    precomputed: Mapping[str, Verdict]  # pixel verdicts, by check id (the pixel phase's)
    records: Optional[RecordStore] = None  # file -> its full record, read in the observe phase
    ocr: bool = False               # overlay planes no key check reads are read by OCR

    def rows(self, group: list[Check]) -> list[dict[str, Any]]:
        """Key rows then rule rows of the instance whose checks are ``group``, as dicts."""
        batch = RowBatch()
        self.add(group, batch)
        return batch.rows()

    def add(self, group: list[Check], batch: RowBatch) -> None:
        """Add the key rows then the rule rows of the instance whose checks are ``group``."""
        self.add_unit(compile_checks(group), batch)

    def add_unit(self, unit: CompiledUnit, batch: RowBatch) -> None:
        """Add the key rows then the rule rows of each instance of a compiled unit."""
        for start, end in unit.bounds:
            self.add_instance(unit, start, end, batch)

    def add_instance(self, unit: CompiledUnit, start: int, end: int, batch: RowBatch) -> None:
        """Rows [start, end) of ``unit`` (one instance's checks), then that instance's rule rows."""
        paired = self.match.pairs.get(unit.columns["instance"][start])
        rec = self.observe(paired.file) if paired is not None else None
        failure = unjudged(rec)
        if failure is not None:
            verdicts = [failure] * (end - start)
        else:
            verdicts = self.verdicts(unit, start, end, rec)  # type: ignore[arg-type]
        batch.add_columns(unit.row_columns(start, end), verdicts, rec.file if rec is not None else "")
        if rec is not None and rec.overlays and self.ocr:
            self.sweep_drawn(unit, start, end, rec)
        if rec is not None:
            failed = {i for i, v in zip(unit.columns["id"][start:end], verdicts) if not v.passed}
            batch.extend(self.rules.rows_for(unit.checks(start, end), failed, rec))

    def verdicts(self, unit: CompiledUnit, start: int, end: int, rec: OutputRecord) -> list[Verdict]:
        """Verdicts of rows [start, end) against ``rec``: a memoised verdict when the memo holds
        this expectation with these observed values (exactly what :func:`evaluate` would return:
        same key), else :func:`evaluate` on the check. The hot loop of scoring: ~300,000 checks
        for `small`, so it reads precomputed columns and builds no object on a memo hit."""
        cols, registry, els_get = unit.columns, load_families(), rec.elements.get
        fields = unit.field_columns()
        out: list[Verdict] = []
        for i, gk, ck, pre in zip(range(start, end), cols["generic"][start:end],
                                  cols["concrete"][start:end], cols["prefix"][start:end]):
            found = [] if gk is None else els_get(gk, [])
            if ck is not None:
                found = [e for e in found if e[0] == ck]
            if pre is not None and gk is not None and (fn := registry.get(pre[0])) is not None:
                try:
                    hit = memo_get((fn,) + pre + (tuple([(e[1], e[2]) for e in found]),))
                except (TypeError, IndexError, AttributeError):
                    hit = None
                if hit is not None:
                    out.append(hit)
                    continue
            check = make_check(fields, i)
            out.append(evaluate(check, Observed(found, rec, self.maps, self.pixel_verdict(check),
                                                lookup=self.match.pairs.get)))
        return out

    def sweep_drawn(self, unit: CompiledUnit, start: int, end: int, rec: OutputRecord) -> None:
        """OCR the output's overlay planes that none of the instance's overlay checks reads
        (a plane a tool moved to another group, or added) and add what the sweep finds there."""
        from midib.score import drawn
        judged = {int(str(make_check(unit.field_columns(), i).expected.get("group", "6000")), 16)
                  for i in range(start, end) if unit.columns["action"][i] == "overlay_hidden"}
        sweep_drawn([(self.root / rec.file, rec, judged)], self.rules.sweeper, drawn.tesseract_reader)

    def pixel_verdict(self, check: Check) -> Optional[Verdict]:
        """The pixel phase's verdict of a pixel check (None for the others: no look-up, the
        verdicts may be on disk)."""
        return self.precomputed.get(check.id) if check.action in PIXEL_ACTIONS else None

    def observe(self, rel: str) -> OutputRecord:
        """The output file read in full: wanted values, UIDs and the sweep's hits; read once, in
        the observe phase, where a record store is given (:mod:`midib.score.records`)."""
        if self.records is not None and (rec := self.records.get_record(rel)) is not None:
            return rec
        return observe(self.root / rel, rel, self.wanted, self.rules.sweeper)

    def verdict(self, check: Check, rec: Optional[OutputRecord]) -> Verdict:
        """One check's verdict, the plain way (the reference :meth:`verdicts` is tested against)."""
        failure = unjudged(rec)
        if failure is not None:
            return failure
        assert rec is not None
        observed = Observed(elements_for(check, rec), rec, self.maps, self.pixel_verdict(check),
                            lookup=self.match.pairs.get)
        return evaluate(check, observed)


def unjudged(rec: Optional[OutputRecord]) -> Optional[Verdict]:
    """The failure of every check of an instance without a readable output, else None."""
    if rec is None:
        return Verdict.fail("no output matched")
    if rec.error:  # read fine for matching, not now (changed or removed meanwhile): never a pass
        return Verdict.fail(f"output {rec.file} could not be read again: {rec.error}")
    return None


def elements_for(check: Check, rec: OutputRecord) -> list:
    """The observed elements at the check's path (a concrete path selects its own item)."""
    if not check.path:
        return []
    found = rec.at(generic_key(check.path))
    if "[*]" in check.path:
        return found
    key = concrete_key(check.path)
    return [e for e in found if e.path == key]


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


def check_unit(span: tuple[int, int]) -> UnitResult:
    """Rows of the key checks and per-instance rules of one unit's instances, finished here:
    the table, its CSV text and its counts (:func:`midib.score.sink.unit_result`), so that
    the parent, which shares the CPU with the workers, only writes them."""
    judge: Judge = _CONTEXT["judge"]
    batch = RowBatch()
    with no_cycle_collection():
        judge.add_unit(load_unit(_CONTEXT["key"], span), batch)
        return unit_result(batch.table(), batch.columns)


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The cycle collector paused while a unit is judged: a unit allocates ~100 short-lived
    containers per check (unpickled columns, tuples, lists) that reference counting frees, and
    each automatic collection would walk the worker's whole heap (match, maps, memo) for none;
    measured: a quarter of the loop's time. Whatever cycles a unit leaves are collected later."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_units(jobs: int, facts: keyfacts.KeyFacts, key_path: Path, judge: Judge,
              factory: Optional[workunits.ExecutorFactory] = None) -> Iterator[UnitResult]:
    """Every unit's rows (:class:`~midib.score.sink.UnitResult`, for ``sink.extend_unit``),
    in key order, computed by ``jobs`` workers (inline for one)."""
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
        yield from workunits.ordered_map(ex, check_unit, units(facts), 2 * max(jobs, 1))
    _CONTEXT.clear()
