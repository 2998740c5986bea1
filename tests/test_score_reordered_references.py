"""Reference sequences are unordered lists: a tool that writes their items in another order
has kept every reference. The answer key pins each reference to its item, so the scorer must
find the mapped UID in any item (an oracle with reversed items scored 99.59 %), and still fail
a reference that points nowhere.

Uses the session's `mini` benchmark (conftest) and one oracle run, copied per test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pydicom
import pytest
from pydicom.sequence import Sequence

from midib.cli import main

UNORDERED = {"ReferencedSOPSequence", "ContourImageSequence", "ReferencedInstanceSequence",
             "SourceImageSequence", "ReferencedImageSequence"}
UID_ACTIONS = ["uid_consistent", "uid_reference", "uid_references", "uid_changed", "uid_one_to_one"]


@pytest.fixture(scope="module")
def oracle(mini_bench: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("reordered") / "oracle"
    assert main(["run", str(mini_bench), "--tool", "oracle", "--out", str(run)]) == 0
    return run


def _rewrite(run: Path, edit) -> int:
    """Apply ``edit`` to every unordered sequence of two or more items; files changed."""
    changed = 0
    for path in sorted((run / "output").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        hits = []

        def walk(d) -> None:
            for elem in d:
                if elem.VR == "SQ":
                    if elem.keyword in UNORDERED and len(elem.value) > 1:
                        hits.append(elem)
                    for item in elem.value:
                        walk(item)
        walk(ds)
        for elem in hits:
            edit(elem)
        if hits:
            ds.save_as(path)
            changed += 1
    return changed


def _uid_rows(bench: Path, run: Path, out: Path) -> pd.DataFrame:
    assert main(["score", str(bench), str(run), "--out", str(out), "--no-ocr", "--no-conformance",
                 "--jobs", "1"]) == 0
    rows = pd.read_parquet(out / "results.parquet")
    return rows[rows.action.isin(UID_ACTIONS)]


def test_reversed_reference_items_keep_every_reference(mini_bench: Path, oracle: Path,
                                                       tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(oracle, run)
    assert _rewrite(run, lambda e: setattr(e, "value", Sequence(list(e.value)[::-1]))) > 0
    rows = _uid_rows(mini_bench, run, tmp_path / "score")
    assert len(rows) and rows.passed.all(), rows[~rows.passed][["path", "reason"]].head().to_string()
    assert rows.reason.str.contains("items reordered").any()


def test_a_reference_replaced_by_a_stranger_still_fails(mini_bench: Path, oracle: Path,
                                                        tmp_path: Path) -> None:
    """Reordering is forgiven only where the mapped UID is in some item: an item whose
    reference now names an object that exists nowhere fails, the others pass."""
    run = tmp_path / "run"
    shutil.copytree(oracle, run)
    stranger = pydicom.uid.generate_uid(prefix="2.25.")

    def spoil(elem) -> None:
        item = elem.value[0]
        if "ReferencedSOPInstanceUID" in item:
            item.ReferencedSOPInstanceUID = stranger
    assert _rewrite(run, spoil) > 0
    rows = _uid_rows(mini_bench, run, tmp_path / "score")
    failed = rows[~rows.passed]
    named = failed.observed.str.contains(stranger) | failed.reason.str.contains(stranger)
    assert len(failed) and named.any(), failed[["path", "reason"]].head().to_string()
    assert set(failed.action) <= {"uid_consistent", "uid_reference", "uid_references"}


def test_a_reference_gone_with_a_removable_sequence_is_no_failure(mini_bench: Path, oracle: Path,
                                                                  tmp_path: Path) -> None:
    """PS3.15 lets a tool remove Request Attributes Sequence (X): the key's checks inside it
    passed, but the uid_references rule failed "(0040,0275)[0](0020,000d) removed" (PixelMed)."""
    run = tmp_path / "run"
    shutil.copytree(oracle, run)
    removed = 0
    for path in sorted((run / "output").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        if "RequestAttributesSequence" in ds:
            del ds.RequestAttributesSequence
            ds.save_as(path)
            removed += 1
    assert removed
    rows = _uid_rows(mini_bench, run, tmp_path / "score")
    assert rows.passed.all(), rows[~rows.passed][["action", "reason"]].head().to_string()
