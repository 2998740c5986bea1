"""Read an official MIDI-B answer key (SQLite ``answer_data``) as midib checks.

Keys written by midib carry the original check in each item (``midib``) and come back
unchanged. Keys from TCIA are converted item by item: the action and ``tag_ds`` path map
directly; expected values follow what the official scorer reads for each action (see
:mod:`midib.keys.midi_b`); categories follow the official report's rules (tag_retained and
text_notnull → DICOM, date_shifted / uid_changed / pixels_hidden → HIPAA, consistency → DICOM,
pixels_retained → best practice, text_removed → HIPAA when it has a HIPAA class, else best
practice, text_retained → best practice).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

from midib.answer_key import Check
from midib.errors import MidibError
from midib.keys.midi_b import COLUMNS, HIPAA_LETTERS, unwrap
from midib.ledger import LedgerEntry
from midib.tagpath import TagPath

_CLASS_OF_LETTER = {v: k for k, v in HIPAA_LETTERS.items()}
_VALUE_ACTIONS = ("date_shifted", "uid_changed", "uid_consistent", "patid_consistent")
_SCOPES = {"<Instance>": "instance", "<Series>": "series", "<Study>": "study",
           "<Patient>": "patient"}
_OFFICIAL_CATEGORY = {"tag_retained": "dicom", "text_notnull": "dicom", "date_shifted": "hipaa",
                      "uid_changed": "hipaa", "pixels_hidden": "hipaa",
                      "patid_consistent": "dicom", "uid_consistent": "dicom",
                      "pixels_retained": "best_practice", "text_retained": "best_practice"}


def read_midi_b_key(db_path: Path) -> Iterator[Check]:
    """Stream the checks of an official answer-key database, row by row."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise MidibError(f"answer key not found: {db_path}")
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        cols = [r[1] for r in con.execute("PRAGMA table_info(answer_data)")]
    except sqlite3.DatabaseError as e:
        raise MidibError(f"{db_path} is not an SQLite answer key ({e})") from e
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        con.close()
        raise MidibError(f"{db_path}: table answer_data missing or lacks column(s) "
                         f"{', '.join(missing)}")
    select = list(COLUMNS) + (["scope"] if "scope" in cols else [])
    try:
        for rowid, *values in con.execute(f"SELECT rowid, {', '.join(select)} FROM answer_data "
                                          "ORDER BY rowid"):
            yield from row_to_checks(dict(zip(select, values)), f"{db_path} row {rowid}")
    finally:
        con.close()


def row_to_checks(row: dict[str, Any], where: str) -> Iterator[Check]:
    """The checks of one answer_data row (items in key order "0", "1", …)."""
    try:
        answers = json.loads(row["AnswerData"] or "{}")
    except json.JSONDecodeError as e:
        raise MidibError(f"{where}: AnswerData is not JSON ({e.msg})") from e
    if not isinstance(answers, dict):
        raise MidibError(f"{where}: AnswerData must be a JSON object keyed '0', '1', …")
    items = [answers[k] for k in sorted(answers, key=lambda k: int(k) if k.isdigit() else 1 << 30)]
    boxes = [_box(i) for i in items if unwrap(i.get("action")) == "pixels_hidden"]
    seen: set[str] = set()
    for n, item in enumerate(items):
        if isinstance(item.get("midib"), dict):
            check = Check.from_dict(item["midib"])
            if check.id not in seen:  # text_cleaned spans one item per fragment
                seen.add(check.id)
                yield check
            continue
        yield item_to_check(item, row, n, boxes, where)


def item_to_check(item: dict[str, Any], row: dict[str, Any], n: int,
                  boxes: list[tuple[list[int], int]], where: str) -> Check:
    """Convert one official item (no midib payload) to a midib check."""
    action = unwrap(item.get("action"))
    tag_ds = str(item.get("tag_ds") or "")
    path = str(TagPath.from_midi_b(tag_ds)) if unwrap(tag_ds) else None
    cats = item.get("answer_category_v2") or {}
    if isinstance(cats, str):
        cats = json.loads(unwrap(cats) or "{}")
    hipaa = _hipaa_class(cats)
    p15 = ((cats.get("dicom") or {}).get("p15") or "")
    category = _OFFICIAL_CATEGORY.get(action)
    if category is None:
        category = "hipaa" if hipaa != "none" else "best_practice"
    sop = str(row["SOPInstanceUID"])
    return Check(
        id=f"midi-b/{sop}/{n}", instance=sop, file="", patient_id=str(row["PatientID"] or ""),
        study_uid=str(row["StudyInstanceUID"] or ""), series_uid=str(row["SeriesInstanceUID"] or ""),
        modality=str(row["Modality"] or ""), scope=_SCOPES.get(row.get("scope"), "instance"),
        action=action, path=path, tag_name=unwrap(item.get("tag_name")),
        expected=_expected(action, item, boxes, where), category=category, hipaa_class=hipaa,
        ps315_action=p15.rsplit("-", 1)[-1] if p15.startswith("DICOM-P15-") else None,
        ps315_option=_p15_option(p15), iod_type=(cats.get("dicom") or {}).get("iod"),
        sop_class_uid=str(row["SOPClassUID"] or ""))


def _expected(action: str, item: dict[str, Any], boxes: list[tuple[list[int], int]],
              where: str) -> dict[str, Any]:
    """What the official scorer compares, in the shape midib's ACTIONS documents."""
    if action == "pixels_hidden":
        box, frame = _box(item)
        return {"text": _box_text(item), "box": box, "frame": frame}
    if action == "pixels_retained":
        return {"md5": unwrap(item.get("action_text")), "boxes": [b for b, _ in boxes],
                "frames": [f for _, f in boxes]}
    if action in _VALUE_ACTIONS:
        return {"value": unwrap(item.get("value"))}
    return {"value": unwrap(item.get("action_text", item.get("value")))}


def _pixel_json(item: dict[str, Any]) -> dict[str, Any]:
    raw = item.get("action_text")
    if isinstance(raw, dict):
        return raw
    try:
        data = json.loads(unwrap(raw))
    except (TypeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _box(item: dict[str, Any]) -> tuple[list[int], int]:
    d = _pixel_json(item)
    tl, br = list(d.get("top_left") or [0, 0]), list(d.get("bottom_right") or [0, 0])
    return [int(v) for v in tl + br], int(d.get("frame", 0) or 0)


def _box_text(item: dict[str, Any]) -> str:
    return str(_pixel_json(item).get("text", unwrap(item.get("value"))))


def _hipaa_class(cats: dict[str, Any]) -> str:
    h = cats.get("hipaa") or {}
    for label in (h.get("m"), h.get("z")):
        if label and str(label).upper().startswith("HIPAA-"):
            return _CLASS_OF_LETTER.get(str(label)[6:7].upper(), "other")
    return "none"


def _p15_option(p15: str) -> Optional[str]:
    parts = p15.split("-")
    if len(parts) == 4 and parts[0] == "DICOM" and parts[2] != "BASIC":
        return parts[2]
    return None


def ledger_from_checks(checks: Iterable[Check]) -> Iterator[LedgerEntry]:
    """Values a key says must disappear, as ledger entries, so the leak sweep can look for them."""
    for c in checks:
        if c.action not in ("text_removed", "text_cleaned") + _VALUE_ACTIONS:
            continue
        values = c.expected.get("removed") or [c.expected.get("value")]
        for i, value in enumerate(v for v in values if isinstance(v, str) and v):
            private = bool(c.path) and TagPath.parse(c.path).is_private
            yield LedgerEntry(
                id=f"{c.id}#{i}", role="phi", channel="private" if private else (
                    "attribute" if c.path else "filename"),
                kind=f"midi_b_{c.action}", phi_class=c.hipaa_class, instance=c.instance,
                file=c.file, patient_id=c.patient_id, study_uid=c.study_uid,
                series_uid=c.series_uid, modality=c.modality, sop_class_uid=c.sop_class_uid,
                path=c.path, tag_name=c.tag_name, value=value)
