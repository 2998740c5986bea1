"""Orchestration: plan patients, build series, plant every channel, write files and the truth.

Streaming by design: one series is built, planted and written at a time, and its ledger
entries go straight to ``ledger.jsonl``; only file checksums (for the manifest) accumulate.
The answer key is derived afterwards from the ledger file (two streaming passes), so it can
be re-derived under another profile without regenerating the data.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset

from midib import __version__
from midib.benchmark import Benchmark
from midib.errors import MidibError
from midib.generate.context import Device, StudyContext, UidFactory
from midib.generate.identity import make_history, make_institution, seeded_random
from midib.generate.planting import attributes, filenames, free_text, overlays, pixels, private, sequences
from midib.generate.planting.instance import PlantedInstance, PlantingContext
from midib.generate.presets import Preset, plan_patients
from midib.ledger import LedgerEntry, write_ledger


@dataclass
class Tally:
    """What has been written so far: counts and the checksum of every input file."""

    patients: int = 0
    studies: int = 0
    series: int = 0
    instances: int = 0
    sha256: dict[str, str] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    next_id: int = 0

    def counts(self) -> dict[str, int]:
        return {"patients": self.patients, "studies": self.studies, "series": self.series,
                "instances": self.instances}


def prepare_root(root: Path, force: bool) -> Benchmark:
    """Refuse a non-empty BENCH unless ``force``; with it, clear only midib's own parts."""
    bench = Benchmark(root)
    if root.exists() and not root.is_dir():
        raise MidibError(f"{root} exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        if not force:
            raise MidibError(f"{root} is not empty; choose a new folder or pass --force to replace it")
        for part in (bench.input_dir, bench.key_dir):
            shutil.rmtree(part, ignore_errors=True)
        bench.manifest_path.unlink(missing_ok=True)
    bench.input_dir.mkdir(parents=True, exist_ok=True)
    bench.key_dir.mkdir(parents=True, exist_ok=True)
    return bench


def plant_instance(inst: PlantedInstance, series_description: str, index: int,
                   series_number: int, pixels_too: bool = True) -> str:
    """Run every PHI channel on one instance, then record the ledger; return its relative path.

    ``pixels_too=False`` (``--base``) leaves pixel data and overlays exactly as they were.
    """
    attributes.plant(inst)
    sequences.plant(inst)
    free_text.plant(inst)
    private.plant(inst)
    if pixels_too:
        pixels.plant(inst)
        overlays.plant(inst)
    rel = filenames.plant(inst, series_description, index, series_number)
    attributes.record(inst)
    pixels.record_pixel_md5(inst)
    return rel


def write_instance(bench: Benchmark, tally: Tally, inst: PlantedInstance) -> Iterator[LedgerEntry]:
    """Write the file (name made unique if an export would collide), checksum it, yield entries."""
    rel = inst.file
    if rel in tally.sha256:
        stem = rel[:-4] if rel.endswith(".dcm") else rel
        rel = f"{stem}-{tally.instances}.dcm"
        inst.set_file(rel)
    buf = io.BytesIO()
    dcmwrite(buf, inst.ds, enforce_file_format=True)
    data = buf.getvalue()
    target = bench.input_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    tally.sha256[rel] = hashlib.sha256(data).hexdigest()
    tally.instances += 1
    for e in inst.entries:
        e.id = f"L{tally.next_id:07d}"
        tally.next_id += 1
        yield e


class SyntheticSource:
    """The from-scratch world of a preset: patients, their studies, series from the builders."""

    def __init__(self, preset: Preset, seed: int, builders=None) -> None:
        if builders is None:
            from midib.generate import objects as builders
        self.preset, self.seed, self.objects = preset, seed, builders
        self.safety = private.safety_map(builders.private_catalog())
        self.devices: dict[tuple[int, str], Device] = {}
        self.plan = list(plan_patients(preset, seed))
        self.missing_kinds: set[str] = set()

    @property
    def total_studies(self) -> int:
        return sum(len(s) for _, _, s in self.plan)

    def entries(self, bench: Benchmark, tally: Tally, step: Callable[[], None]) -> Iterator[LedgerEntry]:
        """Generate everything, writing files as it goes; yield ledger entries in order."""
        sites = {i: make_institution(self.seed, i) for i in range(self.preset.sites)}
        for p, site, scenarios in self.plan:
            plans = [(s["description"], s["body_part"]) for s in scenarios]
            history = make_history(self.seed, p, sites[site], len(scenarios), plans)
            tally.patients += 1
            for study, scenario in zip(history.studies, scenarios):
                yield from self._study(bench, tally, site, study, scenario, history.studies[:study.index])
                tally.studies += 1
                step()

    def _device(self, site: int, kind: str) -> Device:
        """One device per site and modality, so station names and serials recur like real ones."""
        key = (site, kind)
        if key not in self.devices:
            rng = np.random.default_rng(seeded_random(self.seed, "device", site, kind).getrandbits(64))
            self.devices[key] = self.objects.pick_device(kind, rng, self.seed)
        return self.devices[key]

    def _study(self, bench, tally, site, study: StudyContext, scenario, priors) -> Iterator[LedgerEntry]:
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
                if kind in self.objects.OBJECT_KINDS and kind not in self.missing_kinds:
                    self.missing_kinds.add(kind)
                    print(f"midib: warning: object kind {kind} not available ({e}); skipped", file=sys.stderr)
                    continue
                if kind in self.missing_kinds:
                    continue
                raise
            if kind == "CT" and source is None:
                source = series
            yield from self._series(bench, tally, study, kind, series, priors, site)

    def _series(self, bench, tally, study, kind, series, priors, site) -> Iterator[LedgerEntry]:
        description = str(series[0].get("SeriesDescription", kind)) if series else kind
        number = int(series[0].get("SeriesNumber", 1)) if series else 1
        ctx = PlantingContext(study, self._device(site, kind), self.seed, kind, priors, self.safety)
        for i, ds in enumerate(series):
            rng = seeded_random(self.seed, "instance", str(ds.get("SOPInstanceUID", i)))
            inst = PlantedInstance(ds, ctx, rng)
            plant_instance(inst, description, i, number)
            yield from write_instance(bench, tally, inst)
        tally.series += 1


def write_truth(bench: Benchmark, entries: Iterator[LedgerEntry], header: dict) -> int:
    """Stream the ledger to answer_key/ledger.jsonl; return the number of entries."""
    return write_ledger(bench.ledger_path, entries, header)


def manifest_body(tally: Tally, seed: int, preset: str, profile: str, source: str,
                  n_entries: int, n_checks: int) -> dict:
    """The manifest's content (benchmark.json) as documented in docs/architecture.md."""
    return {"midib_version": __version__, "seed": seed, "preset": preset, "profile": profile,
            "source": source, "counts": {**tally.counts(), "ledger_entries": n_entries, "checks": n_checks},
            "input_sha256": dict(sorted(tally.sha256.items())), "skipped": tally.skipped}


def generate(root: Path, *, preset: str = "mini", seed: int = 0, profile: str | None = None,
             base: Optional[Path] = None, force: bool = False, progress: bool = False,
             builders=None) -> dict:
    """Write a whole benchmark folder; return its manifest. The one entry point of ``midib generate``."""
    from midib.generate.presets import get_preset
    from midib.keys.profile import load_profile

    chosen = load_profile(profile)            # validate names before touching the disk
    spec = get_preset(preset)
    if base is not None:
        from midib.generate.base import BaseSource
        source = BaseSource(Path(base), seed, builders)
        source.check_outside(root)
        label = f"base:{Path(base).as_posix()}"
    else:
        source = SyntheticSource(spec, seed, builders)
        label = "synthetic"
    bench = prepare_root(Path(root), force)
    tally = Tally()
    with _progress(progress, source.total_studies) as step:
        header = {"seed": seed, "preset": preset, "midib_version": __version__, "source": label}
        n_entries = write_truth(bench, source.entries(bench, tally, step), header)
    tally.skipped = getattr(source, "skipped", [])
    n_checks = write_key_for(bench, chosen)
    body = manifest_body(tally, seed, preset, chosen.name, label, n_entries, n_checks)
    bench.write_manifest(body)
    return body


def write_key_for(bench: Benchmark, profile) -> int:
    """Derive the answer key from the written ledger under ``profile``; write it and profile.json."""
    import json

    from midib.answer_key import write_key
    from midib.benchmark import sha256_file
    from midib.keys.derive import derive_key_file

    header = {"profile": profile.name, "ledger_sha256": sha256_file(bench.ledger_path)}
    n = write_key(bench.checks_path, derive_key_file(bench.ledger_path, profile), header)
    bench.profile_path.write_text(json.dumps(profile.to_dict(), indent=2, sort_keys=True) + "\n",
                                  encoding="utf-8")
    return n


class _progress:
    """A rich progress bar over studies (silent when disabled); yields a ``step()`` callable."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.start()
        task = self.bar.add_task("generating studies", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self.bar.stop()
