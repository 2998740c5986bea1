"""One results row per check, whatever produced it (the key, the sweep, UID/date/deid rules).

Columns are the contract of docs/architecture.md ("Score folder").
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Optional

from midib.answer_key import Check
from midib.score.verdict import Verdict
from midib.tagpath import TagPath

#: one encoder reused (json.dumps builds one per call): same text as dumps(sort_keys=True, ensure_ascii=False)
_encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode

COLUMNS = ("check_id", "source", "instance", "output_file", "patient_id", "study_uid",
           "series_uid", "modality", "scope", "action", "path", "attribute", "tag_name",
           "category", "hipaa_class", "ps315_action", "ps315_option", "iod_type", "weight",
           "passed", "score", "expected", "observed", "reason")


@lru_cache(maxsize=65536)
def attribute_of(path: Optional[str]) -> str:
    """The generic path used for per-attribute grouping ('' for file-name checks)."""
    if not path:
        return "(file name)"
    try:
        return str(TagPath.parse(path).generic())
    except Exception:
        return path


def key_row(check: Check, verdict: Verdict, output_file: Optional[str],
            source: str = "key") -> dict[str, Any]:
    """A results row for an answer-key check."""
    return {
        "check_id": check.id, "source": source, "instance": check.instance,
        "output_file": output_file or "", "patient_id": check.patient_id,
        "study_uid": check.study_uid, "series_uid": check.series_uid, "modality": check.modality,
        "scope": check.scope, "action": check.action, "path": check.path or "",
        "attribute": attribute_of(check.path), "tag_name": check.tag_name,
        "category": check.category, "hipaa_class": check.hipaa_class,
        "ps315_action": check.ps315_action or "", "ps315_option": check.ps315_option or "",
        "iod_type": check.iod_type or "", "weight": float(check.weight),
        "passed": bool(verdict.passed), "score": float(verdict.score),
        "expected": _encode(check.expected),
        "observed": verdict.observed, "reason": verdict.reason,
    }


def rule_row(source: str, check_id: str, action: str, verdict: Verdict, *,
             like: Optional[Check] = None, output_file: str = "", path: str = "",
             category: str = "dicom", hipaa_class: str = "none", expected: Any = None,
             scope: str = "instance") -> dict[str, Any]:
    """A results row for a midib rule (sweep, uid, dates, deid, matching, conformance).

    ``like`` is any check of the same instance, to copy its patient/study/series/modality.
    """
    base = Check(id=check_id, instance=like.instance if like else "", file="",
                 patient_id=like.patient_id if like else "", study_uid=like.study_uid if like else "",
                 series_uid=like.series_uid if like else "", modality=like.modality if like else "",
                 scope=scope, action=action, path=path or None,  # type: ignore[arg-type]
                 tag_name=_tag_name(path), expected=expected if expected is not None else {},
                 category=category, hipaa_class=hipaa_class)
    row = key_row(base, verdict, output_file, source=source)
    row["path"] = path
    if not path:
        row["attribute"] = "(file name)" if source == "sweep" else f"({action})"
    return row


@lru_cache(maxsize=4096)
def _tag_name(path: str) -> str:
    if not path or not path.startswith("("):
        return ""
    try:
        return TagPath.parse(path).keyword()
    except Exception:
        return ""
