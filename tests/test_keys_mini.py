"""The key semantics on the generated `mini` benchmark: profile switch and MIDI-B round trip."""

from __future__ import annotations

from collections import Counter

from midib.answer_key import ACTIONS, read_key, read_key_header
from midib.benchmark import Benchmark
from midib.cli import main
from midib.keys.derive import derive_key_file
from midib.keys.profile import load_profile


def test_generated_key_is_the_derivation_of_its_ledger(mini_bench):
    bench = Benchmark.open(mini_bench)
    profile = read_key_header(bench.checks_path)["profile"]
    derived = [c.to_dict() for c in derive_key_file(bench.ledger_path, load_profile(profile))]
    assert derived == [c.to_dict() for c in read_key(bench.checks_path)]
    assert all(c["action"] in ACTIONS for c in derived)


def test_profile_switch_on_the_same_ledger(mini_bench):
    ledger = Benchmark.open(mini_bench).ledger_path
    midi_b = Counter(c.action for c in derive_key_file(ledger, load_profile("midi-b")))
    basic = Counter(c.action for c in derive_key_file(ledger, load_profile("basic")))
    assert midi_b["date_shifted"] > 0 and basic["date_shifted"] == 0
    assert midi_b["pixels_hidden"] > 0 and basic["pixels_hidden"] == 0
    assert basic["text_removed"] > midi_b["text_removed"]


def test_export_import_round_trip_on_mini(mini_bench, tmp_path):
    db, out = tmp_path / "answer_data.db", tmp_path / "imported"
    assert main(["export-key", str(mini_bench), "--format", "midi-b", "--out", str(db)]) == 0
    assert main(["import-key", str(db), "--out", str(out)]) == 0
    original = Benchmark.open(mini_bench).checks_path
    assert [c.to_dict() for c in read_key(Benchmark.open(out).checks_path)] == \
        [c.to_dict() for c in read_key(original)]
