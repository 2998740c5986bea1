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
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.sequence import Sequence
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from midib import __version__
from midib.keys.profile import load_profile
from midib.keys.ps315 import action_for
from midib.run.adapter import RunContext, ToolAdapter, ToolOutcome
from midib.run.tools.oracle_policy import Requirements

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
              "ImagerPixelSpacing", "PixelPaddingValue", "ConceptNameCodeSequence",
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


@dataclass
class Repairs:
    """What strip adds back so each kind of object stays conformant, learned from dciodvfy.

    The short structural list cannot know every IOD's required elements (PET Series, DX Image,
    Mammography...). dciodvfy does: each "Missing/Empty attribute Type 1|2 ... Element=<X>"
    error on a stripped object adds X back, empty for type 2, and for type 1 the source's value
    when the Basic profile keeps that attribute (a code, a count), else a neutral dummy. Learned
    once per SOP class, then applied to every object of that class without running dciodvfy.
    """

    checker: Requirements = field(default_factory=Requirements)
    by_class: dict[str, dict[str, str]] = field(default_factory=dict)

    def apply(self, src: Dataset, out: Dataset) -> None:
        sop = str(src.get("SOPClassUID", ""))
        fixes = self.by_class.get(sop)
        if fixes is not None and not any(k.endswith("C") for k in fixes.values()):
            restore(src, out, fixes)
            return
        # first object of its class, or a class with conditional requirements: ask dciodvfy
        local = {kw: k for kw, k in (fixes or {}).items() if not k.endswith("C")}
        restore(src, out, local)
        for _ in range(3):  # a repaired object may reveal requirements of the next module
            found = {kw: t for t, kw in self.checker.errors(out) if kw not in local}
            if not found:
                break
            local.update(found)
            restore(src, out, found)
        self.by_class[sop] = {**(fixes or {}), **local}


def restore(src: Dataset, out: Dataset, fixes: dict[str, str]) -> None:
    """Put required top-level elements back: type 2 empty; type 1 kept value or dummy."""
    basic = load_profile("basic")
    for keyword, kind in fixes.items():
        tag = tag_for_keyword(keyword)
        if tag is None or tag >> 16 == 0x0002 or (keyword in out and out[keyword].value not in (None, "", b"")):
            continue
        vr = dictionary_VR(tag)
        if keyword not in src and kind.startswith("1"):
            continue  # the source lacked it too: not strip's error, and no value to keep
        kind = kind[0]
        if kind == "1" and keyword in src and action_for(tag, basic)[0] == "K" and vr != "UI":
            out[keyword] = src[keyword]
        elif kind == "1" and vr not in ("SQ", "UI"):
            out.add_new(tag, vr, dummy_for(vr))
        elif kind == "2":
            out.add_new(tag, vr, Sequence() if vr == "SQ" else None)


def dummy_for(vr: str) -> object:
    """A neutral non-empty value for ``vr``."""
    if vr in ("US", "UL", "SS", "SL", "FL", "FD", "IS", "DS"):
        return 0 if vr not in ("IS", "DS") else "0"
    return {"DA": "19000101", "TM": "000000", "DT": "19000101000000", "PN": "ANONYMOUS",
            "CS": "ANON", "AS": "000Y"}.get(vr, "ANONYMIZED")


def write_stripped(src: Dataset, out: Dataset, path: Path) -> None:
    attach_meta(src, out, path)
    out.save_as(path, enforce_file_format=True)


def attach_meta(src: Dataset, out: Dataset, path: Path) -> None:
    """File meta information for the stripped object (explicit LE unless pixels stay encoded)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = out.get("SOPClassUID", src.file_meta.get("MediaStorageSOPClassUID"))
    meta.MediaStorageSOPInstanceUID = out.get("SOPInstanceUID", new_uid(path.name, "strip"))
    compressed = "PixelData" in out and transfer_syntax(src).is_compressed
    meta.TransferSyntaxUID = transfer_syntax(src) if compressed else ExplicitVRLittleEndian
    out.file_meta = meta


class StripAdapter(ToolAdapter):
    name = "strip"
    options_accepted = frozenset({"pixels"})
    description = "baseline: keeps only what a valid object needs (full privacy, no utility)"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> Optional[str]:
        return __version__

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        salt = f"midib-strip-{ctx.seed}"
        keep_pixels = ctx.options.get("pixels", "zero") == "keep"
        notes, n, uids = [], 0, {}
        repairs = Repairs() if Requirements().available else None
        for f in sorted(p for p in input_dir.rglob("*") if p.is_file()):
            try:
                src = pydicom.dcmread(f)
            except (InvalidDicomError, OSError) as e:
                notes.append(f"skipped {f.relative_to(input_dir).as_posix()}: {e}")
                continue
            n += 1
            out = strip_dataset(src, salt, keep_pixels)
            target = output_dir / f"{n:06d}.dcm"
            attach_meta(src, out, target)
            if repairs is not None:
                repairs.apply(src, out)
            out.save_as(target, enforce_file_format=True)
            for kw in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
                if kw in src:
                    uids[str(src[kw].value)] = str(out[kw].value)
        # revealing the UID mapping lets the scorer pair files whose content strip erased
        return ToolOutcome(command="midib strip", notes=notes, uid_mapping=uids)


def element_keyword(tag: int) -> str:
    """Keyword of a tag ('' for private or unknown ones)."""
    return keyword_for_tag(tag) or ""
