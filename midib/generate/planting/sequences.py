"""Channel 3, nested sequences: identifiers one or more items deep, where tools forget to look.

Request attributes, other patient IDs, insurance codes, references to the patient's earlier
studies and to the performed procedure step, and (SR) observer names and free-text content
items. Values in ordinary elements are recorded by the walker (channel ``sequence``); SR text
items are free text and recorded here with their fragments.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from midib.generate.context import UidFactory
from midib.generate.identity import seeded_random
from midib.generate.planting.free_text import FIELD_KIND, fill
from midib.generate.planting.identities import CLASS_BY_KIND, identity_fields
from midib.generate.planting.instance import PlantedInstance
from midib.tagpath import TagPath

STUDY_COMPONENT_CLASS = "1.2.840.10008.3.1.2.3.1"     # Detached Study Management (retired, as PACS still write)
PPS_CLASS = "1.2.840.10008.3.1.2.3.3"                 # Modality Performed Procedure Step
SR_TEXT_TEMPLATES = (
    "Compared with prior exam of {study_date_us} at {institution_name}: {clinical}.",
    "Findings discussed with {referring_display} by phone. {clinical}.",
    "{clinical}. Patient {patient_display} tolerated the procedure well.",
)


def plant(inst: PlantedInstance) -> None:
    """Add the nested identifiers; which ones a study carries is drawn per study."""
    ctx, ds = inst.ctx, inst.ds
    rng = seeded_random(ctx.seed, "sequences", ctx.study.study_uid)
    p = ctx.study.patient
    if rng.random() < 0.7:
        ds.OtherPatientIDsSequence = Sequence([_item(PatientID=oid, IssuerOfPatientID=p.issuer,
                                                     TypeOfPatientID="TEXT") for oid in p.other_ids])
    if rng.random() < 0.7 and ctx.kind not in ("SR", "SEG", "RTSTRUCT"):
        ds.RequestAttributesSequence = Sequence([_item(
            AccessionNumber=ctx.study.accession, RequestedProcedureID=f"RP{ctx.study.study_id}",
            ScheduledProcedureStepID=f"SPS{ctx.study.accession[1:]}",
            RequestedProcedureDescription=ctx.study.description[:64])])
    if rng.random() < 0.4:
        code = _item(CodeValue=p.insurance, CodingSchemeDesignator="99LOCAL",
                     CodeMeaning=f"Member {p.insurance}")
        ds.PatientInsurancePlanCodeSequence = Sequence([code])
    if ctx.priors and rng.random() < 0.8:
        ds.ReferencedStudySequence = Sequence([
            _item(ReferencedSOPClassUID=STUDY_COMPONENT_CLASS, ReferencedSOPInstanceUID=s.study_uid)
            for s in ctx.priors[-2:]])
    if rng.random() < 0.5 and ctx.kind not in ("SR", "SEG", "RTSTRUCT"):
        pps = UidFactory(ctx.study.institution.uid_root, ctx.seed).uid("mpps", ctx.study.study_uid)
        ds.ReferencedPerformedProcedureStepSequence = Sequence([
            _item(ReferencedSOPClassUID=PPS_CLASS, ReferencedSOPInstanceUID=pps)])
    if "ContentSequence" in ds and ds.get("ValueType") == "CONTAINER":
        _plant_sr(inst)


def _item(**values: str) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _plain(item: Dataset) -> Dataset:
    """A plain pydicom copy of a content item (highdicom's sequences accept only its own types)."""
    out = Dataset()
    out.update(item)
    return out


def _plant_sr(inst: PlantedInstance) -> None:
    """Observer name (PNAME) first, as context items must be, and a TEXT finding at the end."""
    ds, ctx = inst.ds, inst.ctx
    rng = seeded_random(ctx.seed, "sr", str(ds.get("SOPInstanceUID", "")))
    observer = _item(RelationshipType="HAS OBS CONTEXT", ValueType="PNAME",
                     PersonName=ctx.study.staff.reading.dicom)
    observer.ConceptNameCodeSequence = Sequence([_item(CodeValue="121008", CodingSchemeDesignator="DCM",
                                                       CodeMeaning="Person Observer Name")])
    fields = identity_fields(ctx.study, ctx.device)
    text, phi, keep = fill(rng.choice(SR_TEXT_TEMPLATES), fields, "No acute findings", "")
    finding = _item(RelationshipType="CONTAINS", ValueType="TEXT", TextValue=text)
    finding.ConceptNameCodeSequence = Sequence([_item(CodeValue="121071", CodingSchemeDesignator="DCM",
                                                      CodeMeaning="Finding")])
    content = Sequence([observer] + [_plain(i) for i in ds.ContentSequence] + [finding])
    ds.ContentSequence = content
    seq_path = TagPath.of("ContentSequence")
    path = str(seq_path.child(len(content) - 1, "TextValue"))
    elem = finding["TextValue"]
    for field, fragment in phi:
        kind = FIELD_KIND.get(field, field)
        inst.add("phi", "free_text", kind, CLASS_BY_KIND.get(kind, "other"), value=fragment,
                 path=path, elem=elem, context=text, extra={"sr": True})
    for phrase in keep:
        inst.add("keep", "free_text", "clinical_text", "none", value=phrase, path=path, elem=elem,
                 context=text, extra={"sr": True})
