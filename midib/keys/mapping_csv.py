"""MIDI-B mapping files: ``id_old,id_new`` CSVs for UIDs and patient IDs.

The official scorer needs them to know which new UID / patient ID a tool gave each original
one (``uid_consistent``, ``patid_consistent``, and matching output files to answer-key rows).
Values are raw (no ``<…>`` wrapping); the header is exactly ``id_old,id_new``. The runner writes
them when a tool reveals its mapping; the scorer and ``midib import-key`` read them.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Mapping

from midib.errors import MidibError

HEADER = ("id_old", "id_new")
#: the largest mapping read: ~1 million rows, four UIDs an instance of a 250,000-instance
#: benchmark; a submission is untrusted, and a mapping is held whole in memory
MAX_BYTES = 128 * 1024 * 1024


def read_mapping(path: str | Path) -> dict[str, str]:
    """{old: new} from a mapping CSV; a one-line MidibError on a missing/malformed file.

    The file may come with an untrusted submission: whatever the csv module refuses (a field
    over its size limit, a NUL byte) is reported with the file and line, not as a traceback.
    """
    path = Path(path)
    reader = None
    out: dict[str, str] = {}
    try:
        if path.exists() and not path.is_file():   # a FIFO blocks the open, /dev/zero never ends
            raise MidibError(f"mapping file {path} is not a regular file; not read")
        with path.open(encoding="utf-8-sig", newline="") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_BYTES:
                raise MidibError(f"mapping file {path} is {size / 2**20:,.0f} MiB: more than the "
                                 f"{MAX_BYTES // 2**20} MiB a mapping of any benchmark needs; not read")
            reader = csv.reader(f)   # row by row: a list of every row took ~30x the file's size
            header = next(reader, None)
            if header is None or tuple(c.strip() for c in header[:2]) != HEADER:
                raise MidibError(f"mapping file {path}: first line must be 'id_old,id_new'")
            for row in reader:
                _add_row(out, row, path, reader.line_num)
    except OSError as e:
        raise MidibError(f"cannot read mapping file {path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise MidibError(f"mapping file {path} is not UTF-8 text") from e
    except csv.Error as e:
        line = reader.line_num if reader is not None else 0
        raise MidibError(f"{path}:{line}: not a valid CSV line ({e})") from e
    return out


def _add_row(out: dict[str, str], row: list[str], path: Path, lineno: int) -> None:
    """One ``id_old,id_new`` row into ``out`` (blank rows skipped; a conflict is an error)."""
    if not row or not any(c.strip() for c in row):
        return
    if len(row) < 2:
        raise MidibError(f"{path}:{lineno}: expected two columns id_old,id_new")
    old, new = row[0].strip(), row[1].strip()
    if old in out and out[old] != new:
        raise MidibError(f"{path}:{lineno}: {old!r} is mapped twice ({out[old]!r} and {new!r})")
    out[old] = new


def write_mapping(path: str | Path, mapping: Mapping[str, str]) -> int:
    """Write {old: new} as an ``id_old,id_new`` CSV (sorted by old id); return the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for old in sorted(mapping):
            w.writerow((old, mapping[old]))
    return len(mapping)
