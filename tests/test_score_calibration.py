"""Calibration on the generated `mini` benchmark: the baselines must land where they should.

oracle (applies the answer key) must score 100.00 %; identity (copies) must fail every removal
check and pass every retention check; strip (removes nearly everything) must fail retention.
Slow: generation and three tool runs take tens of seconds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from midib.cli import main

# Calibration is the proof that scores mean something: it runs in the default suite (~30 s).

REMOVAL = {"text_removed", "text_cleaned", "date_shifted", "uid_changed", "text_notnull",
           "pixels_hidden", "overlay_hidden", "deid_recorded"}
RETENTION = {"text_retained", "tag_retained", "pixels_retained"}


@pytest.fixture(scope="module")
def scored(mini_bench: Path, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("calibration")
    out = {}
    for tool in ("oracle", "identity", "strip"):
        run = root / tool
        assert main(["run", str(mini_bench), "--tool", tool, "--out", str(run)]) == 0
        assert main(["score", str(mini_bench), str(run), "--no-ocr", "--jobs", "2"]) == 0
        out[tool] = pd.read_parquet(run / "score" / "results.parquet")
    return out


def test_oracle_scores_100(scored) -> None:
    df = scored["oracle"]
    failed = df[~df.passed & (df.source != "conformance")]
    assert failed.empty, failed.groupby(["source", "action"]).size().to_string() + "\n" + \
        failed[["check_id", "reason"]].head(10).to_string()


def test_oracle_introduces_no_conformance_errors(scored) -> None:
    conf = scored["oracle"][scored["oracle"].source == "conformance"]
    assert conf.passed.all(), conf[~conf.passed].reason.value_counts().head().to_string()


def test_identity_introduces_no_conformance_errors(scored) -> None:
    conf = scored["identity"][scored["identity"].source == "conformance"]
    assert conf.passed.all()


def test_identity_fails_every_removal_and_passes_every_retention(scored) -> None:
    key = scored["identity"][scored["identity"].source == "key"]
    assert not key[key.action.isin(REMOVAL)].passed.any()
    retention = key[key.action.isin(RETENTION)]
    assert len(retention) and retention.passed.all(), retention[~retention.passed].reason.head().tolist()


def test_strip_fails_retention(scored) -> None:
    key = scored["strip"][scored["strip"].source == "key"]
    assert not key[key.action.isin(RETENTION)].passed.all()


def test_jobs_do_not_change_results(mini_bench: Path, tmp_path: Path, scored) -> None:
    run = tmp_path.parent / "calibration0" / "identity"
    if not run.is_dir():
        pytest.skip("calibration folder layout changed")
    assert main(["score", str(mini_bench), str(run), "--no-ocr", "--out", str(tmp_path / "j1")]) == 0
    one = pd.read_parquet(tmp_path / "j1" / "results.parquet")
    pd.testing.assert_frame_equal(one, scored["identity"])


def test_profile_rederives_the_key(mini_bench: Path, tmp_path: Path, scored) -> None:
    run = tmp_path.parent / "calibration0" / "oracle"
    if not run.is_dir():
        pytest.skip("calibration folder layout changed")
    out = tmp_path / "basic"
    assert main(["score", str(mini_bench), str(run), "--no-ocr", "--profile", "basic", "--out", str(out)]) == 0
    import json
    summary = json.loads((out / "summary.json").read_text())
    assert summary["profile"] == "basic"
    assert summary["overall"]["total"] != len(scored["oracle"])


def test_a_kept_private_copy_of_a_uid_fails_its_removal_not_every_consistency_check(
        mini_bench: Path, tmp_path: Path) -> None:
    """A tool that replaces the StudyInstanceUID everywhere but leaves the original in a private
    element the profile removes (GE's (0043,1061), planted by the generator) fails that private
    element's removal check; the UID map derived from the pairs (no mapping CSV) is learnt where
    the key expects UIDs replaced, so the study's consistency checks still pass, as they do
    when the same run is scored with its mapping CSV."""
    import json
    import shutil

    import pydicom
    run = tmp_path / "oracle"
    assert main(["run", str(mini_bench), "--tool", "oracle", "--out", str(run)]) == 0
    mapping = {}
    for line in (run / "mapping" / "uid_mapping.csv").read_text().splitlines()[1:]:
        old, new = line.split(",")[:2]
        mapping[new] = old
    planted = {}
    for line in (mini_bench / "answer_key" / "ledger.jsonl").read_text().splitlines()[1:]:
        e = json.loads(line)
        if e["role"] == "phi" and e.get("vr") == "UI" and "GEMS_PARM_01" in (e.get("path") or ""):
            planted[e["instance"]] = e["value"]
    assert planted, "the mini benchmark plants a UID in GE's private group"
    out = tmp_path / "submission"
    shutil.copytree(run / "output", out)
    kept = 0
    for f in sorted(out.rglob("*.dcm")):
        ds = pydicom.dcmread(f)
        old = mapping.get(ds.SOPInstanceUID)
        if old in planted:
            block = ds.private_block(0x0043, "GEMS_PARM_01", create=True)
            block.add_new(0x61, "UI", planted[old])
            ds.save_as(f)
            kept += 1
    assert kept
    for name, scored_run in (("csv", run), ("content", out)):
        dest = tmp_path / f"score-{name}"
        main(["score", str(mini_bench), str(scored_run), "--no-ocr", "--no-conformance", "--out", str(dest)])
        rows = pd.read_parquet(dest / "results.parquet")
        if name == "content":
            removal = rows[rows.path.str.contains("GEMS_PARM_01", regex=False) & rows.action.eq("text_removed")
                           & rows.expected.str.contains("1.2.", regex=False)]
            assert len(removal) >= kept and not removal.passed.any()
        uid_rows = rows[rows.action.isin(["uid_consistent", "uid_one_to_one"])]
        assert len(uid_rows) and uid_rows.passed.all(), (name, uid_rows[~uid_rows.passed].reason.head(3).tolist())
