"""One results row per check, whatever produced it (the key, the sweep, UID/date/deid rules).

Columns are the contract of docs/architecture.md ("Score folder"). A row is a dict
(:func:`key_row`, :func:`rule_row`); a work unit's many key rows are cheaper as columns
(:class:`RowBatch`): ~300,000 dicts of 24 keys, then taken apart again for Arrow, cost as much
as evaluating the checks.
"""

from __future__ import annotations

import json
from functools import lru_cache
from json.encoder import encode_basestring
from operator import itemgetter
from typing import Any, Iterable, Optional

import numpy as np
import pyarrow as pa

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


SCHEMA = pa.schema([(c, pa.bool_() if c == "passed" else pa.float64() if c in ("score", "weight")
                     else pa.string()) for c in COLUMNS])
_ROW = itemgetter(*COLUMNS)
#: the columns a key row takes from its verdict and output, not from its check
_VERDICT_COLUMNS = frozenset({"source", "output_file", "passed", "score", "observed", "reason"})


def expected_text(expected: Any) -> str:
    """``expected`` as JSON text (sorted keys, not ASCII-escaped), the results' ``expected``.

    Most checks expect ``{"value": str}``: that shape is written directly (same text as the
    encoder, ~10x cheaper); anything else goes through the encoder.
    """
    if type(expected) is dict and len(expected) == 1:
        value = expected.get("value")
        if type(value) is str:
            return '{"value": ' + encode_basestring(value) + "}"
    return _encode(expected)


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
        "expected": expected_text(check.expected),
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


class RowBatch:
    """One work unit's rows as columns, in the order they are added (key rows of an instance,
    then its rule rows, instance after instance): what :func:`midib.score.sink.table_of`
    makes of dict rows, without building the dicts."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {c: [] for c in COLUMNS}

    def __len__(self) -> int:
        return len(self.columns["check_id"])

    def add_keys(self, checks: list[Check], verdicts: list[Verdict], output_file: Optional[str],
                 source: str = "key") -> None:
        """Rows of answer-key checks and their verdicts: the same values as :func:`key_row`."""
        col, n, out = self.columns, len(checks), output_file or ""
        col["check_id"] += [c.id for c in checks]
        col["source"] += [source] * n
        col["instance"] += [c.instance for c in checks]
        col["output_file"] += [out] * n
        col["patient_id"] += [c.patient_id for c in checks]
        col["study_uid"] += [c.study_uid for c in checks]
        col["series_uid"] += [c.series_uid for c in checks]
        col["modality"] += [c.modality for c in checks]
        col["scope"] += [c.scope for c in checks]
        col["action"] += [c.action for c in checks]
        col["path"] += [c.path or "" for c in checks]
        col["attribute"] += [attribute_of(c.path) for c in checks]
        col["tag_name"] += [c.tag_name for c in checks]
        col["category"] += [c.category for c in checks]
        col["hipaa_class"] += [c.hipaa_class for c in checks]
        col["ps315_action"] += [c.ps315_action or "" for c in checks]
        col["ps315_option"] += [c.ps315_option or "" for c in checks]
        col["iod_type"] += [c.iod_type or "" for c in checks]
        col["weight"] += [float(c.weight) for c in checks]
        col["passed"] += [bool(v.passed) for v in verdicts]
        col["score"] += [float(v.score) for v in verdicts]
        col["expected"] += [expected_text(c.expected) for c in checks]
        col["observed"] += [v.observed for v in verdicts]
        col["reason"] += [v.reason for v in verdicts]

    def add_columns(self, meta: dict[str, list], verdicts: list[Verdict], output_file: str,
                    source: str = "key") -> None:
        """Rows of answer-key checks whose check-only columns are ready (``meta``: results column
        -> values, from a compiled unit, :mod:`midib.score.compiledkey`), with their verdicts."""
        col, n = self.columns, len(verdicts)
        if len(meta) != len(COLUMNS) - len(_VERDICT_COLUMNS) or not _VERDICT_COLUMNS.isdisjoint(meta):
            raise ValueError(f"add_columns needs every check column, got {sorted(meta)}")
        for name, values in meta.items():
            col[name] += values
        col["source"] += [source] * n
        col["output_file"] += [output_file or ""] * n
        col["passed"] += [bool(v.passed) for v in verdicts]
        col["score"] += [float(v.score) for v in verdicts]
        col["observed"] += [v.observed for v in verdicts]
        col["reason"] += [v.reason for v in verdicts]

    def extend(self, rows: Iterable[dict[str, Any]]) -> None:
        """Rows made as dicts (rule rows); a missing column is a missing value."""
        lists = [self.columns[c] for c in COLUMNS]
        for row in rows:
            try:
                values = _ROW(row)
            except KeyError:
                values = tuple(row.get(c) for c in COLUMNS)
            for target, value in zip(lists, values):
                target.append(value)

    def rows(self) -> list[dict[str, Any]]:
        """The rows as dicts (the in-process, one-instance-at-a-time path)."""
        names = list(self.columns)
        return [dict(zip(names, values)) for values in zip(*self.columns.values())]

    def table(self) -> pa.Table:
        """The rows as an Arrow table with the documented schema."""
        return table_of_columns(self.columns)


def table_of_columns(columns: dict[str, list[Any]]) -> pa.Table:
    """Columns (name -> values) as an Arrow table with the documented schema."""
    return pa.Table.from_arrays([column_array(columns[f.name], f.type) for f in SCHEMA], schema=SCHEMA)


def column_array(values: list[Any], type_: pa.DataType) -> pa.Array:
    """One results column as an Arrow array: the same array as ``pa.array(values, type=type_)``.

    ``pa.array`` on a Python list first asks whether the list is a pandas object, which imports
    pandas: ~0.3 s of CPU and ~45 MB in every scoring worker and in the parent, that never use
    it. So str, float and bool columns are laid out in Arrow buffers here (numpy, no per-value
    Arrow call: ~1.3x ``pa.array``'s time, far less than the import); anything else (bytes, ints,
    odd values) goes to ``pa.array``, with its conversions and its errors.
    """
    try:
        if type_ == pa.string():
            array = _string_array(values)
            if array is not None:
                return array
        elif type_ == pa.float64() and all(type(v) is float for v in values):
            data = np.array(values, dtype=np.float64)
            return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(data)])
        elif type_ == pa.bool_() and all(type(v) is bool for v in values):
            bits = np.packbits(np.array(values, dtype=np.bool_), bitorder="little")
            return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(bits)])
    except (TypeError, ValueError):   # not all str (or not encodable): pa.array decides
        pass
    return pa.array(values, type=type_)


def _string_array(values: list[Optional[str]]) -> Optional[pa.Array]:
    """str or None values as an Arrow string array (validity bitmap, int32 offsets, UTF-8 data);
    None when the data would not fit 32-bit offsets. TypeError on a value that is not a str."""
    n, valid = len(values), None
    if None in values:
        present = np.fromiter((v is not None for v in values), np.bool_, n)
        valid = pa.py_buffer(np.packbits(present, bitorder="little"))
        values = ["" if v is None else v for v in values]
    joined = "".join(values)
    if joined.isascii():   # one byte per character: lengths of the str themselves
        data, lengths = joined.encode("ascii"), np.fromiter(map(len, values), np.int64, n)
    else:
        # backslashreplace: only a lone surrogate (a file name that is not UTF-8) needs it
        encoded = [v.encode("utf-8", "backslashreplace") for v in values]
        data, lengths = b"".join(encoded), np.fromiter(map(len, encoded), np.int64, n)
    if len(data) >= 2 ** 31:
        return None
    offsets = np.zeros(n + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(lengths)
    return pa.Array.from_buffers(pa.string(), n, [valid, pa.py_buffer(offsets), pa.py_buffer(data)])
