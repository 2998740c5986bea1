"""Scoring orchestration: read each output once, match, evaluate every check, add the rules.

Phases (timed in the summary): ``load`` (key, ledger, sweep index; cached per user),
``observe`` (every output file walked once, in full, in the workers: matching's few paths kept
in memory, the rest stored on disk, :mod:`midib.score.records`), ``match``, ``pixels``
(:mod:`midib.score.pixelphase`: pixels read only where pixel checks exist, OCR in large
batches), ``checks`` (work units of the key, :mod:`midib.score.checkunits`: each instance's
stored record, the key's checks and the per-instance rules), ``rules`` (leak sweep of
unclaimed outputs, dates across a patient, duplicates) and ``conformance``. Per-file and per-unit work goes through executors
whose ``map`` keeps order, and units do not depend on --jobs, so neither do results.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Collection, Mapping
from typing import Any, Callable, Iterable, Iterator, Optional
from uuid import uuid4

from midib import cache
from midib.answer_key import Check
from midib.benchmark import Benchmark
from midib.errors import MidibError
from midib.score import checkunits, diskmap, drawn, keyfacts, pixelphase, pixelstage, workunits
from midib.score.checks import IdMaps
from midib.score.dates import shifts_by_patient
from midib.score.diskmap import DiskMap
from midib.score.fingerprint import PixelFingerprint, source_thumbnails
from midib.score.inputs import (LedgerFacts, RunFolder, ledger_facts, load_checks,
                                load_checks_header, output_files, read_mapping)
from midib.score.matching import FEATURE_PATHS, Matcher, MatchResult, SourceReader
from midib.score.observation import OutputRecord, generic_key
from midib.score.records import RecordSpill, RecordStore
from midib.score.rules import InstanceRules, conformance_rows, link_rows, sweep_rows
from midib.score.sink import RowSink
from midib.score.sweep import Sweeper
from midib.score.uids import PATIENT_ID, PRIMARY, derive_maps, reverse_map
from midib.score.workunits import SlimRecord
from midib.validation import unvalidated


#: observe units (64 files, ~10 KB of records each) read ahead of the parent storing them
OBSERVE_WINDOW = 8


@dataclass
class ScoreOptions:
    jobs: int = 1
    ocr: bool = True
    profile: Optional[str] = None
    mapping: Optional[Path] = None
    patid_mapping: Optional[Path] = None
    conformance: bool = True                       # dciodvfy before/after, when installed
    exclude: Optional[Path] = None                 # never read our own score folder as output
    executor: Optional[workunits.ExecutorFactory] = None


@dataclass
class ScoreResult:
    sink: RowSink
    profile: str
    match: MatchResult
    ocr: pixelstage.OcrStats
    conformance: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows, when the sink kept them in memory (tests)."""
        return self.sink.rows


class _Clock:
    """Phase timings for the summary."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - self._t
        self._t = now


@dataclass
class KeyIndex:
    """The facts of the key and the ledger that span instances (see :mod:`midib.score.keyfacts`)."""

    facts: keyfacts.KeyFacts
    ledger: LedgerFacts
    sweeper: Sweeper

    def usable(self) -> bool:
        """Whether the per-instance facts it keeps on disk are still there (a cached index whose
        file was removed is recomputed)."""
        return all(m.usable() for m in (self.facts.pixel_checks, self.facts.boxes, self.ledger.uids,
                                        self.ledger.patids, self.ledger.dates, self.facts.first,
                                        self.facts.spans)
                   if isinstance(m, DiskMap))

    def identifying_paths(self) -> frozenset[str]:
        """What matching, the identifier maps and the cross-instance checks read of every output:
        the first, slim observation keeps only these."""
        return frozenset(set(FEATURE_PATHS) | set(PRIMARY) | {PATIENT_ID} | self.facts.refs
                         | {generic_key(p) for p in self.ledger.paths})


#: the index's per-instance tables: (which facts hold them, table names)
_KEY_TABLES = ("first", "boxes", "pixel_checks")
_LEDGER_TABLES = ("uids", "patids", "dates")


def index_key(bench: Benchmark, raw: Callable[[], Iterator[dict]],
              spans: Optional[dict[str, tuple[int, int]]] = None,
              store: Optional[Path] = None, profile: Optional[str] = None) -> KeyIndex:
    """One pass over the key and one over the ledger (``spans`` filled as the key is read);
    the per-instance facts go to the SQLite file ``store`` (default: a scratch file) as they
    are read (:class:`~midib.score.diskmap.Spool`). A store that cannot be written (a read-only
    cache, a full disk) gives way to a scratch file, and that to memory: correct, just not flat.
    ``profile``: the --profile the key was derived under (which dates it expects shifted),
    else the benchmark's own."""
    for target in (store, diskmap.scratch_dir() / f"key-{uuid4().hex}.db"):
        if target is None:
            continue
        if spans is not None:
            spans.clear()       # a second attempt reads the key again
        try:
            return _index_spooled(bench, raw, spans, target, profile)
        except (OSError, sqlite3.Error):
            continue
    if spans is not None:
        spans.clear()
    return _index_into(bench, raw, spans, profile, {}, {})


def _index_into(bench: Benchmark, raw: Callable[[], Iterator[dict]],
                spans: Optional[dict[str, tuple[int, int]]], profile: Optional[str],
                key_tables: dict[str, Any], ledger_tables: dict[str, Any]) -> KeyIndex:
    """Read the key, then the ledger, their per-instance facts into the given tables (dicts
    where none is given)."""
    sweeper = Sweeper()
    facts = keyfacts.gather(raw(), sweeper.keep, spans, key_tables)
    if profile:
        from midib.keys.profile import load_profile
        ledger = ledger_facts(bench, sweeper, load_profile(profile), ledger_tables)
    else:
        ledger = ledger_facts(bench, sweeper, tables=ledger_tables)
    facts.wanted.update(generic_key(p) for p in ledger.paths)
    return KeyIndex(facts, ledger, sweeper)


def _index_spooled(bench: Benchmark, raw: Callable[[], Iterator[dict]],
                   spans: Optional[dict[str, tuple[int, int]]], target: Path,
                   profile: Optional[str]) -> KeyIndex:
    """:func:`_index_into` with every per-instance table written to ``target`` as it is read,
    through a temporary file renamed into place at the end: a scorer running at the same time
    never opens half a file."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        writer = diskmap.Writer(tmp, _KEY_TABLES + _LEDGER_TABLES + ("spans",))
        with writer:
            spools = {name: diskmap.Spool(writer, name) for name in _KEY_TABLES + _LEDGER_TABLES}
            index = _index_into(bench, raw, spans, profile,
                                {n: spools[n] for n in _KEY_TABLES}, {n: spools[n] for n in _LEDGER_TABLES})
            for spool in spools.values():
                spool.flush()
            writer.add("spans", ((k, pickle.dumps(v, pickle.HIGHEST_PROTOCOL))
                                 for k, v in index.facts.spans.items()))
            writer.finish()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    maps = {name: DiskMap(target, name) for name in _KEY_TABLES + _LEDGER_TABLES + ("spans",)}
    facts, ledger = index.facts, index.ledger
    facts.first, facts.boxes, facts.pixel_checks, facts.spans = (
        maps["first"], maps["boxes"], maps["pixel_checks"], maps["spans"])
    ledger.uids, ledger.patids, ledger.dates = maps["uids"], maps["patids"], maps["dates"]
    return index


def load_key(bench: Benchmark, profile: Optional[str]) -> tuple[KeyIndex, Callable[[], Iterator[Check]], str]:
    """The key's index, a re-iterable stream of its checks, and the profile's name.

    The benchmark's own key is indexed once per version of its files and cached for the user
    (:mod:`midib.cache`): a leaderboard scores every tool against the same key.
    """
    if profile:
        checks, name = load_checks(bench, profile)
        stream, raw = keyfacts.list_source(checks)
        return index_key(bench, raw, profile=profile), stream, name
    _, name = load_checks_header(bench)
    stream, _ = keyfacts.key_source(bench.checks_path)
    paths = (bench.checks_path, bench.ledger_path) if bench.ledger_path.is_file() else (bench.checks_path,)
    store = cache.sidecar("score-key", paths, ".db")
    diskmap.scratch_dir()  # made here, before a child process writes in it
    index = cache.cached("score-key", paths, lambda: _index_apart(bench, store), valid=KeyIndex.usable)
    return index, stream, name


def _index_of(bench: Benchmark, store: Optional[Path] = None) -> KeyIndex:
    spans: dict[str, tuple[int, int]] = {}
    _, raw = keyfacts.key_source(bench.checks_path, spans)
    return index_key(bench, raw, spans, store)


def _index_apart(bench: Benchmark, store: Optional[Path] = None) -> KeyIndex:
    """:func:`index_key` in a child process. Reading a key parses every record (~300,000 for
    `small`) between the facts it keeps; the freed records leave the parent's heap fragmented
    (~30 MB more resident at `small`, growing with the key), while a child hands back only the
    index, as a warm cache does."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: in this process
        return _index_of(bench, store)
    with ProcessPoolExecutor(1, mp_context=context) as ex:
        return ex.submit(_index_of, bench, store).result()


_M_ARENA_MAX = -8   # glibc's malloc.h


def one_malloc_arena() -> None:
    """Ask glibc's malloc for a single arena. Each thread that allocates (the process pools'
    result threads, the conformance phase's dciodvfy threads) otherwise gets an arena of its
    own that keeps the pages it freed: ~6 MB more resident at `medium`, for no speed the
    scorer needs (its threads mostly wait on pipes). A no-op where malloc is not glibc's."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_ARENA_MAX, 1)
    except (OSError, AttributeError):
        return


def score_run(bench: Benchmark, run: RunFolder, opts: ScoreOptions,
              sink: Optional[RowSink] = None) -> ScoreResult:
    """Score ``run`` against ``bench``; every check of the key gives exactly one row in ``sink``."""
    one_malloc_arena()
    clock, sink = _Clock(), sink if sink is not None else RowSink()
    index, stream, profile = load_key(bench, opts.profile)
    spill = RecordSpill(diskmap.scratch_dir() / f"records-{uuid4().hex}.db")
    try:
        with unvalidated():    # invalid values are the checks' to report, not warnings'
            return _scored(bench, run, opts, sink, clock, index, stream, profile, spill)
    finally:
        spill.remove()


def _scored(bench: Benchmark, run: RunFolder, opts: ScoreOptions, sink: RowSink, clock: "_Clock",
            index: KeyIndex, stream: Callable[[], Iterator[Check]], profile: str,
            spill: RecordSpill) -> ScoreResult:
    """The phases after reading the key (see the module doc); ``spill`` keeps every output's
    records from the observe phase to the end."""
    facts, ledger, sweeper = index.facts, index.ledger, index.sweeper
    if not len(facts.first):   # every output would be "extra" and the score a meaningless 0 %
        raise MidibError(f"{bench.checks_path}: the answer key holds no checks: nothing to score "
                         f"against (regenerate it, or pass --profile to derive one from the ledger)")
    files, rejected = output_files(run.output_root, opts.exclude, run.mapping_files, bench.fingerprint())
    sources = facts.sources(bench.input_dir)
    clock.lap("load")

    initargs = (str(run.output_root), index.identifying_paths(), sweeper, frozenset(facts.wanted))
    overlay_ocr = (opts.ocr,)   # text drawn in overlay planes is read where OCR runs
    uid_csv, pid_csv = _mappings(run, opts)
    with workunits.make_executor(opts.jobs, initargs + (None,) + overlay_ocr, opts.executor) as ex:
        reader = source_reader(ex, bench, sources)
        thumbs = source_thumbnails(ex, bench, sources, facts.boxes)  # computed on first need
        matcher = Matcher(sources, {n: o for o, n in uid_csv.items()}, reader, slim=_file_only,
                          stored=True)   # outputs left for content are read back from ``full``
        units = workunits.file_units(files)
        full, whole = _observed(ex, units, spill, matcher.add)  # outputs named by UID paired as read
        clock.lap("observe")
        match = matcher.finish(PixelFingerprint(run.output_root, sources, facts.boxes, thumbs), full)
        maps = _maps(match, full, facts, ledger, uid_csv, pid_csv)
        match.rejected_outputs = rejected
        claimed = {rec.file for rec in match.pairs.values()}  # the unreadable are swept too
        unclaimed = [f for unit in units for f in unit if f not in claimed]
        del claimed, units
        shifts, offsets = _keep_what_follows(match, ledger, facts, full)
        full.close()
        clock.lap("match")
        ocr = pixelstage.OcrStats()
        precomputed = pixelphase.pixel_verdicts(ex, facts.pixel_checks, match, bench.input_dir,
                                                run.output_root, opts.ocr, ocr, spill.pixels_path)
        clock.lap("pixels")

    ctx = InstanceRules(match, maps, reverse_map(maps), sweeper, ledger, date_shifts=shifts,
                        date_offsets=offsets)
    judge = checkunits.Judge(run.output_root, frozenset(facts.wanted), match, maps, ctx, precomputed,
                             records=whole, ocr=opts.ocr)
    if facts.grouped and not opts.profile:  # units of the key file, judged in parallel
        for unit in checkunits.run_units(opts.jobs, facts, bench.checks_path, judge, opts.executor):
            sink.extend_unit(unit)
    else:
        for group in keyfacts.by_instance(stream(), facts.grouped):
            sink.extend(judge.rows(group))
    clock.lap("checks")
    if unclaimed:  # outputs no source claimed: swept unit by unit, rows streamed to the sink
        with workunits.make_executor(opts.jobs, initargs + (whole,) + overlay_ocr, opts.executor) as ex:
            unreadable = {u["file"] for u in match.unreadable_outputs}
            frames = frozenset([f for f in unclaimed if f not in unreadable][:drawn.EXTRA_FRAMES_MAX])
            units = [(chunk, frames.intersection(chunk))
                     for chunk in workunits.chunks(unclaimed, workunits.UNIT_SIZE)]
            for rows in ex.map(workunits.sweep_unit, units):
                sink.extend(rows)
    if match.rejected_outputs:  # never read (links, devices, too deep), but a name can leak
        sink.extend([row for r in match.rejected_outputs
                     for row in sweep_rows(OutputRecord(file=r["file"]), None, sweeper, {})])
        sink.extend(link_rows(run.output_root, match.rejected_outputs, sweeper))
    sink.extend(ctx.final_rows(facts.first_of_patient))
    clock.lap("rules")
    conformance = conformance_rows(match, sources, run.output_root, facts.first,
                                   opts.conformance, opts.jobs, sink.extend)
    clock.lap("conformance")
    return ScoreResult(sink, profile, match, ocr, conformance, clock.timings)


def _observed(ex: Any, units: list[list[str]], spill: RecordSpill,
              view: Callable[[OutputRecord], None]) -> tuple[RecordStore, RecordStore]:
    """Every output read once (:func:`workunits.read_unit`): matching's view of each (its
    FEATURE_PATHS) handed to ``view`` as it arrives; its identifying and full records written to
    ``spill`` (:mod:`midib.score.records`), read back once the pairs are known, so the parent
    never holds them all."""
    for unit in workunits.ordered_map(ex, workunits.read_unit, units, OBSERVE_WINDOW):
        spill.add((f, ident, whole) for _, f, ident, whole in unit)
        for found, *_ in unit:
            view(found)
    return spill.finish()


def _file_only(rec: OutputRecord) -> OutputRecord:
    """What a pair keeps of a matching view until the full records replace it: the file."""
    return SlimRecord(OutputRecord(rec.file, error=rec.error))


def _paired(match: MatchResult, full: Optional[Mapping[str, OutputRecord]]) -> Iterator[tuple[str, OutputRecord]]:
    """(instance, full slim record) of every pair, streamed from ``full`` (in its order: one
    scan of the file, not a look-up per pair); the records paired themselves without it."""
    if full is None:
        yield from match.pairs.items()
        return
    instance_of = {rec.file: inst for inst, rec in match.pairs.items()}
    for file, rec in full.items():
        if (inst := instance_of.get(file)) is not None:
            yield inst, rec


def _keep_what_follows(match: MatchResult, ledger: LedgerFacts, facts: keyfacts.KeyFacts,
                       full: Optional[Mapping[str, OutputRecord]] = None
                       ) -> tuple[dict[str, dict[int, int]], dict[str, set[int]]]:
    """Count each patient's date shifts (and date-and-time offsets) now, then keep of every matched record only the file and
    what date_interval checks read of other instances (``facts.refs``): the slim records held
    every planted UID and date of every output (~3 KB each) until scoring ended."""
    keep, trimmed = frozenset(facts.refs), {}

    def trimming() -> Iterator[tuple[str, OutputRecord]]:  # trimmed as the shifts are counted
        for inst, rec in _paired(match, full):
            trimmed[inst] = SlimRecord(rec.trimmed(keep))  # ~300 bytes, not ~800 with a dict
            yield inst, rec
    offsets: dict[str, set[int]] = {}
    shifts = shifts_by_patient(trimming(), ledger.dates, ledger.study_times, offsets)
    match.pairs = {inst: trimmed[inst] for inst in match.pairs}
    return {patient: dict(counts) for patient, counts in shifts.items()}, offsets


def source_reader(ex: Any, bench: Benchmark, sources: dict[str, Path]) -> SourceReader:
    """Matching features of the sources, read in parallel once per benchmark version and cached
    for the user (every tool that renames its SOP instances needs them all), on disk
    (:mod:`midib.score.diskmap`): matching reads the ones it needs, one by one."""
    key_files = tuple(p for p in (bench.checks_path, bench.manifest_path) if p.is_file())
    extra = str(bench.input_dir.resolve())

    def read_all() -> DiskMap:
        order = sorted(sources)
        units = workunits.chunks([str(sources[i]) for i in order], workunits.UNIT_SIZE)

        def tables() -> dict[str, Iterable[tuple[str, OutputRecord]]]:  # read again on a retry
            return {"sources": zip(order, (r for unit in ex.map(workunits.features_unit, units) for r in unit))}
        maps = diskmap.write_first((cache.sidecar("score-sources", key_files, ".db", extra=extra),
                                    diskmap.scratch_dir() / f"sources-{uuid4().hex}.db"), tables)
        if maps is None:
            raise MidibError("cannot write the sources' matching features anywhere (scratch folder full?)")
        return maps["sources"]

    def reader(wanted: dict[str, Path]) -> Mapping[str, OutputRecord]:
        found = cache.cached("score-sources", key_files, read_all, extra=extra, valid=DiskMap.usable)
        return diskmap.Subset(found, wanted)
    return reader


def _mappings(run: RunFolder, opts: ScoreOptions) -> tuple[dict[str, str], dict[str, str]]:
    """The MIDI-B mapping CSVs (old -> new SOPInstanceUID, old -> new PatientID), if any: the
    options', else the run's (a submission holding two of one kind must name one)."""
    for kind, given in (("uid", opts.mapping), ("patid", opts.patid_mapping)):
        if given is None and kind in run.ambiguous:
            raise MidibError(run.ambiguous[kind])
    uid_path = opts.mapping or run.uid_mapping
    pid_path = opts.patid_mapping or run.patid_mapping
    return (read_mapping(uid_path) if uid_path else {}), (read_mapping(pid_path) if pid_path else {})


def _maps(match: MatchResult, full: Optional[Mapping[str, OutputRecord]], facts: keyfacts.KeyFacts,
          ledger: LedgerFacts, uid_csv: dict[str, str], pid_csv: dict[str, str]) -> IdMaps:
    """The old -> new identifier maps, derived from the pairs' full records (``full``: file ->
    record; the pairs' own records without it), with the mapping CSVs' rows over them.

    A MIDI-B UID mapping lists only the SOP, series, study and frame-of-reference UIDs; every
    other planted UID (DimensionOrganizationUID, referenced objects' UIDs, ...) keeps the map
    derived from the pairs. Replacing the derived map by the CSV failed those UIDs' consistency
    checks as "not mapped" however well the tool replaced them, and hid merges from the
    one-to-one rule."""
    maps = derive_maps(_paired(match, full), facts.first, ledger.uids, ledger.patids)
    if uid_csv:
        maps.uid, maps.source = _over(uid_csv, maps.uid), "mapping"
    if pid_csv:
        maps.patid = _over(pid_csv, maps.patid)
    return maps


def _over(csv: dict[str, str], derived: dict[str, Collection[str]]) -> dict[str, Collection[str]]:
    """The CSV's old -> new rows, then the derived entries of the old values it does not list."""
    merged: dict[str, Collection[str]] = {o: (n,) for o, n in csv.items()}
    for old, news in derived.items():
        merged.setdefault(old, news)
    return merged
