"""Merge patient parts, in patient order, into the benchmark folder: files, ledger, answer key.

Workers (:mod:`midib.generate.patients`) finish in any order; the parent consumes their parts
in patient order, so what it decides here is what a single process would have decided: the
file name of an instance whose export name is already taken (``<stem>-<instance number>.dcm``),
the global ledger ids (``L0000000`` upwards), and the answer key's header, which carries the
ledger's checksum. The ledger is hashed while written, so the key's header is patched in place
(same length) instead of reading the ledger back.

Two cross-patient cases are rare and handled the slow, simple way: a renamed file has its
lines re-encoded with the new name, and a patient ID shared by two patients (their first study
dates then interact in the key) makes the key be derived again from the finished ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import BinaryIO

from midib.answer_key import KEY_FORMAT, KEY_VERSION
from midib.benchmark import Benchmark
from midib.generate.patients import SENTINEL, InstancePart, PatientPart
from midib.jsonl import encode_record
from midib.ledger import LEDGER_FORMAT, LEDGER_VERSION

_PLACEHOLDER_SHA = "0" * 64


class TruthMerger:
    """Moves files into BENCH/input and streams ledger.jsonl and checks.jsonl as parts arrive."""

    def __init__(self, bench: Benchmark, tally, ledger_header: dict, profile_name: str) -> None:
        self.bench, self.tally = bench, tally
        self.partial = partial_dir(bench)
        self.dirs: set[Path] = set()
        self.owner: dict[str, int] = {}            # patient ID -> first patient that used it
        self.rederive = False
        self.n_entries = self.n_checks = 0
        self.ledger_hash = hashlib.sha256()
        self.ledger: BinaryIO = bench.ledger_path.open("wb")
        self.checks: BinaryIO = bench.checks_path.open("wb")
        self._ledger_line(encode_record({"format": LEDGER_FORMAT, "version": LEDGER_VERSION, **ledger_header}))
        self.key_header = {"format": KEY_FORMAT, "version": KEY_VERSION, "profile": profile_name,
                           "ledger_sha256": _PLACEHOLDER_SHA}
        self.checks.write((encode_record(self.key_header) + "\n").encode("utf-8"))

    def add(self, part: PatientPart) -> None:
        """Merge one patient (parts must come in patient order)."""
        for pid in sorted(part.patient_ids):
            if self.owner.setdefault(pid, part.patient) != part.patient:
                self.rederive = True
        for inst in part.instances:
            self._instance(inst)
        self.tally.patients += 1
        self.tally.studies += part.studies
        self.tally.series += part.series

    def _instance(self, inst: InstancePart) -> None:
        tally = self.tally
        rel, ledger, checks = inst.rel, inst.ledger, [line for _, line in inst.checks]
        if rel in tally.sha256:                    # the same rule as writer.write_instance
            stem = rel[:-4] if rel.endswith(".dcm") else rel
            rel = f"{stem}-{tally.instances}.dcm"
            ledger, checks = _renamed(ledger, rel), _renamed(checks, rel)
        target = self.bench.input_dir / rel
        if target.parent not in self.dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.dirs.add(target.parent)
        os.replace(self.partial / inst.part, target)
        tally.sha256[rel] = inst.sha256
        tally.instances += 1
        base = tally.next_id
        for k, line in enumerate(ledger):
            self._ledger_line(line.replace(SENTINEL, f"L{base + k:07d}", 1))
        out = [line.replace(SENTINEL, f"L{base + k:07d}") for (k, _), line in zip(inst.checks, checks)]
        if out:
            self.checks.write(("\n".join(out) + "\n").encode("utf-8"))
        tally.next_id += len(ledger)
        self.n_entries += len(ledger)
        self.n_checks += len(out)

    def _ledger_line(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        self.ledger.write(data)
        self.ledger_hash.update(data)

    def close(self) -> None:
        """Finish both files: the key's header gets the ledger checksum (same length, in place)."""
        self.ledger.close()
        header = encode_record({**self.key_header, "ledger_sha256": self.ledger_hash.hexdigest()})
        self.checks.seek(0)
        self.checks.write(header.encode("utf-8"))
        self.checks.close()


def _renamed(lines: list[str], rel: str) -> list[str]:
    """Lines whose ``file`` field is changed to ``rel`` (only after a name collision)."""
    out = []
    for line in lines:
        rec = json.loads(line)
        rec["file"] = rel
        out.append(encode_record(rec))
    return out


def partial_dir(bench: Benchmark) -> Path:
    """Where workers put finished files before the parent moves them into BENCH/input."""
    return bench.root / ".midib-partial"
