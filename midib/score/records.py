"""Output records kept on disk between the phases that read them: every output file is walked once.

The observe phase reads each output in full (every element some check, ledger entry or rule
asks about, every UID, the leak sweep's hits) in the workers, which hand back three things per
file: the few paths matching compares (kept in memory, :class:`~midib.score.workunits.SlimRecord`),
the identifying record (the planted identifiers and dates the identifier maps and date shifts
are derived from) and the full record, both as bytes (:func:`~midib.score.observation.pack_record`).
The parent streams the bytes into two tables of a scratch SQLite file (:mod:`midib.score.diskmap`)
as the units arrive; after matching, the check units look their instance's record up by file
name instead of walking the file a second time (the walk and sweep cost ~1.3 ms a file, a
look-up ~0.15 ms), and the parent never holds more than a unit of them.
"""

from __future__ import annotations

import sqlite3

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from midib.errors import MidibError
from midib.score.diskmap import DiskMap, Writer, close_file
from midib.score.observation import OutputRecord, pack_record, unpack_record

IDENTIFYING, FULL = "identifying", "full"


class RecordStore(Mapping[str, OutputRecord]):
    """file (relative, POSIX) -> its stored record, read lazily; pickles as its file's path."""

    def __init__(self, table: DiskMap) -> None:
        self.table = table

    def __getitem__(self, file: str) -> OutputRecord:
        return unpack_record(self.table[file])

    def get_record(self, file: str) -> Optional[OutputRecord]:
        """The record of ``file``, or None if it was not stored or the store is gone (scoring
        over, scratch folder cleaned): the caller reads the file again, never judges on nothing."""
        try:
            return self[file]
        except (KeyError, sqlite3.Error):
            return None

    def items(self) -> Iterator[tuple[str, OutputRecord]]:  # type: ignore[override]
        """(file, record) in the order they were stored, one row at a time (the file as the
        record names it: a stored key may be escaped, :func:`~midib.score.diskmap.stored_key`)."""
        for _, data in self.table.items():
            rec = unpack_record(data)
            yield rec.file, rec

    def __iter__(self) -> Iterator[str]:
        return (file for file, _ in self.items())

    def __len__(self) -> int:
        return len(self.table)

    def close(self) -> None:
        self.table.close()


def packed(rec: OutputRecord, identifying: frozenset[str]) -> tuple[bytes, bytes]:
    """The identifying and the full record of one output, as the store keeps them."""
    return pack_record(rec.trimmed(identifying)), pack_record(rec)


@contextmanager
def scratch_writes(path: Path) -> Iterator[None]:
    """A scratch file that cannot be written (folder full, removed) is one clear error, not a
    traceback: nothing can be scored without the records."""
    try:
        yield
    except (OSError, sqlite3.Error) as e:
        raise MidibError(f"cannot write the scorer's scratch file {path}: {e} "
                         "(is its folder full? TMPDIR chooses another)") from e


class RecordSpill:
    """The two tables of one observe phase, filled as the units arrive (see the module doc)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with scratch_writes(path):
            self.writer = Writer(path, (IDENTIFYING, FULL))

    def add(self, unit: Iterable[tuple[str, bytes, bytes]]) -> None:
        """One unit's (file, identifying bytes, full bytes)."""
        unit = list(unit)
        with scratch_writes(self.path):
            self.writer.add(IDENTIFYING, ((f, ident) for f, ident, _ in unit))
            self.writer.add(FULL, ((f, full) for f, _, full in unit))

    def finish(self) -> tuple[RecordStore, RecordStore]:
        """The identifying and the full records, readable by any process until :meth:`remove`."""
        with scratch_writes(self.path):
            tables = self.writer.finish()
        return RecordStore(tables[IDENTIFYING]), RecordStore(tables[FULL])

    def remove(self) -> None:
        """Close this process's connection and delete the file (scoring is over)."""
        self.writer.abort()  # scoring failed half-way: no commit; done: nothing to do
        for path in (self.path, self.pixels_path):
            close_file(path)
            path.unlink(missing_ok=True)

    @property
    def pixels_path(self) -> Path:
        """Where the pixel phase keeps its verdicts (removed with the records)."""
        return self.path.with_suffix(".pixels.db")
