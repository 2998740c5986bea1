"""Benchmark sizes: how many patients, studies and instances each preset makes.

A preset fixes the shape of a benchmark (patients, studies per patient, instances per series
by object kind, image matrix); the scenarios of synthetic_phi/scenarios.json fix what a study
contains. ``mini`` (~100 instances, every kind, seconds) is for tests and the golden key,
``small`` (~2,000) for demos and throughput figures, ``midi-b`` (~54,000 over ~540 patients)
matches the size of the MIDI-B challenge's validation and test sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from midib.errors import MidibError
from midib.generate.identity import seeded_random
from midib.generate.planting.catalog import load


@dataclass(frozen=True)
class Preset:
    """The shape of a benchmark; ``uid_arc`` is its own component in every site's UID root.

    Why an arc per preset: ``mini`` and ``small`` at one seed share their first patients, and
    UIDs drawn from (seed, key) alone would then name a 128x128 CT in one benchmark and a
    256x256 CT in the other, while a UID must name one object worldwide (and scoring one
    benchmark's outputs against the other would pair files by UID wrongly). Distinct arcs put
    each preset's UIDs under disjoint roots, so no UID can be shared, whatever the hash.
    Never renumber an arc: it would change every UID of that preset's benchmarks.
    """

    name: str
    uid_arc: int                             # unique, > 0, never reused (see identity.site_uid_root)
    patients: int
    studies_per_patient: tuple[int, int]     # inclusive range, drawn per patient
    sites: int
    instances: dict[str, int]                # per series, by object kind (missing: builder default)
    matrix: dict[str, int] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "mini": Preset("mini", uid_arc=1, patients=5, studies_per_patient=(2, 3), sites=2,
                   instances={"CT": 8, "MR": 5, "PT": 8, "MG": 2, "CR": 1, "DX": 2, "US": 2,
                              "US_CINE": 1, "SC": 1, "SR": 1, "SEG": 1, "RTSTRUCT": 1},
                   matrix={"CT": 128, "MR": 128, "PT": 64}),
    "small": Preset("small", uid_arc=2, patients=30, studies_per_patient=(1, 3), sites=4,
                    instances={"CT": 40, "MR": 20, "PT": 40, "MG": 4, "CR": 2, "DX": 3, "US": 4,
                               "US_CINE": 1, "SC": 1, "SR": 1, "SEG": 1, "RTSTRUCT": 1},
                    matrix={"CT": 256, "MR": 256, "PT": 128}),
    # small's mix at five times the patients: enough instances to show how time and memory
    # scale with size, on a disk a laptop has (~4 GB)
    "medium": Preset("medium", uid_arc=4, patients=150, studies_per_patient=(1, 3), sites=6,
                     instances={"CT": 40, "MR": 20, "PT": 40, "MG": 4, "CR": 2, "DX": 3, "US": 4,
                                "US_CINE": 1, "SC": 1, "SR": 1, "SEG": 1, "RTSTRUCT": 1},
                     matrix={"CT": 256, "MR": 256, "PT": 128}),
    "midi-b": Preset("midi-b", uid_arc=3, patients=540, studies_per_patient=(1, 3), sites=12,
                     instances={"CT": 60, "MR": 25, "PT": 60, "MG": 4, "CR": 2, "DX": 3, "US": 4,
                                "US_CINE": 1, "SC": 1, "SR": 1, "SEG": 1, "RTSTRUCT": 1}),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``, or a MidibError listing the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise MidibError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}") from None


@dataclass(frozen=True)
class StudyPlan:
    """One planned study: the patient it belongs to and what it contains."""

    patient: int
    index: int                                # position in the patient's history
    scenario: dict


def plan_patients(preset: Preset, seed: int) -> Iterator[tuple[int, int, list[dict]]]:
    """(patient index, site index, scenarios of its studies) in generation order.

    The first studies of the benchmark take the scenarios in catalog order, so even ``mini``
    covers every object kind; later ones are drawn by weight from a seeded generator.
    """
    scenarios = load("scenarios")["studies"]
    weights = [s.get("weight", 1) for s in scenarios]
    rng = seeded_random(seed, "plan", preset.name)
    study_no = 0
    for p in range(preset.patients):
        n = rng.randint(*preset.studies_per_patient)
        chosen = []
        for _ in range(n):
            if study_no < len(scenarios):
                chosen.append(scenarios[study_no])
            else:
                chosen.append(rng.choices(scenarios, weights)[0])
            study_no += 1
        yield p, p % preset.sites, chosen
