"""Channel 2, free text: PHI embedded in clinical wording that a tool must clean, not drop.

Templates (synthetic_phi/free_text.json) mix clinical phrases with identity placeholders.
Each PHI fragment becomes a ``free_text`` entry (value = fragment, context = whole text) and
each clinical phrase a ``keep`` entry, so the key can demand both removal and retention.
"""

from __future__ import annotations

import random
import re
from typing import Optional

from pydicom.datadict import dictionary_VR, tag_for_keyword

from midib.generate.identity import seeded_random
from midib.generate.planting.catalog import load
from midib.generate.planting.identities import CLASS_BY_KIND, identity_fields
from midib.generate.planting.instance import PlantedInstance
from midib.tagpath import TagPath

MAX_LENGTH = {"LO": 64, "SH": 16, "ST": 1024, "LT": 10240, "UT": 100000}
_SLOT = re.compile(r"\{(\w+)\}")
#: identity field -> ledger kind (fields not listed: the field name itself)
FIELD_KIND = {"patient_family": "patient_name", "patient_display": "patient_name",
              "patient_label": "patient_name", "birth_date_us": "birth_date",
              "study_date_us": "study_date", "referring_display": "physician_name",
              "reading_display": "physician_name", "operator_name": "operator_name",
              "patient_phone": "phone", "patient_email": "email", "patient_address": "address",
              "institution_name": "institution_name", "mothers_maiden_name": "mothers_maiden_name"}


def fill(template: str, fields: dict[str, str], clinical: str, current: str
         ) -> tuple[str, list[tuple[str, str]], list[str]]:
    """Expand a template: (text, [(field, fragment)] PHI, [clinical phrases kept])."""
    phi: list[tuple[str, str]] = []
    keep: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in ("clinical", "current"):
            value = clinical if name == "clinical" else current
            if value:
                keep.append(value)
            return value
        phi.append((name, fields[name]))
        return fields[name]

    return _SLOT.sub(sub, template).strip(), phi, keep


_UID_BY_LEVEL = {"study": "StudyInstanceUID", "series": "SeriesInstanceUID", "instance": "SOPInstanceUID"}


def _rng(inst: PlantedInstance, keyword: str, level: str) -> random.Random:
    key = inst.ds.get(_UID_BY_LEVEL[level], "")   # only the level's UID (reading all three cost)
    return seeded_random(inst.ctx.seed, "free_text", keyword, str(key))


def plant(inst: PlantedInstance, only: Optional[set[str]] = None) -> None:
    """Plant every configured free-text attribute (or ``only`` those) into the instance."""
    data = load("free_text")
    fields = identity_fields(inst.ctx.study, inst.ctx.device)
    body = inst.ctx.study.body_part
    for keyword, spec in data["attributes"].items():
        if only is not None and keyword not in only:
            continue
        rng = _rng(inst, keyword, spec["level"])
        phrases = data["clinical"].get(body) or data["clinical"][""]
        clinical = rng.choice(phrases)
        current = str(inst.ds.get(keyword, "") or "")
        tag = tag_for_keyword(keyword)
        vr = dictionary_VR(tag)
        if rng.random() < spec["rate"]:
            _plant_template(inst, keyword, tag, vr, spec["templates"], rng, fields, clinical, current)
        elif not current and spec["level"] == "study":
            inst.ds.add_new(tag, vr, clinical)   # clean clinical text (recorded as keep by record())
            _keep(inst, keyword, clinical, clinical)


def _plant_template(inst, keyword, tag, vr, templates, rng, fields, clinical, current) -> None:
    order = templates[rng.randrange(len(templates)):] + templates
    for template in order:
        if "{current}" in template and not current:
            continue
        text, phi, keep = fill(template, fields, clinical, current)
        if len(text) <= MAX_LENGTH.get(vr, 64):
            break
    else:
        return
    inst.ds.add_new(tag, vr, text)
    elem = inst.ds[tag]
    path = str(TagPath.of(keyword))
    for field, fragment in phi:
        kind = FIELD_KIND.get(field, field)
        inst.add("phi", "free_text", kind, CLASS_BY_KIND.get(kind, "other"), value=fragment,
                 path=path, elem=elem, context=text, extra={"template_field": field})
    for phrase in keep:
        _keep(inst, keyword, phrase, text)


def _keep(inst: PlantedInstance, keyword: str, phrase: str, text: str) -> None:
    elem = inst.ds[keyword]
    inst.add("keep", "free_text", "clinical_text", "none", value=phrase,
             path=str(TagPath.of(keyword)), elem=elem, context=text)
