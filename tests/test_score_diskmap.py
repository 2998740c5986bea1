"""Per-instance facts on disk: the SQLite mapping, its place in the cache, and what the scorer
keeps in memory once they are there (nothing per instance that it can read back by key)."""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import numpy as np
import pytest

from midib.score.diskmap import DiskMap, Subset, write_tables


def _child_reads(dm: DiskMap, key: str, out) -> None:
    out.put(dm[key])


def test_a_disk_map_reads_back_what_was_written_in_order(tmp_path: Path) -> None:
    items = [("b", [("(0008,0018)", "1.2.3")]), ("a", {"box": [1, 2, 3, 4]}), ("c", None)]
    dm = DiskMap.write(tmp_path / "m.db", "facts", items)
    assert list(dm) == ["b", "a", "c"] and len(dm) == 3
    assert list(dm.items()) == items
    assert dm["a"] == {"box": [1, 2, 3, 4]} and dm.get("zz", "none") == "none"
    assert "c" in dm and "zz" not in dm
    with pytest.raises(KeyError):
        dm["zz"]


def test_a_disk_map_pickles_as_its_path_and_works_in_a_forked_child(tmp_path: Path) -> None:
    dm = DiskMap.write(tmp_path / "m.db", "facts", [("x", ("2.25.1", "2.25.2"))])
    assert dm["x"] == ("2.25.1", "2.25.2")         # a connection opened here, before the fork
    blob = pickle.dumps(dm)
    assert len(blob) < 300 and pickle.loads(blob)["x"] == ("2.25.1", "2.25.2")
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_child_reads, args=(dm, "x", out))
    child.start()
    child.join(30)
    assert child.exitcode == 0 and out.get(timeout=5) == ("2.25.1", "2.25.2")


def test_a_removed_file_makes_the_map_unusable_not_empty(tmp_path: Path) -> None:
    maps = write_tables(tmp_path / "k.db", {"one": [("a", 1)], "two": [("b", 2)]})
    assert maps["one"].usable() and maps["two"]["b"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.db"]   # no temporary file left
    (tmp_path / "k.db").unlink()
    assert not DiskMap(tmp_path / "k.db", "one").usable()
    assert not DiskMap(tmp_path / "missing.db", "one").usable()


def test_a_subset_shows_only_the_asked_keys_whose_values_it_keeps(tmp_path: Path) -> None:
    dm = DiskMap.write(tmp_path / "m.db", "t", [("c", 3), ("a", 1), ("b", -2)])
    view = Subset(dm, ["a", "b", "zz"], keep=lambda v: v > 0)
    assert list(view.items()) == [("a", 1)] and list(view) == ["a"] and len(view) == 1
    assert view.get("b") is None and view.get("c") is None


def test_the_key_index_keeps_per_instance_facts_on_disk_and_rebuilds_a_lost_file(
        mini_bench: Path, tmp_path: Path, monkeypatch) -> None:
    from midib.benchmark import Benchmark
    from midib.score.scorer import load_key
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(tmp_path / "cache"))
    bench = Benchmark.open(mini_bench)
    index, _, _ = load_key(bench, None)
    for facts in (index.facts.pixel_checks, index.facts.boxes, index.ledger.uids, index.ledger.dates,
                  index.facts.first, index.facts.spans):
        assert isinstance(facts, DiskMap) and len(facts) > 0
    assert list(index.facts.first) == list(index.facts.spans)           # both in key order
    inst, who = next(iter(index.facts.first.items()))
    assert who.instance == inst and index.facts.spans[inst][0] < index.facts.spans[inst][1]
    assert Path(index.ledger.uids.path).parent == tmp_path / "cache"   # beside the cached index
    first = next(iter(index.ledger.uids))
    planted = index.ledger.uids[first]
    assert planted and all(old for _, old in planted)
    Path(index.ledger.uids.path).unlink()                              # the cache half cleaned
    again, _, _ = load_key(bench, None)
    assert again.usable() and again.ledger.uids[first] == planted


def test_with_the_cache_off_the_facts_go_to_a_scratch_folder(mini_bench: Path, monkeypatch) -> None:
    from midib.benchmark import Benchmark
    from midib.score import diskmap
    from midib.score.scorer import load_key
    monkeypatch.setenv("MIDIB_CACHE_DIR", "off")
    index, _, _ = load_key(Benchmark.open(mini_bench), None)
    assert Path(index.facts.boxes.path).parent == diskmap.scratch_dir()
    assert index.usable()


def test_the_parent_keeps_only_matching_paths_of_each_output_and_the_rest_on_disk(
        mini_bench: Path, tmp_path: Path) -> None:
    from midib.benchmark import Benchmark
    from midib.score import workunits
    from midib.score.inputs import output_files
    from midib.score.matching import FEATURE_PATHS
    from midib.score.records import RecordSpill
    from midib.score.scorer import _observed, load_key
    bench = Benchmark.open(mini_bench)
    index, _, _ = load_key(bench, None)
    files, _ = output_files(bench.input_dir, None)
    initargs = (str(bench.input_dir), index.identifying_paths(), index.sweeper, frozenset(index.facts.wanted))
    views: list = []
    with workunits.make_executor(1, initargs) as ex:
        full, whole = _observed(ex, workunits.file_units(files), RecordSpill(tmp_path / "records.db"),
                                views.append)
    assert sorted(v.file for v in views) == sorted(files) and len(full) == len(files) == len(whole)
    kept = {key for v in views for key in v.found[::2]}
    assert kept and kept <= set(FEATURE_PATHS)
    on_disk = {key for _, rec in full.items() for key in rec.elements}
    assert on_disk - set(FEATURE_PATHS)             # planted identifiers and dates, read back later
    assert on_disk <= index.identifying_paths()
    assert full[views[0].file].first("(0008,0018)") == views[0].first("(0008,0018)")
    assert all(rec.uids and rec.hits for _, rec in whole.items())   # inputs: every UID, PHI everywhere


def test_crops_settled_in_the_worker_get_the_verdicts_the_parent_would_give() -> None:
    from midib.score import pixelstage
    blank = np.zeros((40, 60), dtype=np.uint16)
    written = blank.copy()
    written[10:20, 10:40] = np.arange(30, dtype=np.uint16) * 100
    crops = [("blank", blank, [5, 5, 50, 30], "DOE"), ("written", written, [5, 5, 50, 30], "DOE")]
    without = pixelstage.PixelJob(list(crops))
    settled = pixelstage.settle_without_ocr(without, use_ocr=False)
    stats = pixelstage.OcrStats()
    assert settled == pixelstage.run_ocr(pixelstage.PixelJob(list(crops)), False, stats)
    assert settled["blank"].passed and not settled["written"].passed and not without.crops
    with_ocr = pixelstage.PixelJob(list(crops))
    settled = pixelstage.settle_without_ocr(with_ocr, use_ocr=True)
    assert list(settled) == ["blank"] and settled["blank"].passed
    assert [c[0] for c in with_ocr.crops] == ["written"]            # left for tesseract


def test_a_subset_lists_in_key_order_whether_its_base_was_written_sorted_or_not(tmp_path: Path) -> None:
    rows = [("c", 3), ("a", 1), ("b", 2), ("d", -1)]
    for name, items in (("unsorted", rows), ("sorted", sorted(rows))):
        dm = DiskMap.write(tmp_path / f"{name}.db", "t", items)
        assert dm.sorted_keys() == (name == "sorted")
        view = Subset(dm, ["d", "c", "a"], keep=lambda v: v > 0)
        assert list(view.items()) == [("a", 1), ("c", 3)]
        assert list(view.without(["a"]).items()) == [("c", 3)]


def test_ordered_map_keeps_order_and_never_takes_more_than_its_window() -> None:
    """Units are taken from a generator only as results are handed on (the observe, pixel and
    check phases read theirs from disk), and results come in submission order."""
    from concurrent.futures import ThreadPoolExecutor

    from midib.score import workunits
    taken: list[int] = []

    def units():
        for n in range(20):
            taken.append(n)
            yield n
    with ThreadPoolExecutor(3) as ex:
        out = []
        for result in workunits.ordered_map(ex, lambda n: n * n, units(), window=4):
            assert len(taken) - len(out) <= 4       # at most the window ahead of the consumer
            out.append(result)
    assert out == [n * n for n in range(20)]
    assert list(workunits.batched(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_spool_writes_each_key_as_the_next_starts_and_keeps_first_come_order(tmp_path: Path) -> None:
    """Grouped keys are written once each; a key that comes back (a file not grouped by
    instance) is read back and extended in its own row, so the table equals the dict the same
    calls would have built, in the same order."""
    from midib.score.diskmap import Spool, Writer
    calls = [("a", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5), ("c", 6), ("d", 7)]
    expected: dict[str, list[int]] = {}
    for k, v in calls:
        expected.setdefault(k, []).append(v)
    with Writer(tmp_path / "s.db", ("t", "u")) as writer:
        spool, single = Spool(writer, "t"), Spool(writer, "u")
        for k, v in calls:
            spool.setdefault(k, []).append(v)
            assert k in spool and spool.get(k) == expected_so_far(calls, k, v)
            if k not in single:
                single[k] = v
        assert "zz" not in spool and spool.get("zz", 0) == 0
        spool.flush()
        single.flush()
    assert list(DiskMap(tmp_path / "s.db", "t").items()) == list(expected.items())
    assert dict(DiskMap(tmp_path / "s.db", "u").items()) == {"a": 1, "b": 3, "c": 4, "d": 7}
    with pytest.raises(ValueError, match="no table"):
        Spool(Writer(tmp_path / "other.db", ("t",)), "nope")


def expected_so_far(calls: list[tuple[str, int]], key: str, upto: int) -> list[int]:
    return [v for k, v in calls if k == key and v <= upto]


@pytest.mark.parametrize("broken", ["store", "store and scratch"])
def test_an_index_whose_store_cannot_be_written_falls_back_and_is_the_same(
        mini_bench: Path, tmp_path: Path, monkeypatch, broken: str) -> None:
    """A read-only cache gives way to the scratch folder; with neither writable, the facts stay
    in memory. Each way, the index holds the same facts."""
    from midib.benchmark import Benchmark
    from midib.score import diskmap, keyfacts, scorer
    bench = Benchmark.open(mini_bench)

    def facts(index) -> tuple:
        return ({k: list(v) for k, v in index.ledger.uids.items()}, dict(index.facts.first.items()),
                {k: [c.id for c in v] for k, v in index.facts.pixel_checks.items()},
                dict(index.facts.spans.items()), sorted(index.facts.wanted))
    raw = lambda: keyfacts.key_source(bench.checks_path, spans)[1]()  # noqa: E731
    spans: dict = {}
    good = scorer.index_key(bench, raw, spans, tmp_path / "ok.db")
    assert isinstance(good.ledger.uids, DiskMap) and Path(good.ledger.uids.path) == tmp_path / "ok.db"
    reference = facts(good)
    real_writer = diskmap.Writer

    def failing(path: Path, tables):
        if "key-" not in path.name or broken == "store and scratch":
            raise OSError(f"read-only: {path}")
        return real_writer(path, tables)
    monkeypatch.setattr(diskmap, "Writer", failing)
    spans = {}
    fallen = scorer.index_key(bench, raw, spans, tmp_path / "ro.db")
    assert not (tmp_path / "ro.db").exists() and not list(tmp_path.glob("ro.db.*"))
    if broken == "store":
        assert Path(fallen.ledger.uids.path).parent == diskmap.scratch_dir()
    else:
        assert isinstance(fallen.ledger.uids, dict) and isinstance(fallen.facts.first, dict)
    assert facts(fallen) == reference
