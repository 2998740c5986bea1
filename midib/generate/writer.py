"""Orchestration: plan patients, make them (in worker processes), merge files and the truth.

Streaming by design: patients are made independently (:mod:`midib.generate.patients`, one
process per core by default) and merged in patient order (:mod:`midib.generate.merge`) as
they arrive, so the files, ledger and key are byte-identical for any ``jobs`` and memory
stays bounded by a few patients. ``--base`` sources are planted in one process, streaming
entries to the ledger; their key is derived afterwards from the ledger file.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from pydicom import dcmwrite
from pydicom.dataset import Dataset

from midib import __version__
from midib.benchmark import Benchmark
from midib.errors import MidibError
from midib.generate.planting import attributes, filenames, free_text, overlays, pixels, private, sequences
from midib.generate.planting.instance import PlantedInstance
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
        for part in (bench.input_dir, bench.key_dir, bench.root / ".midib-partial"):
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
    data = encode_dataset(inst.ds)
    target = bench.input_dir / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    tally.sha256[rel] = hashlib.sha256(data).hexdigest()
    tally.instances += 1
    for e in inst.entries:
        e.id = f"L{tally.next_id:07d}"
        tally.next_id += 1
        yield e


def encode_dataset(ds: Dataset) -> bytes:
    """The bytes of ``ds`` as a DICOM file (preamble, file meta), as every instance is written."""
    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


class SyntheticSource:
    """The from-scratch world of a preset: the plan of patients, made by workers, merged in order."""

    def __init__(self, preset: Preset, seed: int, builders=None) -> None:
        self.preset, self.seed, self.builders = preset, seed, builders
        self.plan = list(plan_patients(preset, seed))

    @property
    def total_studies(self) -> int:
        return sum(len(s) for _, _, s in self.plan)

    def write(self, bench: Benchmark, tally: Tally, profile, header: dict, jobs: int,
              bar: "_progress") -> tuple[int, int]:
        """Make every patient and merge the parts; return (ledger entries, checks)."""
        from midib.generate.merge import TruthMerger, partial_dir
        from midib.generate.patients import PatientJob, print_warnings

        partial = partial_dir(bench)
        partial.mkdir(parents=True, exist_ok=True)
        todo = [PatientJob(self.preset, self.seed, profile, str(partial), p, site, tuple(scenarios))
                for p, site, scenarios in self.plan]
        merger, warned = TruthMerger(bench, tally, header, profile.name), set()
        try:
            with self._pool(jobs, len(todo)) as pool, bar as step:
                for part in self._parts(todo, pool, jobs):
                    print_warnings(part, warned)
                    merger.add(part)
                    for _ in range(part.studies):
                        step()
        finally:
            merger.close()
        shutil.rmtree(partial, ignore_errors=True)
        if merger.rederive:                      # a patient ID shared by two patients
            return merger.n_entries, write_key_for(bench, profile)
        return merger.n_entries, merger.n_checks

    def _pool(self, jobs: int, n_patients: int):
        """A process pool with its workers already started, or a null context for one process.

        Started before the progress bar's thread exists: forking while another thread holds a
        lock (e.g. stderr's) could leave a worker blocked on it.
        """
        if jobs <= 1 or n_patients <= 1 or self.builders is not None:
            return nullcontext(None)
        pool = ProcessPoolExecutor(max_workers=min(jobs, n_patients))
        pool.submit(int).result()                # forks every worker now (fork start method)
        return _closing_pool(pool)

    def _parts(self, todo: list, pool: Optional[ProcessPoolExecutor], jobs: int) -> Iterator:
        """Patient parts in plan order: in this process, or from the pool with a bounded window."""
        from midib.generate.patients import PatientMaker, make_patient

        if pool is None:
            maker = PatientMaker(self.preset, self.seed, self.builders)
            yield from (maker.make(job) for job in todo)
            return
        pending, ahead = deque(), iter(todo)
        for job in ahead:
            pending.append(pool.submit(make_patient, job))
            if len(pending) >= 2 * jobs:
                break
        while pending:
            part = pending.popleft().result()
            job = next(ahead, None)
            if job is not None:
                pending.append(pool.submit(make_patient, job))
            yield part


@contextmanager
def _closing_pool(pool: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """The pool, shut down on exit; on an error (or Ctrl-C) queued patients are dropped, not made."""
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


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
             builders=None, jobs: int | None = None) -> dict:
    """Write a whole benchmark folder; return its manifest. The one entry point of ``midib generate``.

    ``jobs`` worker processes make patients (default: one per CPU); the output does not depend on it.
    """
    from midib.generate.presets import get_preset
    from midib.keys.profile import load_profile

    chosen = load_profile(profile)            # validate names before touching the disk
    spec = get_preset(preset)
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise MidibError(f"--jobs must be at least 1 (got {jobs})")
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
    header = {"seed": seed, "preset": preset, "midib_version": __version__, "source": label}
    bar = _progress(progress, source.total_studies)
    if isinstance(source, SyntheticSource):
        n_entries, n_checks = source.write(bench, tally, chosen, header, jobs, bar)
        write_profile(bench, chosen)
    else:
        with bar as step:
            n_entries = write_truth(bench, source.entries(bench, tally, step), header)
        n_checks = write_key_for(bench, chosen)
    tally.skipped = getattr(source, "skipped", [])
    body = manifest_body(tally, seed, preset, chosen.name, label, n_entries, n_checks)
    bench.write_manifest(body)
    return body


def default_jobs() -> int:
    """One worker per CPU this process may use (affinity-aware where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                    # not on Linux
        return max(1, os.cpu_count() or 1)


def write_key_for(bench: Benchmark, profile) -> int:
    """Derive the answer key from the written ledger under ``profile``; write it and profile.json."""
    from midib.answer_key import write_key
    from midib.benchmark import sha256_file
    from midib.keys.derive import derive_key_file

    header = {"profile": profile.name, "ledger_sha256": sha256_file(bench.ledger_path)}
    n = write_key(bench.checks_path, derive_key_file(bench.ledger_path, profile), header)
    write_profile(bench, profile)
    return n


def write_profile(bench: Benchmark, profile) -> None:
    """answer_key/profile.json: the profile the key was derived under."""
    import json

    bench.profile_path.write_text(json.dumps(profile.to_dict(), indent=2, sort_keys=True) + "\n",
                                  encoding="utf-8")


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
