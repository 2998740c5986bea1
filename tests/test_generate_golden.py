"""The committed answer key of the reference benchmark (`mini`, seed 0) matches a regeneration.

When generation or derivation changes on purpose, refresh the golden files with::

    MIDIB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_generate_golden.py

and commit answer_keys/mini-seed0/ with the change that caused it.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from midib.benchmark import Benchmark

GOLDEN = Path(__file__).resolve().parents[1] / "answer_keys" / "mini-seed0"
FILES = ("ledger.jsonl", "checks.jsonl")


def _write_gz(path: Path, data: bytes) -> None:
    """gzip with mtime 0 and no file name, so the same content gives the same bytes."""
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(data)


def refresh(bench: Benchmark) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        _write_gz(GOLDEN / f"{name}.gz", (bench.key_dir / name).read_bytes())
    (GOLDEN / "profile.txt").write_text(bench.manifest()["profile"] + "\n", encoding="utf-8")


def test_mini_seed0_key_matches_the_committed_golden(mini_bench: Path):
    bench = Benchmark(mini_bench)
    if os.environ.get("MIDIB_UPDATE_GOLDEN"):
        refresh(bench)
    assert (GOLDEN / "profile.txt").read_text().strip() == bench.manifest()["profile"]
    for name in FILES:
        want = gzip.decompress((GOLDEN / f"{name}.gz").read_bytes()).decode("utf-8").splitlines()
        got = (bench.key_dir / name).read_text(encoding="utf-8").splitlines()
        assert len(got) == len(want), f"{name}: {len(got)} lines, golden has {len(want)}"
        diff = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
        assert not diff, f"{name}: first difference at line {diff[0] + 1}:\n{got[diff[0]]}\n!=\n{want[diff[0]]}"
