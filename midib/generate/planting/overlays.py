"""Channel 6a, overlay planes: annotation text in (6000,3000), one ledger entry per label.

The plane's OverlayDescription and OverlayLabel also name the patient; the walker records
them (they are ordinary text elements), this module records the drawn labels with their boxes.
"""

from __future__ import annotations

from midib.generate.burnin import font_names
from midib.generate.identity import seeded_random
from midib.generate.overlay import add_overlay
from midib.generate.planting.identities import identity_fields
from midib.generate.planting.instance import PlantedInstance

OVERLAY_KINDS = {"CT": 0.3, "MR": 0.4, "CR": 0.5, "DX": 0.5}


def plant(inst: PlantedInstance) -> None:
    """Add an annotation overlay to a seeded share of series of the kinds that had them."""
    rate = OVERLAY_KINDS.get(inst.ctx.kind)
    ds = inst.ds
    if rate is None or "Rows" not in ds or ds.get("NumberOfFrames", 1) not in (1, "1", None):
        return
    rng = seeded_random(inst.ctx.seed, "overlay", str(ds.get("SeriesInstanceUID", "")))
    if rng.random() >= rate or int(ds.Rows) < 128:
        return
    fields = identity_fields(inst.ctx.study, inst.ctx.device)
    lines = [f"PAT: {fields['patient_label']}", f"REF: {fields['referring_display']}"]
    font = rng.choice(font_names())
    size = max(14, min(28, int(ds.Rows) // 16))
    placed = add_overlay(ds, lines, font, size, rng.choice(["bottom-left", "bottom-right"]),
                         description=f"Annotations for {fields['patient_display']}",
                         label=f"{fields['patient_family']} ANNOT")
    if not placed:
        return
    for keyword, fragment in (("OverlayDescription", fields["patient_display"]),
                              ("OverlayLabel", fields["patient_family"])):
        elem = ds[0x6000, 0x0022 if keyword == "OverlayDescription" else 0x1500]
        inst.add("phi", "free_text", "patient_name", "names", value=fragment,
                 path=f"(6000,{elem.tag.element:04x})", elem=elem, context=str(elem.value))
    for text, box in placed:
        inst.add("phi", "overlay", "overlay_text", "names", value=text, path="(6000,3000)",
                 box=list(box), frame=0, explicit=False,
                 extra={"text": text, "font": font, "size": size, "group": "6000"})
