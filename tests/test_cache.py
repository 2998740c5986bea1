"""The per-user cache of facts derived from benchmark files: reused while the files are unchanged,
recomputed when they change or the entry is damaged, never consulted when turned off."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from midib import cache


@pytest.fixture
def cache_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(folder))
    return folder


def counting(value: object) -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> object:
        calls.append(1)
        return value
    return calls, compute


def test_reused_while_the_file_is_unchanged_and_recomputed_after_a_change(cache_on: Path, tmp_path: Path) -> None:
    src = tmp_path / "key.jsonl"
    src.write_text("one")
    calls, compute = counting({"facts": [1, 2, 3]})
    assert cache.cached("k", (src,), compute) == {"facts": [1, 2, 3]}
    assert cache.cached("k", (src,), compute) == {"facts": [1, 2, 3]}
    assert len(calls) == 1
    src.write_text("two, longer")          # size and mtime change
    cache.cached("k", (src,), compute)
    assert len(calls) == 2
    cache.cached("k", (src,), compute, extra="another input folder")
    assert len(calls) == 3


def test_a_damaged_entry_is_recomputed_not_trusted(cache_on: Path, tmp_path: Path) -> None:
    src = tmp_path / "key.jsonl"
    src.write_text("x")
    calls, compute = counting([42])
    cache.cached("k", (src,), compute)
    (entry,) = cache_on.glob("k-*.pkl")
    entry.write_bytes(b"\x80\x05garbage")
    assert cache.cached("k", (src,), compute) == [42]
    assert len(calls) == 2


def test_off_means_no_folder_and_no_reuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIDIB_CACHE_DIR", "off")
    src = tmp_path / "key.jsonl"
    src.write_text("x")
    calls, compute = counting(1)
    cache.cached("k", (src,), compute)
    cache.cached("k", (src,), compute)
    assert len(calls) == 2 and cache.cache_dir() is None


def test_an_unwritable_cache_folder_still_computes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("MIDIB_CACHE_DIR", str(blocker / "midib"))
    src = tmp_path / "key.jsonl"
    src.write_text("x")
    assert cache.cached("k", (src,), lambda: "value") == "value"


def test_old_entries_are_pruned(cache_on: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    src = tmp_path / "key.jsonl"
    src.write_text("x")
    for i in range(6):
        cache.cached("k", (src,), lambda: i, extra=str(i))
        os.utime(next(iter(sorted(cache_on.glob("*.pkl")))), None)
    assert len(list(cache_on.glob("*.pkl"))) == 3


def test_scoring_with_a_warm_cache_gives_the_same_rows_without_re_reading_the_key(
        mini_bench: Path, cache_on: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from midib.cli import main
    from midib.score import keyfacts
    run = mini_bench / "input"   # the inputs themselves: an identity "run"
    assert main(["score", str(mini_bench), str(run), "--out", str(tmp_path / "cold"), "--no-ocr",
                 "--no-conformance"]) == 0
    assert {p.name.split("-")[1] for p in cache_on.glob("*.pkl")} >= {"key"}

    def must_not_run(*args, **kw):
        raise AssertionError("the key was indexed again despite a warm cache")
    monkeypatch.setattr(keyfacts, "gather", must_not_run)
    assert main(["score", str(mini_bench), str(run), "--out", str(tmp_path / "warm"), "--no-ocr",
                 "--no-conformance"]) == 0
    cold = pd.read_csv(tmp_path / "cold" / "results.csv")
    warm = pd.read_csv(tmp_path / "warm" / "results.csv")
    pd.testing.assert_frame_equal(cold, warm)


def test_entries_of_another_midib_are_never_read(cache_on: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed midib (new code, same benchmark files) must recompute: an old pickle of a
    changed structure would otherwise be read back as if it were current."""
    src = tmp_path / "key.jsonl"
    src.write_text("x")
    calls, compute = counting("v")
    cache.cached("k", (src,), compute)
    monkeypatch.setattr(cache, "code_digest", lambda: "another midib")
    cache.cached("k", (src,), compute)
    assert len(calls) == 2
