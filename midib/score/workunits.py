"""Work units and the executor that runs them: the seam where scoring scales out.

Per-file work (the one full reading of each output, the sources' matching features, the
leak sweep of unclaimed outputs) is cut into units (files of one folder, usually one series)
and handed to an executor's ``map``, which returns results in submission order, so the outcome never depends on how many
workers ran or in which order they finished. The default is a local process pool (or inline
for --jobs 1); any ``concurrent.futures.Executor`` factory can replace it, e.g. a Dask client's
``get_executor()`` for a cluster. Workers get the read-only context once, at start.
"""

from __future__ import annotations

from collections import defaultdict, deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Iterator, Optional

from midib.score.observation import Element, Interner, OutputRecord, observe, sweep_drawn

UNIT_SIZE = 64
_CONTEXT: dict[str, Any] = {}


_NOTHING: dict = {}


class SlimRecord:
    """An output's identifying elements (what matching compares) in one flat tuple of
    alternating generic keys and elements, in a slotted object: the parent keeps one per output
    until matching ends, and this halved it (~1.3 KB against ~2 KB as an :class:`OutputRecord`
    with a dict, two empty lists and a (key, element) pair per element). It answers the
    record's reading methods (:meth:`at`, :meth:`first`) and holds no UIDs or sweep hits."""

    __slots__ = ("file", "error", "found")
    elements: dict = _NOTHING
    uids: tuple = ()
    hits: tuple = ()

    def __init__(self, rec: OutputRecord) -> None:
        self.file, self.error = rec.file, rec.error
        self.found = tuple(x for key, found in rec.elements.items() for e in found for x in (key, e))

    def at(self, generic_key: str) -> list[Element]:
        found = self.found
        return [found[i + 1] for i in range(0, len(found), 2) if found[i] == generic_key]

    first = OutputRecord.first
    trimmed = OutputRecord.trimmed

    def __reduce__(self) -> tuple:  # one C-level call per record when a unit is unpickled
        return _slim, (self.file, self.error, self.found)

    def __repr__(self) -> str:
        return f"SlimRecord(file={self.file!r}, error={self.error!r}, found={self.found!r})"


def _slim(file: str, error: str, found: tuple) -> SlimRecord:
    rec = SlimRecord.__new__(SlimRecord)
    rec.file, rec.error, rec.found = file, error, found
    return rec


def init_worker(root: str, wanted: frozenset[str], scan: Any, full: frozenset[str] = frozenset(),
                records: Optional[Mapping[str, OutputRecord]] = None, overlay_ocr: bool = False) -> None:
    """Executor initializer, set once: the output root, the identifying paths, the sweeper, the
    paths of a full reading (:func:`read_unit`), the records already read (``sweep_unit``) and
    whether overlay planes are read by OCR (:mod:`midib.score.drawn`)."""
    from midib.score import drawn
    _CONTEXT.update(root=Path(root), wanted=wanted, scan=scan, records=records,
                    read=frozenset(full | wanted),  # one set: the walker caches per set
                    drawn=drawn.tesseract_reader if overlay_ocr else None)


def read_unit(files: list[str]) -> list[tuple[SlimRecord, str, bytes, bytes]]:
    """One unit of files read once and in full (every path of ``full``, UIDs, the sweep), per
    file: matching's view, the file, its identifying and its full record as bytes for the
    record store (:mod:`midib.score.records`)."""
    from midib.score.matching import FEATURE_PATHS
    from midib.score.records import packed
    root, wanted, scan, read = _CONTEXT["root"], _CONTEXT["wanted"], _CONTEXT["scan"], _CONTEXT["read"]
    match_keys, shared, out = frozenset(FEATURE_PATHS), Interner(), []
    for f in files:
        rec = observe(root / f, f, read, scan)
        ident, whole = packed(rec, wanted)
        out.append((SlimRecord(shared.record(rec.trimmed(match_keys))), f, ident, whole))
    return out


def observe_unit(files: list[str]) -> list[OutputRecord]:
    """One unit of files observed for matching: only the identifying paths, no sweep, no UID
    list (see :func:`midib.score.observation.observe`). The full observation happens later,
    in the worker that judges the instance (:mod:`midib.score.checkunits`).

    The unit's records share their repeated strings (paths, values): pickle keeps that sharing
    within one result, so the parent holds one copy per unit instead of one per file.
    """
    root, wanted = _CONTEXT["root"], _CONTEXT["wanted"]
    shared = Interner()
    return [SlimRecord(shared.record(observe(root / f, f, wanted, None))) for f in files]


def features_unit(paths: list[str]) -> list[OutputRecord]:
    """Source files (absolute paths) observed for the matching features only."""
    from midib.score.matching import FEATURE_PATHS
    wanted = frozenset(FEATURE_PATHS)
    shared = Interner()
    return [SlimRecord(shared.record(observe(Path(p), Path(p).name, wanted, None))) for p in paths]


def sweep_unit(unit: tuple[list[str], frozenset[str]]) -> list[dict[str, Any]]:
    """Leak-sweep rows of outputs no source claimed (extra, duplicate, unreadable or not DICOM
    at all: their names and bytes, see :func:`midib.score.observation.sweep_file_bytes`):
    nothing else judges them. ``unit``: (the files, those whose first frame OCR reads:
    :func:`midib.score.drawn.frame_images`)."""
    files, frames = unit
    from midib.score.rules import sweep_rows
    root, scan = _CONTEXT["root"], _CONTEXT["scan"]
    rows: list[dict[str, Any]] = []
    records = _CONTEXT.get("records")
    found = []
    for f in files:
        rec = records.get(f) if records is not None else None
        if rec is None:  # not read before (or no store): read now
            rec = observe(root / f, f, frozenset(), scan)
        found.append((root / f, rec, ()))
    sweep_drawn(found, scan, _CONTEXT.get("drawn"), frames)   # overlays, pictures, frames: no key check reads them
    for _, rec, _ in found:
        rows += sweep_rows(rec, None, scan, {})  # unreadable too: a name or bytes can leak
    return rows


def file_units(files: list[str], size: int = UNIT_SIZE) -> list[list[str]]:
    """Files split in units: per folder (a series, usually), at most ``size`` files each."""
    by_dir: dict[str, list[str]] = defaultdict(list)
    for f in files:
        by_dir[f.rpartition("/")[0]].append(f)
    return [fs[i:i + size] for d in sorted(by_dir) for fs in [by_dir[d]] for i in range(0, len(fs), size)]


def chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def batched(items: Iterable, size: int) -> Iterator[list]:
    """``items`` in lists of ``size`` (the last shorter), taken as they are consumed."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ordered_map(ex: Executor, fn: Callable, units: Iterable, window: int) -> Iterator:
    """``ex.map(fn, units)`` with at most ``window`` units submitted and not yet consumed.

    ``Executor.map`` submits every unit at once: the units (with their arguments) and every
    result the parent has not reached yet stay in memory, which grows with the run. Here a
    unit is only taken from ``units`` (which may be a generator reading from disk) when an
    earlier result has been handed on; results still come in submission order."""
    pending: deque[Future] = deque()
    for unit in units:
        pending.append(ex.submit(fn, unit))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class InlineExecutor(Executor):
    """--jobs 1: the same ``map`` contract, run in this process."""

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future

    def map(self, fn: Callable, *iterables: Iterable, timeout: Any = None, chunksize: int = 1) -> Iterator:
        return map(fn, *iterables)


ExecutorFactory = Callable[[int, Callable[..., None], tuple], Executor]


def make_executor(jobs: int, initargs: tuple, factory: Optional[ExecutorFactory] = None) -> Executor:
    """Inline for one job, else ``factory`` (default: a process pool) with the worker context."""
    if factory is not None:
        return factory(jobs, init_worker, initargs)
    if jobs <= 1:
        init_worker(*initargs)
        return InlineExecutor()
    return ProcessPoolExecutor(jobs, initializer=init_worker, initargs=initargs)
