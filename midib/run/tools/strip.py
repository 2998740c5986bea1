"""``strip``: keeps only what a file needs to stay a loadable DICOM object. Privacy, no utility.

Every element not on a short structural list is dropped; the identifying type 2 elements a
viewer or archive expects (patient, study, series identification) stay present but empty;
instance UIDs are replaced; pixel values are zeroed (``--set pixels=keep`` keeps them, which
keeps any burned-in text too). Scoring strip shows the ceiling of privacy checks and the floor
of utility checks, the mirror image of ``identity``. The UID rule here (which UI elements are
instance UIDs, and their deterministic ``2.25.<int>`` replacement) is shared by ``oracle``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

import pydicom
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from midib import __version__
from midib.run.adapter import RunContext, ToolAdapter, ToolOutcome

#: UI elements that name a class, syntax or scheme, never an instance: kept as they are
NON_INSTANCE_UIDS = {"TransferSyntaxUID", "ImplementationClassUID", "CodingSchemeUID",
                     "ContextGroupExtensionCreatorUID", "PrivateInformationCreatorUID",
                     "MappingResourceUID", "ContextUID", "TemplateExtensionCreatorUID"}

#: kept with their values: the SOP identity, the image pixel module and plane geometry
STRUCTURAL = ("SOPClassUID", "Modality", "ImageType", "SamplesPerPixel", "PhotometricInterpretation",
              "Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
              "PlanarConfiguration", "NumberOfFrames", "FrameIncrementPointer", "RescaleIntercept",
              "RescaleSlope", "RescaleType", "PixelSpacing", "ImageOrientationPatient",
              "ImagePositionPatient", "SliceThickness", "PixelData", "FloatPixelData",
              "LossyImageCompression", "PixelIntensityRelationship", "PresentationIntentType",
              "ValueType", "ContinuityOfContent", "CompletionFlag", "VerificationFlag",
              "ImagerPixelSpacing", "PixelPaddingValue",
              # modality modules' technical type 1/2 elements (MR, CT, PT, US): no identity in them
              "ScanningSequence", "SequenceVariant", "ScanOptions", "MRAcquisitionType",
              "EchoTime", "EchoTrainLength", "RepetitionTime", "KVP", "Units",
              "CorrectedImage", "DecayCorrection", "ViewPosition")

#: type 2 elements of the Patient, General Study/Series/Equipment/Image modules: present, empty
EMPTY_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
               "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber",
               "SeriesNumber", "Manufacturer", "InstanceNumber")

#: type 2/2C elements kept present-but-empty only where the source had them
EMPTY_IF_PRESENT = ("PatientOrientation", "ContentDate", "ContentTime", "Laterality",
                    "AcquisitionNumber", "PositionReferenceIndicator")


def is_instance_uid(keyword: str, value: str) -> bool:
    """True for a UI value that identifies an instance (study, series, object, frame of ref...)."""
    if not keyword or keyword in NON_INSTANCE_UIDS or "ClassUID" in keyword:
        return False
    return UID(value).name == value  # pydicom names well-known UIDs (classes, syntaxes)


def new_uid(old: str, salt: str) -> str:
    """A deterministic, valid replacement: ``2.25.`` + 128 bits of sha256(salt, old)."""
    digest = hashlib.sha256(f"{salt}\0{old}".encode()).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


def strip_dataset(src: Dataset, salt: str, keep_pixels: bool) -> Dataset:
    """A new dataset holding only the structural elements, empty type 2s and new UIDs."""
    out = Dataset()
    for kw in STRUCTURAL:
        if kw in src:
            out[kw] = src[kw]
    for kw in EMPTY_TYPE2:
        setattr(out, kw, "")
    for kw in EMPTY_IF_PRESENT:
        if kw in src:
            setattr(out, kw, "")
    for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        if kw in src:
            setattr(out, kw, new_uid(str(src[kw].value), salt))
    if "FrameOfReferenceUID" in out:
        out.PositionReferenceIndicator = ""
    if "PatientPosition" in src:
        out.PatientPosition = src.PatientPosition  # type 2C, says nothing about the patient
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = "midib strip baseline"
    if "PixelData" in out and not keep_pixels:
        zero_pixels(src, out)
    return out


def zero_pixels(src: Dataset, out: Dataset) -> None:
    """Replace pixel values by zeros (decompressing first when the data is encapsulated)."""
    if transfer_syntax(src).is_compressed:
        src.decompress()
        for kw in ("PixelData", "PhotometricInterpretation", "PlanarConfiguration"):
            if kw in src:
                out[kw] = src[kw]
    out.PixelData = bytes(len(src.PixelData))


def transfer_syntax(ds: Dataset) -> UID:
    """The dataset's transfer syntax (files without meta information were read as implicit LE)."""
    meta = getattr(ds, "file_meta", None)
    return UID(meta.get("TransferSyntaxUID", ImplicitVRLittleEndian) if meta else ImplicitVRLittleEndian)


def write_stripped(src: Dataset, out: Dataset, path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.get("SOPClassUID", src.file_meta.get("MediaStorageSOPClassUID"))
    meta.MediaStorageSOPInstanceUID = out.get("SOPInstanceUID", new_uid(path.name, "strip"))
    compressed = "PixelData" in out and transfer_syntax(src).is_compressed
    meta.TransferSyntaxUID = transfer_syntax(src) if compressed else ExplicitVRLittleEndian
    out.file_meta = meta
    out.save_as(path, enforce_file_format=True)


class StripAdapter(ToolAdapter):
    name = "strip"
    description = "baseline: keeps only what a valid object needs (full privacy, no utility)"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> Optional[str]:
        return __version__

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        salt = f"midib-strip-{ctx.seed}"
        keep_pixels = ctx.options.get("pixels", "zero") == "keep"
        notes, n, uids = [], 0, {}
        for f in sorted(p for p in input_dir.rglob("*") if p.is_file()):
            try:
                src = pydicom.dcmread(f)
            except (InvalidDicomError, OSError) as e:
                notes.append(f"skipped {f.relative_to(input_dir).as_posix()}: {e}")
                continue
            n += 1
            out = strip_dataset(src, salt, keep_pixels)
            write_stripped(src, out, output_dir / f"{n:06d}.dcm")
            for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
                if kw in src:
                    uids[str(src[kw].value)] = str(out[kw].value)
        # revealing the UID mapping lets the scorer pair files whose content strip erased
        return ToolOutcome(command="midib strip", notes=notes, uid_mapping=uids)


def element_keyword(tag: int) -> str:
    """Keyword of a tag ('' for private or unknown ones)."""
    return keyword_for_tag(tag) or ""
