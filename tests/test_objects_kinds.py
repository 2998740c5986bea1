"""Every object kind: complete headers from the context, right SOP class, sane pixels."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import ExplicitVRLittleEndian

from midib.generate.context import dicom_date
from midib.generate.objects import OBJECT_KINDS, build_series, pick_device
from test_objects_fixtures import build, make_study, rng, uids  # noqa: F401 (fixtures)

SOP = {"CT": "1.2.840.10008.5.1.4.1.1.2", "MR": "1.2.840.10008.5.1.4.1.1.4",
       "PT": "1.2.840.10008.5.1.4.1.1.128", "CR": "1.2.840.10008.5.1.4.1.1.1",
       "DX": "1.2.840.10008.5.1.4.1.1.1.1", "MG": "1.2.840.10008.5.1.4.1.1.1.2",
       "US": "1.2.840.10008.5.1.4.1.1.6.1", "US_CINE": "1.2.840.10008.5.1.4.1.1.3.1",
       "SC": "1.2.840.10008.5.1.4.1.1.7", "SR": "1.2.840.10008.5.1.4.1.1.88.33",
       "SEG": "1.2.840.10008.5.1.4.1.1.66.4", "RTSTRUCT": "1.2.840.10008.5.1.4.1.1.481.3"}


@pytest.mark.parametrize("kind", OBJECT_KINDS)
def test_header_written_from_context(kind: str) -> None:
    study, device, datasets, _ = build(kind)
    assert datasets
    p = study.patient
    for ds in datasets:
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.SOPClassUID == SOP[kind] == ds.file_meta.MediaStorageSOPClassUID
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert str(ds.PatientName) == p.name.dicom and ds.PatientID == p.patient_id
        assert ds.PatientBirthDate == dicom_date(p.birth_date) and ds.PatientAge == "057Y"
        assert ds.OtherPatientIDsSequence[0].PatientID == p.other_ids[0]
        assert ds.StudyInstanceUID == study.study_uid and ds.AccessionNumber == study.accession
        assert ds.StudyDate == dicom_date(study.study_date)
        assert str(ds.ReferringPhysicianName) == study.staff.referring.dicom
        assert str(ds.RequestAttributesSequence[0].RequestingPhysician) == study.staff.requesting.dicom
        assert ds.InstitutionName == study.institution.name
        assert ds.DeviceSerialNumber == device.serial and ds.Manufacturer == device.manufacturer
        assert ds.StationName == device.station
        assert ds.ContentDate and ds.SeriesDate
    assert len({ds.SOPInstanceUID for ds in datasets}) == len(datasets)
    assert len({ds.SeriesInstanceUID for ds in datasets}) == 1


@pytest.mark.parametrize("kind", [k for k in OBJECT_KINDS if k not in ("SR", "RTSTRUCT")])
def test_pixels_decode_and_are_not_flat(kind: str) -> None:
    _, _, datasets, _ = build(kind)
    arr = datasets[0].pixel_array
    assert arr.std() > 0
    if kind in ("US", "US_CINE", "SC"):
        assert arr.shape[-1] == 3 and arr.shape[-3:-1] == (480, 640)
    if kind == "US_CINE":
        assert arr.shape[0] == int(datasets[0].NumberOfFrames) > 1


def test_ct_stack_geometry_and_hounsfield() -> None:
    _, _, cts, _ = build("CT", n=5)
    z = [float(ds.ImagePositionPatient[2]) for ds in cts]
    assert np.allclose(np.diff(z), -float(cts[0].SliceThickness))
    assert len({ds.FrameOfReferenceUID for ds in cts}) == 1
    assert all(list(ds.ImageOrientationPatient) == [1, 0, 0, 0, 1, 0] for ds in cts)
    hu = cts[0].pixel_array.astype(float) * float(cts[0].RescaleSlope) + float(cts[0].RescaleIntercept)
    assert cts[0].PixelRepresentation == 1 and cts[0].pixel_array.dtype == np.int16
    assert -1100 < hu[0, 0] < -900          # air in the corner
    assert hu.max() > 300                    # bone in the middle


def test_mr_series_number_selects_weighting() -> None:
    trs = {float(build("MR", series_number=s)[2][0].RepetitionTime) for s in (1, 2, 3)}
    assert len(trs) == 3


def test_pet_nested_radiopharmaceutical_dates_precede_series() -> None:
    _, _, pts, _ = build("PT")
    rp = pts[0].RadiopharmaceuticalInformationSequence[0]
    assert rp.RadionuclideCodeSequence[0].CodeMeaning == "^18^Fluorine"
    assert rp.RadiopharmaceuticalStartDateTime[:8] == pts[0].SeriesDate
    assert rp.RadiopharmaceuticalStartTime < pts[0].SeriesTime
    assert pts[0].Units == "BQML" and pts[0].DecayCorrection == "START"
    assert len({ds.RescaleSlope for ds in pts}) > 1   # per-slice scaling as scanners do


def test_mammography_views_and_laterality() -> None:
    _, _, mgs, _ = build("MG")
    views = [(ds.ImageLaterality, ds.ViewPosition) for ds in mgs]
    assert views == [("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]
    assert all(ds.PresentationIntentType == "FOR PRESENTATION" for ds in mgs)


def test_us_cine_has_calibration_and_timing() -> None:
    _, _, cine, _ = build("US_CINE")
    ds = cine[0]
    assert float(ds.FrameTime) > 0 and ds.CineRate == 30
    region = ds.SequenceOfUltrasoundRegions[0]
    assert region.PhysicalDeltaX > 0 and region.RegionLocationMaxY1 == 479


def _walk_items(item):
    yield item
    for child in item.get("ContentSequence", []):
        yield from _walk_items(child)


def test_sr_content_tree_references_source_and_names_observer() -> None:
    study, _, srs, source = build("SR")
    items = list(_walk_items(srs[0]))
    types = {i.ValueType for i in items if "ValueType" in i}
    assert {"CONTAINER", "TEXT", "CODE", "NUM", "IMAGE", "PNAME"} <= types
    refs = {i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in items if i.get("ValueType") == "IMAGE"}
    assert refs and refs <= {ds.SOPInstanceUID for ds in source}
    names = {str(i.PersonName) for i in items if i.get("ValueType") == "PNAME"}
    assert study.staff.reading.dicom in names
    assert any("nodule" in i.TextValue for i in items if i.get("ValueType") == "TEXT")


def test_seg_references_its_source_series() -> None:
    _, _, segs, source = build("SEG")
    seg = segs[0]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == source[0].SeriesInstanceUID
    assert seg.FrameOfReferenceUID == source[0].FrameOfReferenceUID
    assert len(seg.SegmentSequence) == 2 and int(seg.NumberOfFrames) >= 1


def test_rtstruct_nesting_and_contours_lie_on_slices() -> None:
    _, _, rts, source = build("RTSTRUCT")
    rt = rts[0]
    ref = rt.ReferencedFrameOfReferenceSequence[0]
    series = ref.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    assert ref.FrameOfReferenceUID == source[0].FrameOfReferenceUID
    assert series.SeriesInstanceUID == source[0].SeriesInstanceUID
    assert [i.ReferencedSOPInstanceUID for i in series.ContourImageSequence] == [ds.SOPInstanceUID for ds in source]
    z_of = {ds.SOPInstanceUID: float(ds.ImagePositionPatient[2]) for ds in source}
    body = rt.ROIContourSequence[0].ContourSequence
    assert len(body) == len(source)
    for contour in body:
        uid = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
        assert set(contour.ContourData[2::3]) == {z_of[uid]}
        assert contour.NumberOfContourPoints * 3 == len(contour.ContourData)


@pytest.mark.parametrize("kind", ["SEG", "RTSTRUCT", "SR"])
def test_derived_kinds_refuse_missing_source(kind: str, rng, uids) -> None:
    with pytest.raises(ValueError, match="source"):
        build_series(kind, make_study(), pick_device(kind, rng, 0), uids, rng, series_number=9)


def test_unknown_kind_is_refused(rng, uids) -> None:
    with pytest.raises(ValueError, match="unknown object kind"):
        build_series("XA", make_study(), pick_device("CT", rng, 0), uids, rng, series_number=1)
