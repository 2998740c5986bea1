"""What the parent keeps of a matched output once matching is done: the file and the
reference dates other instances' checks read, from full and slim records alike."""

from __future__ import annotations

from midib.score.dates import date_rows, shift_rows, shifts_by_patient
from midib.score.observation import Element, OutputRecord
from midib.score.workunits import SlimRecord


def _record() -> OutputRecord:
    return OutputRecord("a/b.dcm", {
        "(0008,0020)": [Element("(0008,0020)", "DA", ("20200105",))],
        "(0008,0018)": [Element("(0008,0018)", "UI", ("2.25.7",))],
        "(0008,0021)": [Element("(0008,0021)", "DA", ("20200107",))],
    }, uids=[Element("(0008,0018)", "UI", ("2.25.7",))], hits=[("n", "(0010,0010)", "DOE")])


def test_trimmed_keeps_only_the_asked_paths_of_full_and_slim_records() -> None:
    for rec in (_record(), SlimRecord(_record())):
        kept = rec.trimmed(frozenset({"(0008,0020)", "(0010,0010)"}))
        assert kept.file == "a/b.dcm"
        assert kept.at("(0008,0020)") == [Element("(0008,0020)", "DA", ("20200105",))]
        assert kept.at("(0008,0018)") == [] and kept.uids == [] and kept.hits == []
        assert list(kept.elements) == ["(0008,0020)"]   # absent paths leave no empty entry


def test_date_rows_from_counted_shifts_equal_those_from_the_records() -> None:
    pairs = {"i1": _record()}
    dates = {"i1": [("(0008,0020)", "20200101", "P1"), ("(0008,0021)", "20200102", "P1")]}
    shifts = shifts_by_patient(pairs, dates)
    assert dict(shifts["P1"]) == {4: 1, 5: 1}             # two different shifts: a failure
    assert shift_rows(shifts, {}) == date_rows(pairs, dates, {})
    assert shift_rows(shifts, {})[0]["passed"] is False


def test_the_key_index_built_in_a_child_equals_the_one_built_here(mini_bench) -> None:
    from midib.benchmark import Benchmark
    from midib.score.scorer import _index_apart, _index_of
    bench = Benchmark.open(mini_bench)
    apart, here = _index_apart(bench), _index_of(bench)
    assert apart.facts == here.facts and apart.facts.spans and apart.facts.pixel_checks
    assert apart.ledger == here.ledger
    assert apart.sweeper.needles.keys() == here.sweeper.needles.keys()


def test_a_corrupt_key_read_in_the_child_is_one_clear_error(mini_bench, tmp_path) -> None:
    import shutil

    import pytest

    from midib.benchmark import Benchmark
    from midib.errors import MidibError
    from midib.score.scorer import _index_apart
    copy = tmp_path / "bench"
    shutil.copytree(mini_bench / "answer_key", copy / "answer_key")
    shutil.copy(mini_bench / "benchmark.json", copy / "benchmark.json")
    key = copy / "answer_key" / "checks.jsonl"
    lines = key.read_text().splitlines(True)
    lines[3] = lines[3][:30] + "\n"
    key.write_text("".join(lines))
    with pytest.raises(MidibError, match=r"checks.jsonl:4: corrupt record"):
        _index_apart(Benchmark.open(copy))
