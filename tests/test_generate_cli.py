"""`midib generate`: bad input refused in one line, determinism, profile switch, identities."""

from __future__ import annotations

import json

import pytest

from midib.benchmark import Benchmark
from midib.cli import main
from midib.errors import MidibError
from midib.generate.identity import make_history, make_institution
from midib.generate.presets import PRESETS, get_preset
from midib.generate.writer import generate, write_key_for


def test_refuses_non_empty_folder_without_force(tmp_path, capsys):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("x")
    assert main(["generate", str(tmp_path / "b"), "--preset", "mini"]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args, names", [(["--preset", "huge"], ["mini", "small", "midi-b"]),
                                         (["--profile", "strict"], ["basic", "midi-b"])])
def test_unknown_names_list_the_valid_ones(tmp_path, capsys, args, names):
    assert main(["generate", str(tmp_path / "b"), *args]) == 2
    err = capsys.readouterr().err
    assert all(n in err for n in names)
    assert not (tmp_path / "b").exists()  # nothing written before validation


def test_same_seed_gives_byte_identical_files_and_keys(tmp_path, mini_bench):
    again = tmp_path / "again"
    generate(again, preset="mini", seed=0)
    a, b = Benchmark(mini_bench), Benchmark(again)
    assert a.manifest()["input_sha256"] == b.manifest()["input_sha256"]
    assert a.ledger_path.read_bytes() == b.ledger_path.read_bytes()
    assert a.checks_path.read_bytes() == b.checks_path.read_bytes()


def test_different_seeds_give_different_people():
    site0, site1 = make_institution(0, 0, 1), make_institution(1, 0, 1)
    h0 = make_history(0, 3, site0, 2, [("CT", "CHEST")])
    h1 = make_history(1, 3, site1, 2, [("CT", "CHEST")])
    assert h0.patient.name != h1.patient.name and h0.patient.patient_id != h1.patient.patient_id
    assert make_history(0, 3, site0, 2, [("CT", "CHEST")]).patient == h0.patient


def test_histories_are_consistent_in_time():
    h = make_history(5, 1, make_institution(5, 0, 1), 4, [("CT", "CHEST")])
    dates = [s.study_date for s in h.studies]
    assert dates == sorted(dates) and len(set(dates)) == 4
    for s in h.studies:
        age = int(h.patient.age_at(s.study_date)[:3])
        assert 18 <= age <= 95 and h.patient.birth_date < s.study_date


def test_force_is_needed_and_clears_only_midibs_parts(tmp_path):
    from midib.generate.writer import prepare_root

    root = tmp_path / "b"
    (root / "input" / "stale").mkdir(parents=True)
    (root / "input" / "stale" / "old.dcm").write_bytes(b"x")
    (root / "notes.txt").write_text("mine")
    with pytest.raises(MidibError, match="not empty"):
        generate(root, preset="mini", seed=2)
    prepare_root(root, force=True)
    assert not (root / "input" / "stale").exists() and (root / "notes.txt").read_text() == "mine"


def test_profile_switch_rederives_the_key_without_regenerating(tmp_path, mini_bench):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(Benchmark(mini_bench).key_dir, copy / "answer_key")
    bench = Benchmark(copy)
    from midib.keys.profile import load_profile

    n_basic = write_key_for(bench, load_profile("basic"))
    basic = bench.checks_path.read_text()
    assert json.loads(bench.profile_path.read_text())["name"] == "basic"
    assert json.loads(basic.splitlines()[0])["profile"] == "basic"
    midi = Benchmark(mini_bench).checks_path.read_text()
    assert basic != midi and n_basic > 0


def test_presets_have_the_documented_sizes():
    assert set(PRESETS) == {"mini", "small", "medium", "midi-b"}
    assert get_preset("midi-b").patients == 540 and get_preset("medium").patients == 5 * get_preset("small").patients
    assert len({p.uid_arc for p in PRESETS.values()}) == len(PRESETS)   # UIDs never shared
    with pytest.raises(MidibError, match="valid presets: mini, small, medium, midi-b"):
        get_preset("nope")
