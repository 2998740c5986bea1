"""Parallel generation: any --jobs gives the same bytes; the parent's merge settles cross-patient facts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydicom import config as pydicom_config

from midib.answer_key import Check, read_key, read_key_header
from midib.benchmark import Benchmark
from midib.cli import main
from midib.generate.merge import TruthMerger, partial_dir
from midib.generate.patients import SENTINEL, InstancePart, PatientPart
from midib.generate.writer import Tally, generate, prepare_root
from midib.jsonl import encode_record
from midib.ledger import read_ledger


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (manifest, ledger, key, every DICOM file)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("jobs", [1, 3])
def test_any_number_of_jobs_gives_byte_identical_benchmarks(tmp_path, mini_bench, jobs):
    generate(tmp_path / "b", preset="mini", seed=0, jobs=jobs)
    got, want = _digests(tmp_path / "b"), _digests(mini_bench)
    assert got.keys() == want.keys()
    assert [k for k in got if got[k] != want[k]] == []
    assert not partial_dir(Benchmark(tmp_path / "b")).exists()


def test_generation_restores_pydicom_validation_settings(tmp_path):
    s = pydicom_config.settings
    before = (s.reading_validation_mode, s.writing_validation_mode)
    generate(tmp_path / "b", preset="mini", seed=4, jobs=1)
    assert (s.reading_validation_mode, s.writing_validation_mode) == before


def test_jobs_below_one_is_refused_before_writing(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:    # argparse's usage line, then the error
        main(["generate", str(tmp_path / "b"), "--jobs", "0"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "argument --jobs: must be at least 1" in err.strip().splitlines()[-1]
    assert not (tmp_path / "b").exists()


def _line(**fields) -> str:
    base = {"id": SENTINEL, "role": "phi", "channel": "attribute", "kind": "patient_name",
            "phi_class": "names", "instance": "1.2.3", "file": "P/a.dcm", "patient_id": "MRN1",
            "study_uid": "1.2", "series_uid": "1.2.1", "modality": "CT", "path": "(0010,0010)",
            "value": "DOE^JOHN", "vr": "PN"}
    return encode_record({**base, **fields})


def _part(partial: Path, patient: int, pid: str, rels: list[str]) -> PatientPart:
    """A hand-made patient part: one file and two entries (each with one check) per instance."""
    part = PatientPart(patient, studies=1, series=1, patient_ids={pid})
    for k, rel in enumerate(rels):
        name = f"{patient}-{k}.dcm"
        (partial / name).write_bytes(f"{patient}-{k}".encode())
        uid = f"1.2.{patient}.{k}"
        ledger = [_line(instance=uid, file=rel, patient_id=pid), _line(instance=uid, file=rel, value="X")]
        check = Check(id=f"{SENTINEL}/text_removed", instance=uid, file=rel, patient_id=pid,
                      study_uid="1.2", series_uid="1.2.1", modality="CT", scope="instance",
                      action="text_removed", path="(0010,0010)", tag_name="PatientName",
                      expected={"value": "DOE^JOHN"}, ledger_ids=[SENTINEL])
        checks = [(j, encode_record(check.to_dict())) for j in (0, 1)]
        part.instances.append(InstancePart(name, rel, f"sha-{patient}-{k}", ledger, checks))
    return part


def _merge(tmp_path: Path, parts_spec: list[tuple[str, list[str]]]) -> tuple[Benchmark, Tally, TruthMerger]:
    bench = prepare_root(tmp_path / "m", force=False)
    partial = partial_dir(bench)
    partial.mkdir()
    tally = Tally()
    merger = TruthMerger(bench, tally, {"seed": 0}, "midi-b")
    for patient, (pid, rels) in enumerate(parts_spec):
        merger.add(_part(partial, patient, pid, rels))
    merger.close()
    return bench, tally, merger


def test_merge_numbers_entries_in_order_and_renames_a_taken_file_name(tmp_path):
    bench, tally, merger = _merge(tmp_path, [("MRN1", ["P/a.dcm", "P/b.dcm"]), ("MRN2", ["P/a.dcm"])])
    assert (tally.instances, tally.patients, tally.next_id) == (3, 2, 6)
    assert sorted(tally.sha256) == ["P/a-2.dcm", "P/a.dcm", "P/b.dcm"]
    assert (bench.input_dir / "P/a.dcm").read_bytes() == b"0-0"       # first patient keeps the name
    assert (bench.input_dir / "P/a-2.dcm").read_bytes() == b"1-0"
    entries = list(read_ledger(bench.ledger_path))
    assert [e.id for e in entries] == [f"L{i:07d}" for i in range(6)]
    assert [e.file for e in entries][-2:] == ["P/a-2.dcm", "P/a-2.dcm"]
    checks = list(read_key(bench.checks_path))
    assert [c.ledger_ids for c in checks] == [[f"L{i:07d}"] for i in range(6)]
    assert checks[-1].id == "L0000005/text_removed" and checks[-1].file == "P/a-2.dcm"
    assert not merger.rederive


def test_key_header_carries_the_checksum_of_the_ledger_as_written(tmp_path):
    bench, _, merger = _merge(tmp_path, [("MRN1", ["P/a.dcm"])])
    header = read_key_header(bench.checks_path)
    assert header["ledger_sha256"] == hashlib.sha256(bench.ledger_path.read_bytes()).hexdigest()
    assert header["profile"] == "midi-b" and merger.n_checks == 2
    first = json.loads(bench.checks_path.read_text(encoding="utf-8").splitlines()[0])
    assert first == header


def test_a_patient_id_shared_by_two_patients_asks_for_a_full_derivation(tmp_path):
    _, _, merger = _merge(tmp_path, [("MRN1", ["P/a.dcm"]), ("MRN1", ["Q/a.dcm"])])
    assert merger.rederive
