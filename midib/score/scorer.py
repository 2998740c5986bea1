"""Scoring orchestration: read each output once, match, evaluate every check, add the rules.

Phases (timed in the summary): ``load`` (key, ledger, sweep index), ``observe`` (one walk per
output file), ``match``, ``pixels`` (decoding only where pixel checks exist; OCR in one batch),
``checks`` (the answer key), ``rules`` (UIDs, dates, leak sweep, de-identification record) and
``conformance``. Per-file and per-instance work goes through one executor
(:mod:`midib.score.workunits`) whose ``map`` keeps order, so results do not depend on --jobs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from midib.answer_key import Check
from midib.benchmark import Benchmark
from midib.score import checkunits, keyfacts, pixelstage, workunits
from midib.score.checks import IdMaps, Observed, evaluate
from midib.score.fingerprint import PixelFingerprint
from midib.score.inputs import (LedgerFacts, RunFolder, ledger_facts, load_checks,
                                load_checks_header, output_files, read_mapping)
from midib.score.matching import MatchResult, match_outputs
from midib.score.observation import OutputRecord, generic_key
from midib.score.rows import key_row
from midib.score.rules import InstanceRules, conformance_rows
from midib.score.sink import RowSink
from midib.score.sweep import Sweeper
from midib.score.uids import concrete_key, derive_maps, reverse_map
from midib.score.values import words
from midib.score.verdict import Verdict


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


def reconcile_cleaned(checks: list[Check]) -> list[Check]:
    """Free text holding several PHI fragments gets one text_cleaned check per fragment, each
    listing the other fragments as words to keep; a word some check wants removed from the same
    element cannot also be required, so it is dropped from the ``retained`` lists."""
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


def elements_for(check: Check, rec: OutputRecord) -> list:
    """The observed elements at the check's path (a concrete path selects its own item)."""
    if not check.path:
        return []
    found = rec.at(generic_key(check.path))
    if "[*]" in check.path:
        return found
    key = concrete_key(check.path)
    return [e for e in found if e.path == key]


def score_run(bench: Benchmark, run: RunFolder, opts: ScoreOptions,
              sink: Optional[RowSink] = None) -> ScoreResult:
    """Score ``run`` against ``bench``; every check of the key gives exactly one row in ``sink``."""
    clock, sink = _Clock(), sink if sink is not None else RowSink()
    spans: dict[str, tuple[int, int]] = {}
    (stream, raw), profile = key_stream(bench, opts.profile, spans)
    sweeper = Sweeper()
    facts = keyfacts.gather(raw(), sweeper.keep, spans)
    ledger = ledger_facts(bench, sweeper)
    facts.wanted.update(generic_key(p) for p in ledger.paths)
    files, rejected = output_files(run.output_root, opts.exclude)
    sources = facts.sources(bench.input_dir)
    clock.lap("load")

    initargs = (str(run.output_root), frozenset(facts.wanted), sweeper)
    with workunits.make_executor(opts.jobs, initargs, opts.executor) as ex:
        records = [r for unit in ex.map(workunits.observe_unit, workunits.file_units(files)) for r in unit]
        clock.lap("observe")
        match, maps = _match(records, sources, facts, ledger, run, opts)
        match.rejected_outputs = rejected
        clock.lap("match")
        ocr = pixelstage.OcrStats()
        precomputed = _pixel_verdicts(ex, facts.pixel_checks, match, sources, run.output_root, opts, ocr)
        clock.lap("pixels")

    ctx = InstanceRules(match, maps, reverse_map(maps), sweeper, ledger)
    if facts.grouped and not opts.profile:  # units of the key file, evaluated in parallel
        for frame in checkunits.run_units(opts.jobs, facts, bench.checks_path,
                                          (match, maps, precomputed, ctx), opts.executor):
            sink.extend_frame(frame)
        ctx.swept.update(rec.file for inst, rec in match.pairs.items() if inst in facts.first)
    else:
        for group in keyfacts.by_instance(stream(), facts.grouped):
            group = reconcile_cleaned(group)
            key_rows = [key_row(c, _verdict(c, match, maps, precomputed), _out_file(c, match))
                        for c in group]
            sink.extend(key_rows)
            sink.extend(ctx.rows_for(group, key_rows))
    clock.lap("checks")
    sink.extend(ctx.final_rows(records, facts.first_of_patient))
    clock.lap("rules")
    conformance, conf_rows = conformance_rows(match, sources, run.output_root, facts.first,
                                              opts.conformance, opts.jobs)
    sink.extend(conf_rows)
    clock.lap("conformance")
    return ScoreResult(sink, profile, match, ocr, conformance, clock.timings)


def key_stream(bench: Benchmark, profile: Optional[str], spans: Optional[dict] = None
               ) -> tuple[tuple[Callable[[], Iterator[Check]], Callable[[], Iterator[dict]]], str]:
    """Re-iterable streams of the key (checks, raw records): from the file, or re-derived
    under ``profile``."""
    if profile:
        checks, name = load_checks(bench, profile)
        return keyfacts.list_source(checks), name
    _, name = load_checks_header(bench)
    return keyfacts.key_source(bench.checks_path, spans), name


def _match(records, sources, facts: keyfacts.KeyFacts, ledger: LedgerFacts, run: RunFolder,
           opts: ScoreOptions) -> tuple[MatchResult, IdMaps]:
    """Pair outputs with sources, then derive (or read) the old -> new identifier maps."""
    uid_path = opts.mapping or run.uid_mapping
    pid_path = opts.patid_mapping or run.patid_mapping
    uid_csv = read_mapping(uid_path) if uid_path else {}
    pid_csv = read_mapping(pid_path) if pid_path else {}
    fp = PixelFingerprint(run.output_root, sources, facts.boxes)
    match = match_outputs(records, sources, {n: o for o, n in uid_csv.items()}, fp)
    maps = derive_maps(match.pairs, facts.first, ledger.uids, ledger.patids)
    if uid_csv:
        maps.uid, maps.source = {o: {n} for o, n in uid_csv.items()}, "mapping"
    if pid_csv:
        maps.patid = {o: {n} for o, n in pid_csv.items()}
    return match, maps


def _out_file(check: Check, match: MatchResult) -> str:
    rec = match.pairs.get(check.instance)
    return rec.file if rec else ""


def _verdict(check: Check, match: MatchResult, maps: IdMaps,
             precomputed: dict[str, Verdict]) -> Verdict:
    rec = match.pairs.get(check.instance)
    if rec is None:
        return Verdict.fail("no output matched")
    observed = Observed(elements_for(check, rec), rec, maps, precomputed.get(check.id),
                        lookup=match.pairs.get)
    return evaluate(check, observed)


def _pixel_verdicts(ex, checks: list[Check], match: MatchResult, sources: dict[str, Path],
                    out_root: Path, opts: ScoreOptions, ocr: pixelstage.OcrStats) -> dict[str, Verdict]:
    """Pixel checks per instance through the executor, then one OCR batch for all crops."""
    by_instance: dict[str, list[Check]] = defaultdict(list)
    for c in checks:
        if c.instance in match.pairs:
            by_instance[c.instance].append(c)
    items = [(by_instance[i], str(sources[i]) if i in sources else None,
              str(out_root / match.pairs[i].file)) for i in sorted(by_instance)]
    verdicts: dict[str, Verdict] = {}
    job = pixelstage.PixelJob()
    for unit in ex.map(workunits.pixel_unit, workunits.chunks(items, workunits.PIXEL_UNIT)):
        for found, crops in unit:
            verdicts.update(found)
            job.crops.extend(crops)
    verdicts.update(pixelstage.run_ocr(job, opts.ocr, ocr))
    return verdicts
