"""Versioned JSON-lines files: a header line, then one record per line.

Streaming by design (a 54,000-instance ledger does not need to fit a DataFrame to be read),
and refusing files written by a newer format version, as asv does for its result files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from midib.errors import FormatVersionError, MidibError

try:  # ~3x faster parsing of big ledgers and keys; same records (orjson's error is a JSONDecodeError)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a dependency; plain json still works
    _loads = json.loads


#: one record as one line (without newline), exactly as :func:`write_jsonl` writes it; one
#: encoder reused, because building it per record cost as much as encoding small records
encode_record = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode


def write_jsonl(path: Path, kind: str, version: int, records: Iterable[dict[str, Any]],
                header: dict[str, Any] | None = None) -> int:
    """Write ``records`` after a ``{"format": kind, "version": N, ...}`` header; return the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps({"format": kind, "version": version, **(header or {})},
                           sort_keys=True, ensure_ascii=False) + "\n")
        for rec in records:
            f.write(encode_record(rec) + "\n")
            n += 1
    return n


def read_header(path: Path, kind: str, max_version: int) -> dict[str, Any]:
    """The header of a midib JSON-lines file; refuse other kinds and newer versions."""
    try:
        with path.open(encoding="utf-8") as f:
            first = f.readline()
    except OSError as e:
        raise MidibError(f"cannot read {path}: {e.strerror}") from e
    try:
        header = json.loads(first)
    except json.JSONDecodeError as e:
        raise FormatVersionError(f"{path} is not a midib {kind} file (bad first line)") from e
    if not isinstance(header, dict) or header.get("format") != kind:
        raise FormatVersionError(f"{path} is not a midib {kind} file")
    if int(header.get("version", 0)) > max_version:
        raise FormatVersionError(
            f"{path} is {kind} format version {header['version']}, newer than this midib "
            f"understands ({max_version}); upgrade midib")
    return header


def read_jsonl(path: Path, kind: str, max_version: int) -> Iterator[dict[str, Any]]:
    """Yield the records of a midib JSON-lines file (after checking its header)."""
    read_header(path, kind, max_version)
    with path.open("rb") as f:
        f.readline()
        for lineno, line in enumerate(f, start=2):
            if not line.strip():
                continue
            try:
                yield _loads(line)
            except json.JSONDecodeError as e:
                raise MidibError(f"{path}:{lineno}: corrupt record ({e.msg})") from e
