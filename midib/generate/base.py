"""``--base DIR``: plant synthetic PHI into copies of real, already de-identified DICOM.

The user's files keep their pixel data and structure; each original patient becomes a
synthetic one (seeded like the from-scratch world), every dataset is re-stamped with that
patient's identity and site, every non-standard UID moves under the site's root (one map from
the original UID, so references still resolve; study UIDs too, so two base folders generated
at one seed never share a study UID; the roots carry ``BASE_UID_ARC``, so no synthetic preset
shares them), dates move by one offset per study, and the header channels are planted as for
synthetic data. Pixels are not touched (no burn-in). Files pydicom cannot read, DICOMDIRs and
files that cannot be rewritten are skipped and listed, never a crash.
"""

from __future__ import annotations

import datetime as dt
import sys
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterator

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian, UID_dictionary

from midib.errors import MidibError
from midib.generate.context import Device, StudyContext, UidFactory, dicom_date
from midib.generate.identity import BASE_UID_ARC, make_history, make_institution
from midib.generate.planting.instance import PlantedInstance, PlantingContext
from midib.ledger import LedgerEntry

DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
KIND_BY_MODALITY = {"OT": "SC", "RTSTRUCT": "RTSTRUCT", "SEG": "SEG", "SR": "SR"}


def read_dicom(path: Path) -> tuple[Dataset | None, str]:
    """(dataset without pixels, "") or (None, reason): tolerate a missing preamble, nothing worse."""
    try:
        ds = dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        try:
            ds = dcmread(path, stop_before_pixels=True, force=True)
        except Exception as e:  # noqa: BLE001 - any parse failure means "not DICOM" here
            return None, f"not DICOM ({type(e).__name__})"
        if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
            return None, "not DICOM (no preamble and no SOP Class/Instance UID)"
    except Exception as e:  # noqa: BLE001
        return None, f"unreadable ({type(e).__name__}: {e})"[:200]
    if ds.get("SOPClassUID") == DICOMDIR_CLASS or "SOPInstanceUID" not in ds:
        return None, "not a composite instance (DICOMDIR or no SOP Instance UID)"
    return ds, ""


class BaseSource:
    """A user's folder as a source of instances, grouped patient -> study -> series."""

    def __init__(self, base: Path, seed: int, builders=None) -> None:
        if not base.is_dir():
            raise MidibError(f"--base folder not found: {base}")
        self.base, self.seed = base, seed
        self.skipped: list[dict[str, str]] = []
        self.groups: dict[str, dict[str, dict[str, list[Path]]]] = defaultdict(lambda: defaultdict(dict))
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")    # real files are messy; we report skips, not quirks
                ds, reason = read_dicom(path)
            if ds is None:
                self._skip(path, reason)
                continue
            pid = str(ds.get("PatientID", "")) or "UNKNOWN"
            study = str(ds.get("StudyInstanceUID", "")) or f"study-{pid}"
            series = str(ds.get("SeriesInstanceUID", "")) or f"series-{study}"
            self.groups[pid][study].setdefault(series, []).append(path)
        self.total_studies = sum(len(s) for s in self.groups.values())
        if not self.groups:
            # an empty benchmark would score every tool 0 of 0 checks: say so instead
            found = f"{len(self.skipped)} file(s), none of them DICOM" if self.skipped else "no files"
            raise MidibError(f"--base folder {base} holds {found}: nothing to plant PHI into")

    def _skip(self, path: Path, reason: str) -> None:
        rel = path.relative_to(self.base).as_posix()
        self.skipped.append({"file": rel, "reason": reason})
        print(f"midib: skipped {rel}: {reason}", file=sys.stderr)

    def check_outside(self, root: Path) -> None:
        """The benchmark must not be written inside the base folder (or contain it)."""
        b, r = self.base.resolve(), Path(root).resolve()
        if b == r or b in r.parents or r in b.parents:
            raise MidibError(f"benchmark folder {root} and --base {self.base} must not contain each other")

    def entries(self, bench, tally, step: Callable[[], None]) -> Iterator[LedgerEntry]:
        """Re-stamp, plant and write every readable file; yield ledger entries."""
        from midib.generate.writer import plant_instance, write_instance

        for p, (pid, studies) in enumerate(sorted(self.groups.items())):
            site = make_institution(self.seed, p % 4, BASE_UID_ARC)
            history = make_history(self.seed, p, site, len(studies), [("", "")])
            uids = UidFactory(site.uid_root, self.seed)
            for study, original in zip(history.studies, sorted(studies)):
                study.study_uid = uids.uid("base", original)   # as _remap_uids maps it
            tally.patients += 1
            for study, (_, series_map) in zip(history.studies, sorted(studies.items())):
                for number, (_, paths) in enumerate(sorted(series_map.items()), start=1):
                    yield from self._series(bench, tally, study, uids, paths, number, history.studies[:study.index],
                                            plant_instance, write_instance)
                tally.studies += 1
                step()

    def _series(self, bench, tally, study, uids, paths, number, priors, plant_instance, write_instance):
        with warnings.catch_warnings():
            yield from self._files(bench, tally, study, uids, paths, number, priors, plant_instance,
                                   write_instance)
        tally.series += 1

    def _files(self, bench, tally, study, uids, paths, number, priors, plant_instance, write_instance):
        for i, path in enumerate(sorted(paths)):
            try:
                warnings.simplefilter("ignore")
                ds = dcmread(path, force=True)
                kind, device = restamp(ds, study, uids, self.seed)
                ctx = PlantingContext(study, device, self.seed, kind, priors, {})
                inst = PlantedInstance(ds, ctx, None)  # type: ignore[arg-type]
                description = str(ds.get("SeriesDescription", "") or ds.get("Modality", "SERIES"))
                plant_instance(inst, description, i, number, pixels_too=False)
                entries = list(write_instance(bench, tally, inst))
            except MidibError:
                raise
            except Exception as e:  # noqa: BLE001 - a file we cannot rewrite is skipped, not fatal
                self._skip(path, f"cannot rewrite ({type(e).__name__}: {e})"[:200])
                continue
            yield from entries


def restamp(ds: Dataset, study: StudyContext, uids: UidFactory, seed: int) -> tuple[str, Device]:
    """Give a de-identified dataset a synthetic identity; return (object kind, device)."""
    from midib.generate.objects.common import equipment_module, patient_module, study_module

    old_date = _date(ds.get("StudyDate", ""))
    _remap_uids(ds, uids)
    modality = str(ds.get("Modality", "OT"))
    device = Device(modality=modality, manufacturer=str(ds.get("Manufacturer", "") or "UNKNOWN"),
                    model=str(ds.get("ManufacturerModelName", "") or "UNKNOWN"),
                    serial=f"SN{abs(int(uids.uid('serial', modality)[-9:])):09d}",
                    software=str(ds.get("SoftwareVersions", "") or "1.0"),
                    station=f"{study.institution.name.split()[0].upper()[:8]}{modality}1")
    study.description = str(ds.get("StudyDescription", "") or "") or f"{modality} STUDY"
    if old_date is not None:
        _shift_dates(ds, study.study_date - old_date)
    patient_module(ds, study)
    study_module(ds, study)
    equipment_module(ds, study, device)
    _fix_meta(ds)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    kind = "US_CINE" if modality == "US" and frames > 1 else KIND_BY_MODALITY.get(modality, modality)
    return kind, device


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(str(text)[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _shift_dates(ds: Dataset, offset: dt.timedelta) -> None:
    """Move every DA (and the date part of every DT) by one offset: intervals are kept."""
    def shift(_: Dataset, elem) -> None:
        if elem.VR in ("DA", "DT") and elem.value and not elem.VM > 1:
            d = _date(str(elem.value))
            if d is not None:
                elem.value = dicom_date(d + offset) + str(elem.value)[8:]
    ds.walk(shift)


def _remap_uids(ds: Dataset, uids: UidFactory) -> None:
    """Every instance-specific UID -> one under the site's root (same old UID, same new UID)."""
    def remap(_: Dataset, elem) -> None:
        if elem.VR == "UI" and elem.value and elem.VM == 1 and str(elem.value) not in UID_dictionary:
            elem.value = uids.uid("base", str(elem.value))
    ds.walk(remap)


def _fix_meta(ds: Dataset) -> None:
    """File meta that matches the re-stamped dataset (files without preamble have none)."""
    meta = getattr(ds, "file_meta", None) or FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.set_original_encoding(False, True)
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta = meta
