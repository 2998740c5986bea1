"""Channel 5, burned-in text: labels in pixel data, one ledger entry per label per frame.

Also records the ``pixel_data`` keep entry of every image (md5 of the final PixelData bytes),
which the key uses to check that pixels outside the PHI boxes survive de-identification.
"""

from __future__ import annotations

import hashlib

import numpy as np
from pydicom.dataset import Dataset

from midib.generate.burnin import burn, font_names
from midib.generate.identity import seeded_random
from midib.generate.planting.catalog import load
from midib.generate.planting.identities import identity_fields
from midib.generate.planting.instance import PlantedInstance

BURNABLE = {"MONOCHROME1", "MONOCHROME2", "RGB"}


def frames_of(ds: Dataset) -> np.ndarray | None:
    """The pixel data as (frames, rows, cols[, 3]) in a writable array, or None if not burnable."""
    if "PixelData" not in ds or ds.file_meta.TransferSyntaxUID.is_compressed:
        return None
    if ds.get("PhotometricInterpretation") not in BURNABLE or ds.get("BitsAllocated") not in (8, 16):
        return None
    arr = np.array(ds.pixel_array)
    rgb = ds.PhotometricInterpretation == "RGB"
    if arr.ndim == (3 if rgb else 2):
        arr = arr[np.newaxis]
    return arr


def store_frames(ds: Dataset, frames: np.ndarray) -> None:
    """Write frames back into PixelData in the dataset's own layout (planar configuration kept)."""
    data = frames
    if frames.ndim == 4 and ds.get("PlanarConfiguration", 0) == 1:
        data = frames.transpose(0, 3, 1, 2)
    raw = np.ascontiguousarray(data).astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
    ds.PixelData = raw + (b"\x00" if len(raw) % 2 else b"")


def plant(inst: PlantedInstance) -> None:
    """Burn the kind's layout into a seeded share of series; set BurnedInAnnotation as devices do."""
    spec = load("burnin_layouts")["kinds"].get(inst.ctx.kind)
    if spec is None:
        return
    rng = seeded_random(inst.ctx.seed, "burnin", str(inst.ds.get("SeriesInstanceUID", "")))
    if rng.random() >= spec["rate"]:
        return
    frames = frames_of(inst.ds)
    if frames is None:
        return
    fields = identity_fields(inst.ctx.study, inst.ctx.device)
    lines = [t.format(**fields) for t in spec["lines"]]
    font = rng.choice(font_names())
    size = int(min(spec["max_px"], max(spec["min_px"], frames.shape[1] * spec["size"])))
    corner, polarity = rng.choice(spec["corners"]), rng.choice(spec["polarities"])
    mono1 = inst.ds.PhotometricInterpretation == "MONOCHROME1"
    burned = burn(frames, lines, font, size, corner, polarity, mono1)
    if not burned:
        return
    store_frames(inst.ds, frames)
    flag = _burned_in_flag(rng)
    if flag is None:
        if "BurnedInAnnotation" in inst.ds:
            del inst.ds.BurnedInAnnotation
    else:
        inst.ds.BurnedInAnnotation = flag
    for b in burned:
        inst.add("phi", "pixel", "burned_in_text", _class_of(b.text, fields), value=b.text,
                 path="(7fe0,0010)", box=list(b.box), frame=b.frame, explicit=False,
                 extra={"text": b.text, "font": b.font, "size": b.size, "polarity": b.polarity,
                        "corner": corner, "burned_in_annotation": flag})


def _burned_in_flag(rng) -> str | None:
    weights = load("burnin_layouts")["burned_in_annotation"]
    pick = rng.random() * sum(weights.values())
    for name, w in weights.items():
        pick -= w
        if pick < 0:
            return None if name == "absent" else name
    return "YES"


def _class_of(text: str, fields: dict[str, str]) -> str:
    if fields["patient_family"] in text or fields["patient_display"] in text:
        return "names"
    if fields["patient_id"] in text:
        return "mrn"
    if fields["birth_date_us"] in text or fields["study_date_us"] in text:
        return "dates"
    return "other"


def record_pixel_md5(inst: PlantedInstance) -> None:
    """The keep entry every image gets: md5 of its final original PixelData bytes."""
    if "PixelData" not in inst.ds:
        return
    elem = inst.ds["PixelData"]
    md5 = hashlib.md5(elem.value).hexdigest()
    inst.add("keep", "pixel", "pixel_data", "none", value=md5, path="(7fe0,0010)", elem=elem,
             explicit=False, extra={"md5": md5})
