#!/usr/bin/env python3
"""Build midib/data/iod_types.json: the requirement type (1, 1C, 2, 2C, 3) of each attribute
in the IOD of the SOP classes midib generates and of the common image storage classes.

Why a derived file: the answer key reports, per check, how strongly the DICOM standard requires
the attribute (PS3.3), so results can be grouped by "a type 1 attribute was damaged" versus "an
optional one". The machine-readable tables of the ``dicom-standard`` package (0.1.0, the 2020
edition of PS3.3) hold every IOD's modules and every module's attributes at every depth, but
weigh ~50 MB; midib needs a few hundred KB of it, flattened per SOP class so that the run-time
look-up (``midib.keys.iod``) is one dictionary access.

Merging the modules of one IOD into one table per SOP class:

* an attribute listed by several modules takes the type of the modules with the strongest
  usage (M, then C, then U), and among those the strictest type (1, 1C, 2, 2C, 3): an
  IOD-specific module tightens a general one (CT Image makes ImageType type 1 where General
  Image says 3);
* nested attributes are keyed by their generic path, ``(0040,0275)[*](0040,1001)``, with the
  type they have inside their sequence's item (the macro's type where a macro is included);
* functional group macros (enhanced multi-frame IODs, Segmentation) are placed in the items of
  the Shared (5200,9229) and Per-Frame (5200,9230) Functional Groups Sequences;
* rows without a type (the standard's normalized-only attributes) are left out.

Rebuild by hand (no network needed once the wheel is unpacked)::

    pip download --no-deps dicom-standard==0.1.0 -d /tmp/ds && unzip -q /tmp/ds/*.whl -d /tmp/ds
    python scripts/derive_iod_types.py --dicom-standard /tmp/ds [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterable

#: SOP classes midib's generator writes (keep in step with midib/generate/objects/)
GENERATED = (
    "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.2",
    "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.3.1", "1.2.840.10008.5.1.4.1.1.4",
    "1.2.840.10008.5.1.4.1.1.6.1", "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.66.4",
    "1.2.840.10008.5.1.4.1.1.88.33", "1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.481.3",
)
#: common storage classes a ``--base`` folder (e.g. a TCIA download) is likely to hold
COMMON = (
    "1.2.840.10008.5.1.4.1.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.2.1", "1.2.840.10008.5.1.4.1.1.2.1",
    "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.7.1", "1.2.840.10008.5.1.4.1.1.7.2",
    "1.2.840.10008.5.1.4.1.1.7.3", "1.2.840.10008.5.1.4.1.1.7.4", "1.2.840.10008.5.1.4.1.1.12.1",
    "1.2.840.10008.5.1.4.1.1.12.2", "1.2.840.10008.5.1.4.1.1.20", "1.2.840.10008.5.1.4.1.1.88.11",
    "1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.88.59", "1.2.840.10008.5.1.4.1.1.88.67",
    "1.2.840.10008.5.1.4.1.1.104.1", "1.2.840.10008.5.1.4.1.1.128.1", "1.2.840.10008.5.1.4.1.1.130",
    "1.2.840.10008.5.1.4.1.1.481.1", "1.2.840.10008.5.1.4.1.1.481.2", "1.2.840.10008.5.1.4.1.1.481.5",
    "1.2.840.10008.5.1.4.1.1.11.1", "1.2.840.10008.5.1.4.1.1.77.1.4",
)
TYPES = ("1", "1C", "2", "2C", "3")


def load(folder: Path, name: str) -> list[dict]:
    """One table of the package, found anywhere under ``folder`` (wheel or sdist layout)."""
    hits = sorted(folder.rglob(f"{name}.json"))
    if not hits:
        sys.exit(f"no {name}.json under {folder}")
    return json.loads(hits[0].read_text(encoding="utf-8"))


def attribute_trees(rows: Iterable[dict], owner: str, wanted: set[str]) -> dict[str, dict]:
    """owner id -> tree of its attributes, for the wanted modules (or macros) only.

    A tree maps ``ggggeeee`` (lower-case hex, ``60xx`` for repeating groups) to the type, or to
    ``[type, subtree]`` for a sequence whose item attributes are listed. Nesting by prefix is
    what keeps the file small: the package repeats every ancestor in every nested path.
    """
    out: dict[str, dict] = {}
    for r in rows:
        if r[owner] not in wanted:
            continue
        tags = [t.lower() for t in r["path"].split(":")[1:]]
        node = out.setdefault(r[owner], {})
        for tag in tags[:-1]:
            parent = node.get(tag)
            if not isinstance(parent, list):  # an untyped sequence still holds typed items
                parent = node[tag] = [parent if isinstance(parent, str) else None, {}]
            node = parent[1]
        leaf = tags[-1]
        kind = r["type"] if r["type"] in TYPES else None
        if isinstance(node.get(leaf), list):
            node[leaf][0] = kind
        else:
            node[leaf] = kind
    return {k: _prune(v) for k, v in out.items()}


def _prune(tree: dict) -> dict:
    """Drop untyped leaves (the standard's normalized-only rows) and empty sequences."""
    out: dict = {}
    for tag, node in tree.items():
        if isinstance(node, list):
            kids = _prune(node[1])
            if kids:
                out[tag] = [node[0], kids]
            elif node[0]:
                out[tag] = node[0]
        elif node:
            out[tag] = node
    return out


def build(folder: Path) -> dict:
    """The whole data file: per SOP class its IOD's modules, and the modules' attribute trees."""
    ciods = {c["name"]: c["id"] for c in load(folder, "ciods")}
    sops = {s["id"]: s for s in load(folder, "sops")}
    ciod_modules, ciod_macros = load(folder, "ciod_to_modules"), load(folder, "ciod_to_fg_macros")
    classes: dict[str, dict] = {}
    for uid in GENERATED + COMMON:
        sop = sops.get(uid)
        if sop is None or sop["ciod"] not in ciods:
            sys.exit(f"SOP class {uid} not in the package's tables")
        ciod = ciods[sop["ciod"]]
        classes[uid] = {
            "name": sop["name"], "iod": sop["ciod"],
            "modules": [[r["moduleId"], r["usage"]] for r in ciod_modules if r["ciodId"] == ciod],
            "fg_macros": [[r["macroId"], r["usage"]] for r in ciod_macros if r["ciodId"] == ciod]}
    modules = {m for c in classes.values() for m, _ in c["modules"]}
    macros = {m for c in classes.values() for m, _ in c["fg_macros"]}
    return {"format": "midib-iod-types", "version": 1,
            "source": "DICOM PS3.3 2020 IOD/module/macro tables (via dicom-standard 0.1.0)",
            "sop_classes": classes,
            "modules": attribute_trees(load(folder, "module_to_attributes"), "moduleId", modules),
            "macros": attribute_trees(load(folder, "macro_to_attributes"), "macroId", macros)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dicom-standard", type=Path, required=True,
                   help="folder holding the unpacked dicom-standard 0.1.0 wheel or sdist")
    p.add_argument("--out", type=Path,
                   default=Path(__file__).resolve().parents[1] / "midib/data/iod_types.json")
    args = p.parse_args(argv)
    data = build(args.dicom_standard)
    text = json.dumps(data, indent=0, separators=(",", ":"), sort_keys=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"{args.out}: {len(data['sop_classes'])} SOP classes, {len(data['modules'])} modules, "
          f"{len(data['macros'])} functional group macros, {len(text) // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
