"""Compiled key units (midib.score.compiledkey) and the fused judging loop of checkunits.

The compiled form must hold exactly the checks it was compiled from, the fused loop must give
the verdicts :func:`evaluate_uncached` gives (memo hit or not), and the per-user cache of
compiled units must never change a results row, whether cold, warm or damaged.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from midib.answer_key import Check
from midib.benchmark import Benchmark
from midib.cli import main
from midib.score import checkunits, compiledkey, keyfacts, records
from midib.score.checks import Observed, clear_memo, evaluate_uncached
from midib.score.rows import attribute_of, expected_text


@pytest.fixture
def cache_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(folder))
    return folder


def _key(bench: Path) -> Path:
    return Benchmark(bench).checks_path


def _spans(key: Path) -> list[tuple[int, int]]:
    spans: dict[str, tuple[int, int]] = {}
    facts = keyfacts.gather(keyfacts.raw_records(key, spans), lambda c: None, spans)
    return checkunits.units(facts)


def test_a_compiled_unit_holds_the_reconciled_checks_it_was_compiled_from(mini_bench: Path) -> None:
    checks = list(keyfacts.fast_checks(_key(mini_bench)))
    unit = compiledkey.compile_checks(checks)
    groups = [compiledkey.reconcile_cleaned(g) for g in keyfacts.by_instance(checks, True)]
    assert len(unit.bounds) == len(groups) and len(unit) == len(checks)
    fields = unit.field_columns()
    for (start, end), group in zip(unit.bounds, groups):
        tuples = unit.checks(start, end)
        for i, (check, light) in zip(range(start, end), zip(group, tuples)):
            made = compiledkey.make_check(fields, i)
            assert made == check, check.id
            assert light == tuple(getattr(check, f) for f in compiledkey.FIELDS)
            assert light.path == check.path and light.expected == check.expected
            meta = unit.row_columns(i, i + 1)
            assert meta["attribute"] == [attribute_of(check.path)]
            assert meta["expected"] == [expected_text(check.expected)]
            assert meta["path"] == [check.path or ""] and meta["weight"] == [float(check.weight)]
    # text_cleaned checks were reconciled (some retained word is also removed elsewhere) somewhere
    assert any(c.action == "text_cleaned" for g in groups for c in g)


def _captured_judge(bench: Path, run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The Judge the scorer builds for ``run`` (the units themselves are not judged)."""
    seen: dict = {}

    def capture(jobs, facts, key_path, judge, factory=None):
        seen.update(facts=facts, judge=judge)
        return iter(())
    monkeypatch.setattr(checkunits, "run_units", capture)
    monkeypatch.setattr(records.RecordSpill, "remove", lambda self: None)  # its stores outlive the score
    assert main(["score", str(bench), str(run), "--out", str(tmp_path / "captured"), "--no-ocr",
                 "--no-conformance"]) in (0, 1)
    return seen["judge"]


def test_the_fused_loop_gives_the_verdicts_of_evaluate_uncached(
        mini_bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check of the key, judged twice (cold memo, then memo hits), against an identity
    "run" (removals fail, retentions pass): the same verdicts as the unmemoised reference."""
    judge = _captured_judge(mini_bench, mini_bench / "input", tmp_path, monkeypatch)
    key, compared, hits = _key(mini_bench), 0, 0
    clear_memo()
    for span in _spans(key):
        unit = compiledkey.load_unit(key, span)
        fields = unit.field_columns()
        for start, end in unit.bounds:
            paired = judge.match.pairs[unit.columns["instance"][start]]
            rec = judge.observe(paired.file)
            for attempt in range(2):
                got = judge.verdicts(unit, start, end, rec)
                for i, verdict in zip(range(start, end), got):
                    check = compiledkey.make_check(fields, i)
                    want = evaluate_uncached(check, Observed(
                        checkunits.elements_for(check, rec), rec, judge.maps,
                        judge.precomputed.get(check.id), lookup=judge.match.pairs.get))
                    assert verdict == want, (check.id, attempt)
                    compared += 1
                    hits += attempt
    assert compared > 1000 and hits > 0


def test_scores_are_the_same_with_the_cache_off_cold_warm_and_damaged(
        mini_bench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = mini_bench / "input"

    def score(name: str) -> bytes:
        out = tmp_path / name
        assert main(["score", str(mini_bench), str(run), "--out", str(out), "--no-ocr",
                     "--no-conformance", "--jobs", "2"]) in (0, 1)
        return (out / "results.csv").read_bytes()

    off = score("off")
    folder = tmp_path / "cache"
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(folder))
    cold = score("cold")
    entries = sorted(folder.glob("score-units-*/*.pkl"))
    assert entries, "compiled units were not stored"
    warm = score("warm")
    entries[0].write_bytes(b"not a pickle")   # a damaged entry is compiled again, not trusted
    entries[-1].write_bytes(pickle.dumps("a pickle of something else"))
    damaged = score("damaged")
    assert off == cold == warm == damaged
    assert len(off.splitlines()) > 1000


def test_a_changed_key_file_is_compiled_again(cache_on: Path, tmp_path: Path, mini_bench: Path) -> None:
    key = tmp_path / "checks.jsonl"
    key.write_bytes(_key(mini_bench).read_bytes())
    span = _spans(key)[0]
    first = compiledkey.load_unit(key, span)
    assert len(list(cache_on.glob("score-units-*/*.pkl"))) == 1
    st = key.stat()
    os.utime(key, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))   # the key was rewritten
    again = compiledkey.load_unit(key, span)
    assert len(list(cache_on.glob("score-units-*"))) == 2
    assert again.columns["id"] == first.columns["id"]


def test_a_warm_unit_is_read_from_the_cache(cache_on: Path, tmp_path: Path, mini_bench: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    key = _key(mini_bench)
    span = _spans(key)[0]
    cold = compiledkey.load_unit(key, span)

    def must_not_parse(*args, **kw):
        raise AssertionError("the key was parsed again despite a compiled unit in the cache")
    monkeypatch.setattr(keyfacts, "read_span", must_not_parse)
    warm = compiledkey.load_unit(key, span)
    assert warm.columns == cold.columns and warm.bounds == cold.bounds


def test_only_the_newest_keys_compiled_units_are_kept(
        cache_on: Path, tmp_path: Path, mini_bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiledkey, "KEEP_KEYS", 2)
    data = _key(mini_bench).read_bytes()
    span = _spans(_key(mini_bench))[0]
    made: list[Path] = []
    for n in range(4):
        key = tmp_path / f"checks{n}.jsonl"
        key.write_bytes(data)
        compiledkey.load_unit(key, span)
        made += [f for f in cache_on.glob("score-units-*") if f not in made]
        os.utime(made[-1], (1000 + n, 1000 + n))   # distinct ages, oldest first
    assert sorted(cache_on.glob("score-units-*")) == sorted(made[-2:])


def test_a_cache_that_cannot_be_written_still_judges(tmp_path: Path, mini_bench: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(blocker / "midib"))
    key = _key(mini_bench)
    span = _spans(key)[0]
    unit = compiledkey.load_unit(key, span)
    assert len(unit) > 0 and unit.bounds[0][0] == 0


def _c(action: str, path: str | None, expected: dict, instance: str = "1.2.3") -> Check:
    return Check(id=f"{action}/{path}/{len(str(expected))}", instance=instance, file="f.dcm",
                 patient_id="P", study_uid="1.2", series_uid="1.2.1", modality="CT",
                 scope="instance", action=action, path=path, tag_name="", expected=expected)


def test_words_removed_from_an_element_are_not_also_required_there() -> None:
    """Two PHI fragments in one description: each text_cleaned check lists the other's words as
    retained, which can never pass; those words are dropped, other elements are left alone and
    the checks given are not changed."""
    desc = "(0008,1030)"
    first = _c("text_cleaned", desc, {"removed": ["DOE"], "retained": ["CHEST", "SMITH"], "value": "x"})
    second = _c("text_cleaned", desc, {"removed": ["SMITH"], "retained": ["CHEST", "DOE"], "value": "x"})
    removal = _c("text_removed", desc, {"value": "Chest"})          # CHEST removed too, by a removal
    elsewhere = _c("text_cleaned", "(0008,103e)", {"removed": ["ROE"], "retained": ["DOE"], "value": "x"})
    other_instance = _c("text_cleaned", desc, {"removed": ["X"], "retained": ["SMITH"], "value": "x"}, "9.9")
    pathless = _c("text_cleaned", None, {"removed": ["DOE"], "retained": ["DOE"], "value": "x"})
    given = [first, second, removal, elsewhere, other_instance, pathless]
    before = [dict(c.expected) for c in given]
    out = compiledkey.reconcile_cleaned(given)
    assert [c.expected.get("retained") for c in out] == [[], [], None, ["DOE"], ["SMITH"], ["DOE"]]
    assert out[2] is removal and out[3] is elsewhere and out[5] is pathless
    assert [c.expected for c in given] == before
    assert compiledkey.reconcile_cleaned([removal, elsewhere]) == [removal, elsewhere]


def test_a_unit_to_be_cached_holds_each_repeated_string_once(mini_bench: Path) -> None:
    """Pickled units stay small because an instance's repeated strings (its UID, study, series,
    file...) are one object each, written once per unit; the values are unchanged."""
    checks = list(keyfacts.fast_checks(_key(mini_bench)))[:400]
    shared = compiledkey.compile_checks(checks, shared=True)
    plain = compiledkey.compile_checks(checks)
    assert shared.columns == plain.columns
    instances = shared.columns["instance"]
    assert len({id(v) for v in instances}) == len(set(instances)) < len(instances)
    assert len(pickle.dumps(shared)) < len(pickle.dumps(plain))


def test_rows_from_a_compiled_unit_are_the_rows_of_key_row(mini_bench: Path) -> None:
    """RowBatch.add_columns (ready columns of a compiled unit) gives, row for row, the values
    of key_row for the same check and verdict; a partial set of columns is refused."""
    from midib.score.rows import RowBatch, key_row
    from midib.score.verdict import Verdict
    checks = list(keyfacts.fast_checks(_key(mini_bench)))[:300]
    unit = compiledkey.compile_checks(checks)
    batch = RowBatch()
    expected_rows = []
    for n, (start, end) in enumerate(unit.bounds):
        verdicts = [Verdict.ok("seen") if (i + n) % 3 else Verdict.fail("why", "x", 0.5)
                    for i in range(start, end)]
        batch.add_columns(unit.row_columns(start, end), verdicts, f"out/{n}.dcm")
        group = compiledkey.reconcile_cleaned(checks[start:end])
        expected_rows += [key_row(c, v, f"out/{n}.dcm") for c, v in zip(group, verdicts)]
    assert batch.rows() == expected_rows
    with pytest.raises(ValueError, match="every check column"):
        batch.add_columns({"check_id": ["x"]}, [Verdict.ok()], "out/x.dcm")
