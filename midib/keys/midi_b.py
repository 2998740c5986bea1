"""The official MIDI-B answer-key format (SQLite ``answer_data``), read and written.

One row per original instance: SOPInstanceUID, SeriesInstanceUID, StudyInstanceUID, PatientID,
Modality, SOPClassUID (raw values) and AnswerData, a JSON object keyed "0", "1", … whose items
are checks ``{action, action_text, value, tag, tag_ds, tag_name, answer_category_v2}`` with every
string wrapped in ``<…>``. The official scorer reads ``action_text`` for text_removed /
text_retained, ``value`` for date_shifted / uid_changed / uid_consistent / patid_consistent, the
md5 of PixelData in ``action_text`` for pixels_retained, and a JSON box in ``action_text`` for
pixels_hidden. There is deliberately no table-level ``scope`` column (it would change how the
official scorer matches rows to files).

midib-only checks are written with their own action names, which the official scorer ignores;
text_cleaned is written as a text_removed of its fragment, which the official scorer counts.
Every item also carries a ``midib`` object (the full midib check), ignored by the official
scorer, so export → import gives back exactly the same checks.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Optional

from midib.answer_key import Check
from midib.errors import MidibError
from midib.keys.midi_b_formula import MIDI_B_ACTIONS, midi_b_score  # noqa: F401  (re-export)
from midib.tagpath import TagPath

COLUMNS = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "PatientID", "Modality",
           "SOPClassUID", "AnswerData")
#: HIPAA Safe Harbor (A-R) letters as MIDI-B names them, by midib class
HIPAA_LETTERS = {"names": "A", "geographic": "B", "dates": "C", "phone": "D", "fax": "E",
                 "email": "F", "ssn": "G", "mrn": "H", "health_plan": "I", "account": "J",
                 "license": "K", "vehicle": "L", "device": "M", "url": "N", "ip": "O",
                 "biometric": "P", "photo": "Q", "other": "R"}


def wrap(value: Any) -> str:
    return f"<{'' if value is None else value}>"


def unwrap(value: Any) -> str:
    """Strip one level of MIDI-B ``<…>`` wrapping (tolerating unwrapped input)."""
    text = "" if value is None else str(value)
    return text[1:-1] if len(text) >= 2 and text[0] == "<" and text[-1] == ">" else text


# ---- writing ---------------------------------------------------------------------------
def check_to_items(check: Check) -> list[dict[str, Any]]:
    """The official item(s) for one midib check (text_cleaned: one per removed fragment)."""
    path = TagPath.parse(check.path) if check.path else None
    base = {"tag": wrap(_leaf_text(path)), "tag_ds": wrap(path.to_midi_b() if path else ""),
            "tag_name": wrap(check.tag_name), "answer_category_v2": _categories(check),
            "midib": check.to_dict()}
    e = check.expected
    if check.action == "text_cleaned":
        return [{**base, "action": "<text_removed>", "action_text": wrap(fragment),
                 "value": wrap(e.get("value", ""))} for fragment in e.get("removed", [])]
    if check.action == "pixels_hidden":
        box = list(e.get("box") or [0, 0, 0, 0])
        text = json.dumps({"text": e.get("text", ""), "top_left": box[:2],
                           "bottom_right": box[2:], "frame": e.get("frame", 0)})
        return [{**base, "action": "<pixels_hidden>", "action_text": wrap(text),
                 "value": wrap(e.get("text", ""))}]
    if check.action == "pixels_retained":
        return [{**base, "action": "<pixels_retained>", "action_text": wrap(e.get("md5")),
                 "value": wrap(e.get("md5"))}]
    action = check.action if check.path or check.action != "text_removed" else "filename_removed"
    value = e.get("value", "")
    payload = value if isinstance(value, str) else json.dumps(e, sort_keys=True)
    return [{**base, "action": wrap(action), "action_text": wrap(payload), "value": wrap(payload)}]


def _leaf_text(path: Optional[TagPath]) -> str:
    if path is None:
        return ""
    return TagPath((path.leaf,)).to_midi_b()[1:-1]


def _categories(check: Check) -> dict[str, Any]:
    """answer_category_v2: HIPAA letter, PS3.15 rule, IOD type, TCIA best practice."""
    letter = HIPAA_LETTERS.get(check.hipaa_class)
    p15 = (f"DICOM-P15-{check.ps315_option or 'BASIC'}-{check.ps315_action}"
           if check.ps315_action else None)
    return {"hipaa": {"z": f"HIPAA-{letter}" if letter and check.category == "hipaa" else None,
                      "m": None},
            "dicom": {"p15": p15, "iod": check.iod_type, "safe": None},
            "tcia": {"ptkb": None, "p15": p15 if check.category == "best_practice" else None,
                     "rev": None},
            "prev_cat": None}


def write_midi_b_key(db_path: Path, checks: Iterable[Check]) -> int:
    """Write checks as an official ``answer_data`` table (one row per instance); return rows."""
    db_path = Path(db_path)
    if not db_path.parent.is_dir():
        raise MidibError(f"cannot write {db_path}: folder {db_path.parent} does not exist")
    if db_path.exists():
        db_path.unlink()
    try:
        con = sqlite3.connect(db_path)
    except sqlite3.Error as e:
        raise MidibError(f"cannot write {db_path}: {e}") from e
    try:
        con.execute("CREATE TABLE answer_data (" + ", ".join(f"{c} TEXT" for c in COLUMNS) + ")")
        rows: dict[str, int] = {}
        current: Optional[str] = None
        items: list[dict[str, Any]] = []
        head: Optional[Check] = None
        for check in checks:
            if check.instance != current:
                _flush(con, rows, head, items)
                current, head, items = check.instance, check, []
            items.extend(check_to_items(check))
        _flush(con, rows, head, items)
        con.commit()
        return len(rows)
    finally:
        con.close()


def _flush(con: sqlite3.Connection, rows: dict[str, int], head: Optional[Check],
           items: list[dict[str, Any]]) -> None:
    """Insert one instance's row, or append to it if the instance was seen before."""
    if head is None:
        return
    if head.instance in rows:
        (old,) = con.execute("SELECT AnswerData FROM answer_data WHERE rowid=?",
                             (rows[head.instance],)).fetchone()
        items = list(json.loads(old).values()) + items
        con.execute("UPDATE answer_data SET AnswerData=? WHERE rowid=?",
                    (_answer_json(items), rows[head.instance]))
        return
    cur = con.execute("INSERT INTO answer_data VALUES (?,?,?,?,?,?,?)",
                      (head.instance, head.series_uid, head.study_uid, head.patient_id,
                       head.modality, head.sop_class_uid, _answer_json(items)))
    rows[head.instance] = cur.lastrowid


def _answer_json(items: list[dict[str, Any]]) -> str:
    return json.dumps({str(i): item for i, item in enumerate(items)}, ensure_ascii=False)
