"""Channel "filename": the TCIA-like folder and file names, some carrying PHI as exports do.

``PATIENT/MM-DD-YYYY-STUDY DESCRIPTION-ACCESSION/N.000000-SERIES DESCRIPTION-NNNNN/1-01.dcm``:
the patient folder is the MRN (or, for some sites, ``FAMILY_GIVEN``), the study folder starts
with the study date, and some series are exported with SOPInstanceUIDs as file names. Each
identifying fragment of a file's relative path is one ledger entry (path None, context = the
relative path), so the leak sweep can look for it in output names.
"""

from __future__ import annotations

import re


from midib.generate.identity import seeded_random
from midib.generate.planting.instance import PlantedInstance

_UNSAFE = re.compile(r"[^A-Za-z0-9 _.,+-]+")


def clean_part(text: str, limit: int = 48) -> str:
    """A folder-name-safe version of a description (no separators or shell-special characters)."""
    return _UNSAFE.sub(" ", text).strip()[:limit].strip() or "NA"


def relative_path(inst: PlantedInstance, series_description: str, instance_index: int,
                  series_number: int) -> tuple[str, list[tuple[str, str, str]]]:
    """(relative POSIX path, [(fragment, kind, phi_class)]) for one instance."""
    ctx, ds = inst.ctx, inst.ds
    study, patient = ctx.study, ctx.study.patient
    site_rng = seeded_random(ctx.seed, "names", study.institution.uid_root)
    by_name = site_rng.random() < 0.3
    phi: list[tuple[str, str, str]] = []
    if by_name:
        patient_dir = f"{patient.name.family}_{patient.name.given}".replace(" ", "_")
        phi.append((patient.name.family, "patient_name", "names"))
    else:
        patient_dir = patient.patient_id
        phi.append((patient.patient_id, "patient_id", "mrn"))
    date = study.study_date.strftime("%m-%d-%Y")
    acc = study.accession[-5:]
    study_dir = f"{date}-{clean_part(study.description)}-{acc}"
    phi += [(date, "study_date", "dates"), (acc, "accession", "account")]
    series_uid = str(ds.get("SeriesInstanceUID", ""))
    series_dir = f"{series_number}.000000-{clean_part(series_description)}-{series_uid[-5:]}"
    uid_names = seeded_random(ctx.seed, "uidnames", series_uid).random() < 0.2
    if uid_names:
        sop = str(ds.SOPInstanceUID)
        name = f"{sop}.dcm"
        phi.append((sop, "sop_uid", "other"))
    else:
        name = f"1-{instance_index + 1:02d}.dcm"
    return f"{patient_dir}/{study_dir}/{series_dir}/{name}", phi


def plant(inst: PlantedInstance, series_description: str, instance_index: int,
          series_number: int) -> str:
    """Fix the instance's file name and record its identifying fragments; return the path."""
    rel, phi = relative_path(inst, series_description, instance_index, series_number)
    inst.set_file(rel)
    for fragment, kind, cls in phi:
        inst.add("phi", "filename", kind, cls, value=fragment, context=rel,
                 extra={"where": "filename"})
    return rel


