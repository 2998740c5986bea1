"""Versioned files: ledgers, keys and manifests refuse what they cannot read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from midib.answer_key import Check, read_key, write_key
from midib.benchmark import Benchmark, checksum_tree, verify_tree
from midib.errors import FormatVersionError, MidibError
from midib.ledger import LedgerEntry, read_ledger, write_ledger


def _entry(i: int) -> LedgerEntry:
    return LedgerEntry(id=f"L{i}", role="phi", channel="attribute", kind="patient_name",
                       phi_class="names", instance="1.2.3", file="a/b.dcm", patient_id="P1",
                       study_uid="1.2", series_uid="1.2.1", modality="CT", path="(0010,0010)",
                       value="DOE^JOHN", extra={"safe": False})


def test_ledger_round_trip(tmp_path: Path) -> None:
    entries = [_entry(i) for i in range(3)]
    assert write_ledger(tmp_path / "l.jsonl", entries, {"seed": 1}) == 3
    assert list(read_ledger(tmp_path / "l.jsonl")) == entries


def test_key_round_trip(tmp_path: Path) -> None:
    check = Check(id="c1", instance="1.2.3", file="a.dcm", patient_id="P", study_uid="1", series_uid="2",
                  modality="CT", scope="instance", action="text_removed", path="(0010,0010)",
                  tag_name="PatientName", expected={"value": "DOE^JOHN"}, ledger_ids=["L1"])
    write_key(tmp_path / "k.jsonl", [check])
    assert list(read_key(tmp_path / "k.jsonl")) == [check]


def test_newer_format_and_wrong_kind_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps({"format": "midib-ledger", "version": 99}) + "\n")
    with pytest.raises(FormatVersionError, match="newer"):
        list(read_ledger(path))
    path.write_text(json.dumps({"format": "midib-answer-key", "version": 1}) + "\n")
    with pytest.raises(FormatVersionError, match="not a midib midib-ledger"):
        list(read_ledger(path))


def test_corrupt_record_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "l.jsonl"
    write_ledger(path, [_entry(1)])
    with path.open("a") as f:
        f.write("{not json\n")
    with pytest.raises(MidibError, match=r"l\.jsonl:3"):
        list(read_ledger(path))


def test_benchmark_open_errors_and_verification(tmp_path: Path) -> None:
    with pytest.raises(MidibError, match="not found"):
        Benchmark.open(tmp_path / "nope")
    with pytest.raises(MidibError, match="not a midib benchmark"):
        Benchmark.open(tmp_path)
    bench = Benchmark(tmp_path)
    bench.input_dir.mkdir()
    (bench.input_dir / "x.dcm").write_bytes(b"abc")
    sums = checksum_tree(bench.input_dir)
    bench.write_manifest({"input_sha256": sums})
    assert Benchmark.open(tmp_path).manifest()["input_sha256"] == sums
    (bench.input_dir / "x.dcm").write_bytes(b"abd")
    (bench.input_dir / "y.dcm").write_bytes(b"new")
    assert verify_tree(bench.input_dir, sums) == ["changed: x.dcm", "added: y.dcm"]


def test_cli_reports_user_errors_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from midib.cli import main

    assert main(["score", "/nonexistent/bench", "/nonexistent/run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("midib: error:")
