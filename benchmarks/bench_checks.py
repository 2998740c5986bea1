"""The check-evaluation hot path of `midib score`: microseconds per answer-key check.

Two measurements per run folder, both in this process on one core:

1. ``phase``: `midib score --jobs 1 --no-ocr --no-conformance` through the scorer, and the
   ``checks`` phase of its summary timings (process CPU time) divided by the number of key
   checks (whatever the scorer does in that phase: reading the key's units, observing,
   evaluating, rows, sink);
2. ``parts``: the pieces helper code owns, timed directly (process CPU time, so other
   processes on the machine do not inflate it) on the same data: ``evaluate`` (the
   registered check functions with their memo), ``key_row`` (one results row per check) and the
   sink (rows -> columns -> tally, as the CLI's sink does, without writing files). The outputs
   are observed once beforehand (not timed), paired with their instances from the phase's own
   results.

3. ``units``: the key units as the scorer judges them (:func:`midib.score.checkunits.check_unit`:
   compiled unit, fused verdict loop, rows, per-instance rules, Arrow table) with every output
   observed beforehand, so the figure is the per-check cost *without* the observe; once with
   compiled units from a warm cache (what a second score of the same key does), once compiled
   in memory (cache off: parse, reconcile, derive); best of three passes each.

Usage: python benchmarks/bench_checks.py [--phase-only] [BENCH RUN ...]
(default: /tmp/midib-bench-score/bench-small with its run-identity and run-oracle).
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = Path("/tmp/midib-bench-score")


def phase(bench: Path, run: Path) -> tuple[float, int]:
    """(checks-phase seconds, key checks) of one in-process score at --jobs 1."""
    import types

    from midib.cli import main
    from midib.score import scorer
    out = Path(tempfile.mkdtemp(prefix="bench_checks_"))
    # the phase clock reads process CPU time (jobs 1: all work is in this process), so other
    # processes on a shared machine do not inflate the figure
    clock = getattr(scorer, "time", None)
    scorer.time = types.SimpleNamespace(perf_counter=time.process_time)  # type: ignore[attr-defined]
    try:
        main(["score", str(bench), str(run), "--jobs", "1", "--no-ocr", "--no-conformance",
              "--out", str(out)])
    finally:
        scorer.time = clock  # type: ignore[attr-defined]
    summary = json.loads((out / "summary.json").read_text())
    key = summary.get("by_source", {}).get("key", {}).get("total") or summary["overall"]["total"]
    return summary["timings"].get("checks", float("nan")), int(key), out


def observed_pairs(bench: Path, run: Path, results: Path):
    """Every key check with its observed elements and record (instance -> output from results)."""
    import pandas as pd
    from midib.answer_key import read_key
    from midib.benchmark import Benchmark
    from midib.score.observation import generic_key, observe
    from midib.score.uids import concrete_key

    df = pd.read_parquet(results, columns=["instance", "output_file", "source"])
    df = df[(df.source == "key") & (df.output_file != "")]
    out_of = dict(zip(df.instance, df.output_file))
    checks = list(read_key(Benchmark(bench).checks_path))
    wanted = frozenset(generic_key(c.path) for c in checks if c.path)
    root = run / "output" if (run / "output").is_dir() else run
    records = {i: observe(root / f, f, wanted, None) for i, f in out_of.items()}
    pairs = []
    for c in checks:
        rec = records.get(c.instance)
        if rec is None:
            continue
        found = rec.at(generic_key(c.path)) if c.path else []
        if c.path and "[*]" not in c.path:
            key = concrete_key(c.path)
            found = [e for e in found if e.path == key]
        pairs.append((c, found, rec))
    return pairs


def parts(pairs) -> dict[str, float]:
    """Seconds spent in evaluate, then rows + sink two ways: dict rows (key_row, sink.extend)
    and columns (RowBatch per unit, sink.extend_table), for ``pairs`` (memo cleared first)."""
    from midib.score import checks as registry
    from midib.score.checks import IdMaps, Observed, evaluate
    from midib.score.rows import key_row
    from midib.score.sink import RowSink

    registry.load_families()
    if hasattr(registry, "clear_memo"):
        registry.clear_memo()
    maps = IdMaps()
    t0 = time.process_time()
    verdicts = [evaluate(c, Observed(found, rec, maps, None)) for c, found, rec in pairs]
    t1 = time.process_time()
    rows = [key_row(c, v, rec.file) for (c, _, rec), v in zip(pairs, verdicts)]
    t2 = time.process_time()
    sink = RowSink()
    for i in range(0, len(rows), UNIT_ROWS):  # units of rows, as the scorer's work units
        sink.extend(rows[i:i + UNIT_ROWS])
    sink.close()
    t3 = time.process_time()
    timed = {"evaluate": t1 - t0, "key_row": t2 - t1, "sink(dicts)": t3 - t2}
    try:
        from midib.score.rows import RowBatch
    except ImportError:
        return timed
    del rows, sink
    t3 = time.process_time()
    sink = RowSink()
    for i in range(0, len(pairs), UNIT_ROWS):
        batch = RowBatch()
        unit, unit_verdicts = pairs[i:i + UNIT_ROWS], verdicts[i:i + UNIT_ROWS]
        for start, end in _instances(unit):
            batch.add_keys([p[0] for p in unit[start:end]], unit_verdicts[start:end], unit[start][2].file)
        sink.extend_table(batch.table())
    sink.close()
    timed["batch+sink(columns)"] = time.process_time() - t3
    return timed


UNIT_ROWS = 2000


def unit_costs(bench: Path, run: Path) -> dict[str, float]:
    """CPU seconds per key check of judging every unit, outputs observed beforehand (untimed):
    ``warm`` (compiled units read from a cache folder filled first), ``compile`` (cache off)."""
    import os

    from midib.cli import main as cli_main
    from midib.score import checks as registry
    from midib.score import checkunits

    seen: dict = {}
    real_run_units = checkunits.run_units

    def keep(jobs, facts, key, judge, factory=None):  # type: ignore[no-untyped-def]
        # the pixel verdicts and the record store live in the score's scratch folder, gone
        # once it returns: keep the verdicts in memory and let the judge read outputs itself
        judge = dataclasses.replace(judge, precomputed=dict(judge.precomputed.items()), records=None)
        seen.update(facts=facts, key=key, judge=judge)
        return iter(())

    checkunits.run_units = keep  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory(prefix="bench_units_") as scratch:
            cli_main(["score", str(bench), str(run), "--jobs", "1", "--no-ocr", "--no-conformance",
                      "--out", scratch])
    finally:
        checkunits.run_units = real_run_units
    judge, spans = seen["judge"], checkunits.units(seen["facts"])
    records: dict = {}
    judge.observe = lambda rel, real=judge.observe: records.get(rel) or records.setdefault(rel, real(rel))
    checkunits.init_checks(str(seen["key"]), judge)
    env = os.environ.get("MIDIB_CACHE_DIR")
    out: dict[str, float] = {}
    try:   # the first pass fills the cache and observes every output once; then best of three
        os.environ["MIDIB_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_units_cache_")
        _judge_all(judge, spans, registry)
        out["warm"] = min(_judge_all(judge, spans, registry) for _ in range(3)) / seen["facts"].count
        os.environ["MIDIB_CACHE_DIR"] = "off"
        out["compile"] = min(_judge_all(judge, spans, registry) for _ in range(3)) / seen["facts"].count
    finally:
        os.environ.pop("MIDIB_CACHE_DIR") if env is None else os.environ.update(MIDIB_CACHE_DIR=env)
    return out


def _judge_all(judge, spans, registry) -> float:
    """CPU seconds to judge every unit once, from a cleared memo (as a fresh scorer)."""
    from midib.score import checkunits
    judge.rules.swept.clear()
    registry.clear_memo()
    t0 = time.process_time()
    for span in spans:
        checkunits.check_unit(span)
    return time.process_time() - t0


def _instances(unit) -> list[tuple[int, int]]:
    """[start, end) ranges of consecutive pairs of one instance."""
    spans, start = [], 0
    for i in range(1, len(unit) + 1):
        if i == len(unit) or unit[i][0].instance != unit[start][0].instance:
            spans.append((start, i))
            start = i
    return spans


def main(argv: list[str]) -> None:
    phase_only = "--phase-only" in argv
    argv = [a for a in argv if a != "--phase-only"]
    if argv:
        bench, runs = Path(argv[0]), [Path(a) for a in argv[1:]]
    else:
        bench, runs = DEFAULT / "bench-small", [DEFAULT / "run-identity", DEFAULT / "run-oracle"]
    for run in runs:
        seconds, n, out = phase(bench, run)
        print(f"{run.name}: checks phase {seconds:.2f} s for {n} key checks = "
              f"{1e6 * seconds / n:.1f} us/check (jobs 1, whole phase, CPU)")
        if phase_only:
            continue
        costs = unit_costs(bench, run)
        print(f"{run.name}: units without observe (us/check, CPU): warm cache "
              f"{1e6 * costs['warm']:.1f}, compiled in memory {1e6 * costs['compile']:.1f}")
        pairs = observed_pairs(bench, run, out / "results.parquet")
        timed = parts(pairs)
        detail = ", ".join(f"{k} {1e6 * v / len(pairs):.1f}" for k, v in timed.items())
        print(f"{run.name}: parts on {len(pairs)} matched checks (us/check, CPU): {detail}")
        dicts = timed["evaluate"] + timed["key_row"] + timed["sink(dicts)"]
        print(f"{run.name}: evaluate + rows + sink = {1e6 * dicts / len(pairs):.1f} us/check (dict rows)"
              + (f", {1e6 * (timed['evaluate'] + timed['batch+sink(columns)']) / len(pairs):.1f}"
                 " us/check (columns)" if "batch+sink(columns)" in timed else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
