"""One patient's share of a synthetic benchmark, made on its own so patients can run in parallel.

Why a patient: generation is CPU-bound Python (building, planting, encoding DICOM, deriving
checks), so more cores means more processes, and a patient is the natural unit of work.
Everything the generator draws is seeded by (seed, patient, study, series, instance), and the
patient's answer-key checks depend only on the patient's own ledger entries. The few facts
that span patients (file-name collisions, global ledger ids, a patient ID shared by two
patients) are settled by the parent when it merges the parts in patient order
(:mod:`midib.generate.merge`), so the output is byte-identical whatever the number of jobs.

A worker writes its DICOM files under a private partial folder (the parent moves them into
place) and returns its ledger and check lines already JSON-encoded, with a placeholder
ledger id (:data:`SENTINEL`) the parent replaces by the real one.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
from pydicom.dataset import Dataset

from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.identity import make_history, make_institution, seeded_random
from midib.generate.planting import private
from midib.generate.planting.instance import PlantedInstance, PlantingContext
from midib.generate.presets import Preset
from midib.jsonl import encode_record
from midib.keys.derive import checks_by_entry, index_ledger
from midib.keys.profile import Profile
from midib.validation import unvalidated

#: placeholder ledger id, as long as a real one (``L0000000``); no planted value contains it
SENTINEL = "L@@@@@@@"


@dataclass(frozen=True)
class PatientJob:
    """What a worker needs to make patient ``patient`` (picklable, small)."""

    preset: Preset
    seed: int
    profile: Profile
    partial: str                   # folder the worker writes its files into
    patient: int
    site: int
    scenarios: tuple[dict, ...]


@dataclass
class InstancePart:
    """One written instance: its temporary file, intended name, checksum and truth lines."""

    part: str                      # file name inside the partial folder
    rel: str                       # intended path relative to BENCH/input
    sha256: str
    ledger: list[str]              # JSON lines, ``id`` = SENTINEL
    checks: list[tuple[int, str]]  # (offset in this instance of the entry it checks, JSON line)


@dataclass
class PatientPart:
    """A whole patient's output, in generation order."""

    patient: int
    studies: int = 0
    series: int = 0
    instances: list[InstancePart] = field(default_factory=list)
    patient_ids: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


class PatientMaker:
    """Builds, plants and encodes patients of one (preset, seed); caches devices per process."""

    def __init__(self, preset: Preset, seed: int, builders=None) -> None:
        if builders is None:
            from midib.generate import objects as builders
        self.preset, self.seed, self.objects = preset, seed, builders
        self.safety = private.safety_map(builders.private_catalog())
        self.devices: dict[tuple[int, str], Device] = {}
        self.missing_kinds: set[str] = set()

    def make(self, job: PatientJob) -> PatientPart:
        """Generate one patient: files under ``job.partial``, truth as lines (see module doc)."""
        part = PatientPart(job.patient)
        done: list[tuple[PlantedInstance, str, str]] = []
        with unvalidated():   # builders write valid values; validating again was slow
            for inst in self._instances(job, part):
                done.append((inst, *_write_part(inst, Path(job.partial), job.patient, len(done))))
        entries = [e for inst, _, _ in done for e in inst.entries]
        for e in entries:
            e.id = SENTINEL
        owner = [(i, k) for i, (inst, _, _) in enumerate(done) for k in range(len(inst.entries))]
        checks: list[list[tuple[int, str]]] = [[] for _ in done]
        for pos, check in checks_by_entry(entries, job.profile, index_ledger(entries, job.profile)):
            i, k = owner[pos]
            checks[i].append((k, encode_record(check.to_dict())))
        for (inst, name, digest), lines in zip(done, checks):
            ledger = [encode_record(e.to_dict()) for e in inst.entries]
            part.instances.append(InstancePart(name, inst.file, digest, ledger, lines))
        part.patient_ids = {e.patient_id for e in entries}
        return part

    def _instances(self, job: PatientJob, part: PatientPart) -> Iterator[PlantedInstance]:
        from midib.generate.writer import plant_instance

        site = make_institution(self.seed, job.site, self.preset.uid_arc)
        plans = [(s["description"], s["body_part"]) for s in job.scenarios]
        history = make_history(self.seed, job.patient, site, len(job.scenarios), plans)
        for study, scenario in zip(history.studies, job.scenarios):
            for kind, series in self._study(job.site, study, scenario, part):
                description = str(series[0].get("SeriesDescription", kind)) if series else kind
                number = int(series[0].get("SeriesNumber", 1)) if series else 1
                ctx = PlantingContext(study, self._device(job.site, kind), self.seed, kind,
                                      history.studies[:study.index], self.safety)
                for i, ds in enumerate(series):
                    rng = seeded_random(self.seed, "instance", str(ds.get("SOPInstanceUID", i)))
                    inst = PlantedInstance(ds, ctx, rng)
                    plant_instance(inst, description, i, number)
                    yield inst
                part.series += 1
            part.studies += 1

    def _device(self, site: int, kind: str) -> Device:
        """One device per site and modality, so station names and serials recur like real ones."""
        key = (site, kind)
        if key not in self.devices:
            rng = np.random.default_rng(seeded_random(self.seed, "device", site, kind).getrandbits(64))
            self.devices[key] = self.objects.pick_device(kind, rng, self.seed)
        return self.devices[key]

    def _study(self, site: int, study: StudyContext, scenario: dict,
               part: PatientPart) -> Iterator[tuple[str, list[Dataset]]]:
        """(kind, datasets) per series of the study; the first CT is the source of SEG/RTSTRUCT."""
        uids = UidFactory(study.institution.uid_root, self.seed)
        source: Optional[list[Dataset]] = None
        for number, kind in enumerate(scenario["series"], start=1):
            rng = np.random.default_rng(seeded_random(self.seed, "series", study.study_uid, number).getrandbits(64))
            try:
                series = self.objects.build_series(
                    kind, study, self._device(site, kind), uids, rng, series_number=number,
                    n_instances=self.preset.instances.get(kind), matrix=self.preset.matrix.get(kind),
                    source=source)
            except (ValueError, NotImplementedError) as e:
                if kind not in self.objects.OBJECT_KINDS and kind not in self.missing_kinds:
                    raise
                if kind not in self.missing_kinds:
                    self.missing_kinds.add(kind)
                    part.warnings.append(f"object kind {kind} not available ({e}); skipped")
                continue
            if kind == "CT" and source is None:
                source = series
            yield kind, series


def _write_part(inst: PlantedInstance, partial: Path, patient: int, k: int) -> tuple[str, str]:
    """Encode the instance to its temporary file; return (file name, sha256 of the bytes)."""
    from midib.generate.writer import encode_dataset

    data = encode_dataset(inst.ds)
    name = f"{patient:06d}-{k:06d}.dcm"
    (partial / name).write_bytes(data)
    return name, hashlib.sha256(data).hexdigest()


_MAKERS: dict[tuple[str, int], PatientMaker] = {}


def make_patient(job: PatientJob) -> PatientPart:
    """Worker entry point: one patient, with a per-process maker (device cache) per (preset, seed)."""
    key = (job.preset.name, job.seed)
    if key not in _MAKERS:
        _MAKERS[key] = PatientMaker(job.preset, job.seed)
    return _MAKERS[key].make(job)


def print_warnings(part: PatientPart, seen: set[str]) -> None:
    """Print each worker warning once for the whole run."""
    for w in part.warnings:
        if w not in seen:
            seen.add(w)
            print(f"midib: warning: {w}", file=sys.stderr)
