"""Channel 4, private elements: vendor blocks (from the object builders) and a PACS's own block.

Builders write vendor private blocks, some elements safe to keep (acquisition details), some
carrying identifiers. This module adds what a PACS or RIS leaves behind (Agfa-style linked
attributes with the patient's ID and name) and turns the builders' catalog into the
``(group, CREATOR, low byte) -> safe`` map the walker uses to label each private element.
"""

from __future__ import annotations

from typing import Any, Iterable

from midib.generate.identity import seeded_random
from midib.generate.planting.instance import PlantedInstance

#: (group, creator, low byte, VR, identity field) planted by a "PACS" into some studies
PACS_BLOCKS = (
    (0x0031, "MITRA LINKED ATTRIBUTES 1.0", 0x20, "LO", "patient_id"),
    (0x0033, "MITRA OBJECT UTF8 ATTRIBUTES 1.0", 0x13, "PN", "patient_name"),
    (0x0033, "MITRA OBJECT UTF8 ATTRIBUTES 1.0", 0x19, "LO", "accession"),
)


def safety_map(catalog: Iterable[dict[str, Any]]) -> dict[tuple[int, str, int], bool]:
    """``(group, CREATOR upper-cased, low byte) -> safe`` from the builders' private catalog.

    Accepts ``group``/``element`` as ints or hex strings, ``element`` as the low byte or a full
    element number, and ``offset`` as a synonym, so catalog spelling does not break planting.
    """
    out: dict[tuple[int, str, int], bool] = {}
    for row in catalog:
        group = _int(row.get("group"))
        element = _int(row.get("element", row.get("offset", row.get("byte"))))
        creator = str(row.get("creator", "")).strip().upper()
        if group is None or element is None or not creator:
            continue
        out[(group, creator, element & 0xFF)] = bool(row.get("safe", False))
    return out


def _int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return int(value.strip().lower().removeprefix("0x"), 16)
        except ValueError:
            return None
    return None


def plant(inst: PlantedInstance) -> None:
    """Add the PACS block to a seeded half of the studies (all instances of such a study)."""
    from midib.generate.planting.identities import identity_fields

    rng = seeded_random(inst.ctx.seed, "pacs_private", inst.ctx.study.study_uid)
    if rng.random() >= 0.5:
        return
    fields = identity_fields(inst.ctx.study, inst.ctx.device)
    for group, creator, low, vr, field in PACS_BLOCKS:
        block = inst.ds.private_block(group, creator, create=True)
        block.add_new(low, vr, fields[field])
