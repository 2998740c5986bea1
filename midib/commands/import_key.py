"""`midib import-key`: turn an official MIDI-B answer key (SQLite) into a midib benchmark folder.

The folder holds the answer key only (``answer_key/checks.jsonl``, a ledger of the values that
must disappear, for the leak sweep, and the mapping CSVs if given); the DICOM input is the
user's own TCIA download of the matching MIDI-B collection, so ``input/`` stays empty.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from midib.errors import MidibError

if TYPE_CHECKING:
    from midib.benchmark import Benchmark

HELP = "Turn an official MIDI-B answer key (SQLite) into a midib benchmark folder."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", type=Path, help="official answer key (answer_data.db)")
    parser.add_argument("--out", type=Path, required=True, help="benchmark folder to create")
    parser.add_argument("--uid-mapping", type=Path, help="official UID mapping CSV (id_old,id_new)")
    parser.add_argument("--patid-mapping", type=Path, help="patient ID mapping CSV (id_old,id_new)")
    parser.add_argument("--force", action="store_true", help="replace an existing --out folder")


def run(args: argparse.Namespace) -> int:
    # imported here: the MIDI-B reader brings pandas (~100 MB), and the CLI builds every
    # command's parser on each call, `midib score` included
    from midib.benchmark import Benchmark
    from midib.keys.mapping_csv import read_mapping
    from midib.keys.midi_b_read import read_midi_b_key

    bench = Benchmark(args.out)
    # read what can be refused before --out is touched: a bad key or mapping with --force once
    # deleted the benchmark there first, and a failure left a half-made answer_key/ behind
    next(iter(read_midi_b_key(args.key)), None)
    mappings = {name: read_mapping(p) for name, p in
                (("uid", args.uid_mapping), ("patid", args.patid_mapping)) if p}
    _prepare(bench.root, args.force)
    try:
        return _import(args, bench, mappings)
    except BaseException:
        shutil.rmtree(bench.root, ignore_errors=True)   # made empty by _prepare: only ours
        raise


def _import(args: argparse.Namespace, bench: "Benchmark", mappings: dict) -> int:
    """Write the key, the ledger derived from it, the profile, mappings and the manifest."""
    from midib import __version__
    from midib.answer_key import write_key
    from midib.keys.mapping_csv import write_mapping
    from midib.keys.midi_b_read import ledger_from_checks, read_midi_b_key
    from midib.keys.profile import load_profile
    from midib.ledger import write_ledger

    counts = _Counter()
    n_checks = write_key(bench.checks_path, counts.watch(read_midi_b_key(args.key)),
                         {"profile": "midi-b", "source": "midi-b-key"})
    n_ledger = write_ledger(bench.ledger_path, ledger_from_checks(read_midi_b_key(args.key)),
                            {"source": "midi-b-key"})
    profile = load_profile("midi-b")
    bench.profile_path.write_text(_json(profile.to_dict()), encoding="utf-8")
    files = {}
    for name, mapping in mappings.items():
        target = bench.key_dir / f"{name}_mapping.csv"
        write_mapping(target, mapping)
        files[name] = target.relative_to(bench.root).as_posix()
    bench.input_dir.mkdir(parents=True, exist_ok=True)
    bench.write_manifest({
        "midib_version": __version__, "seed": None, "preset": None, "profile": profile.name,
        "source": "midi-b-key", "key_file": args.key.name, "mapping": files,
        "counts": {**counts.summary(), "ledger_entries": n_ledger, "checks": n_checks},
        "input_sha256": {}, "skipped": []})
    print(f"imported {n_checks} checks for {counts.summary()['instances']} instances "
          f"into {bench.root}")
    return 0


def _prepare(root: Path, force: bool) -> None:
    """Refuse to overwrite a non-empty folder unless --force."""
    if root.exists() and any(root.iterdir()):
        if not force:
            raise MidibError(f"{root} exists and is not empty; use --force to replace it")
        if not (root / "benchmark.json").is_file():
            raise MidibError(f"{root} is not a midib benchmark; refusing to delete it")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)


def _json(data: dict) -> str:
    import json

    return json.dumps(data, indent=2, sort_keys=True) + "\n"


class _Counter:
    """Counts patients, studies, series and instances while checks stream past."""

    def __init__(self) -> None:
        self.sets: dict[str, set[str]] = {k: set() for k in
                                          ("patients", "studies", "series", "instances")}

    def watch(self, checks):
        for c in checks:
            for key, value in (("patients", c.patient_id), ("studies", c.study_uid),
                               ("series", c.series_uid), ("instances", c.instance)):
                self.sets[key].add(value)
            yield c

    def summary(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.sets.items()}
