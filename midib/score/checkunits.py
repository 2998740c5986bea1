"""The answer key's checks evaluated in work units, in parallel, each worker reading its own slice.

After matching, everything a check needs is known (the output records, the identifier maps,
the pixel verdicts), so the key is cut into units of consecutive instances of one series and
each unit is evaluated where it runs: the worker seeks to the unit's byte range of the key
file (noted during the first pass, :mod:`midib.score.keyfacts`), evaluates those instances'
checks and midib's per-instance rules, and returns one DataFrame of rows. Units are returned
in key order (futures consumed in submission order), so results are the same for any --jobs. The context is set
before the pool starts; forked workers inherit it without copying it through pickles.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any, Iterator, Optional

import pandas as pd

from midib.answer_key import Check
from midib.score import keyfacts, workunits
from midib.score.sink import frame_of

#: instances per unit: large enough to amortise a task, small enough to keep memory flat
UNIT_INSTANCES = 48
_CONTEXT: dict[str, Any] = {}


def init_checks(key_path: str, match: Any, maps: Any, precomputed: dict, rules: Any) -> None:
    """Executor initializer: what every unit needs (shared by fork, or pickled once per worker)."""
    _CONTEXT.update(key=Path(key_path), match=match, maps=maps, precomputed=precomputed, rules=rules)


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


def check_unit(span: tuple[int, int]) -> pd.DataFrame:
    """Rows of the key checks and per-instance rules of one unit's instances."""
    return frame_of(list(group_rows(keyfacts.read_span(_CONTEXT["key"], span))))


def group_rows(checks: Iterator[Check]) -> Iterator[dict[str, Any]]:
    """Key rows then rule rows, instance by instance (the order of the sequential scorer)."""
    from midib.score.rows import key_row
    from midib.score.scorer import _out_file, _verdict, reconcile_cleaned
    match, maps, pre, rules = (_CONTEXT[k] for k in ("match", "maps", "precomputed", "rules"))
    for group in keyfacts.by_instance(checks, True):
        group = reconcile_cleaned(group)
        key_rows = [key_row(c, _verdict(c, match, maps, pre), _out_file(c, match)) for c in group]
        yield from key_rows
        yield from rules.rows_for(group, key_rows)


def run_units(jobs: int, facts: keyfacts.KeyFacts, key_path: Path, ctx: tuple,
              factory: Optional[workunits.ExecutorFactory] = None) -> Iterator[pd.DataFrame]:
    """Frames of every unit, in key order, computed by ``jobs`` workers (inline for one)."""
    initargs = (str(key_path),) + ctx
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
