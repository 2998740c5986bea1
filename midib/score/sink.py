"""Where result rows go: counted as they come, then kept (tests) or written in batches (CLI).

Rows are never all in memory when written to files: every ``BATCH`` rows go to the Parquet
writer and the CSV file, and a :class:`Tally` keeps the counts summary.json needs.

Rows travel as Arrow tables, built column by column from the row dicts (one C-level
``itemgetter`` per row, one ``pyarrow`` array per column): a DataFrame built from a list of
dicts, then converted to Arrow for the writers, cost ~9 us a row, as much as evaluating the
check.

A scoring work unit arrives finished (:class:`UnitResult`): its worker already wrote the rows'
CSV text and counted them, so the parent only appends bytes, adds counts and hands the table to
the Parquet writer. Done in the parent, the counting (Arrow group-bys) and CSV formatting of
~300,000 rows took ~1 s of CPU from the two workers of a 2-core machine.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections import Counter, defaultdict
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Optional, Union

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from midib.errors import MidibError
from midib.score.rows import COLUMNS, SCHEMA, RowBatch, column_array, table_of_columns  # noqa: F401

if TYPE_CHECKING:  # pandas costs ~35 MB per process: imported only where frames are asked for
    import pandas as pd

BATCH = 5000
BREAKDOWNS = {"by_category": "category", "by_action": "action", "by_modality": "modality",
              "by_attribute": "attribute", "by_hipaa_class": "hipaa_class", "by_source": "source"}
_ROW = itemgetter(*COLUMNS)
Batch = Union[pa.Table, "pd.DataFrame"]


class Tally:
    """Passed/total counts overall, per breakdown value and per patient.

    Counted in plain Python (no Arrow compute, which imports pandas for its scalars) so that a
    worker can count its unit and the parent only adds numbers (:meth:`partial`, :meth:`merge`). A missing or empty breakdown value counts
    as ``(none)``; a row without a patient is not counted per patient; a missing ``passed``
    is a failure.
    """

    def __init__(self) -> None:
        self.passed = 0
        self.total = 0
        self.groups: dict[str, dict[str, list[int]]] = {k: defaultdict(lambda: [0, 0]) for k in BREAKDOWNS}
        self.patients: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add_frame(self, df: "pd.DataFrame") -> None:
        """Count a batch of rows given as a DataFrame."""
        if not df.empty:
            self.add_table(table_of_frame(df))

    def add_table(self, table: pa.Table) -> None:
        """Count a batch of rows given as an Arrow table."""
        if table.num_rows:
            self.add_columns({c: table.column(c).to_pylist() for c in _COUNTED})

    def add_columns(self, columns: dict[str, list[Any]]) -> None:
        """Count rows given as columns (name -> values; at least ``passed``, ``patient_id`` and
        the breakdowns' columns, all of one length). Rows are first counted by their whole
        combination of those values (one ``Counter`` pass; a unit of ~2,000 rows has ~200),
        then each combination is added to every breakdown: half the time of one count per column."""
        combos = Counter(zip(map(bool, columns["passed"]), columns["patient_id"],
                             *(columns[c] for c in BREAKDOWNS.values())))
        groups = [self.groups[name] for name in BREAKDOWNS]
        for (ok, patient, *values), count in combos.items():
            passed = count if ok else 0
            self.passed += passed
            self.total += count
            for target, value in zip(groups, values):
                counts = target[value or "(none)"]   # None or '': no value
                counts[0] += passed
                counts[1] += count
            if patient:
                counts = self.patients[patient]
                counts[0] += passed
                counts[1] += count

    def partial(self) -> dict[str, Any]:
        """The counts as plain dicts (picklable, what a worker sends back for :meth:`merge`)."""
        return {"passed": self.passed, "total": self.total,
                "groups": {name: {k: list(v) for k, v in g.items()} for name, g in self.groups.items()},
                "patients": {k: list(v) for k, v in self.patients.items()}}

    def merge(self, partial: dict[str, Any]) -> None:
        """Add the counts of another tally (its :meth:`partial`): the same as counting its rows here."""
        self.passed += partial["passed"]
        self.total += partial["total"]
        for name, groups in partial["groups"].items():
            _add_counts(self.groups[name], groups)
        _add_counts(self.patients, partial["patients"])


_COUNTED = ("passed", "patient_id", *BREAKDOWNS.values())


def _add_counts(target: dict[str, list[int]], source: dict[str, list[int]]) -> None:
    for key, (passed, count) in source.items():
        counts = target[key]
        counts[0] += passed
        counts[1] += count


class UnitResult(NamedTuple):
    """One work unit's rows, finished where they were made: the table (for Parquet and
    in-memory sinks), its CSV text without header (appended to results.csv as is) and its
    counts (:meth:`Tally.partial`)."""

    table: pa.Table
    csv: bytes
    tally: dict[str, Any]


def unit_result(table: pa.Table, columns: dict[str, list[Any]] | None = None) -> UnitResult:
    """A unit's rows made ready for any sink; ``columns`` (the same rows as Python lists, when
    the caller has them) spares converting the counted columns back from Arrow."""
    tally = Tally()
    if columns is not None:
        tally.add_columns(columns)
    else:
        tally.add_table(table)
    return UnitResult(table, csv_text(table), tally.partial())


_NO_HEADER = pacsv.WriteOptions(include_header=False)


def _empty_table() -> pa.Table:
    """No rows, the documented columns (``Schema.empty_table`` would import pandas)."""
    return table_of_columns({c: [] for c in COLUMNS})


def csv_text(table: pa.Table, header: bool = False) -> bytes:
    """Rows as CSV bytes, formatted exactly as ``pyarrow.csv.CSVWriter`` writes them (same
    writer, default options), so concatenated units equal one writer's file."""
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, None if header else _NO_HEADER)
    return buf.getvalue()


class RowSink:
    """Collects rows in batches; each batch is counted, then kept in memory (tests, API)."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._batch: list[dict[str, Any]] = []
        self._tables: list[pa.Table] = []
        self.closed = False

    def add(self, row: dict[str, Any]) -> None:
        self._batch.append(row)
        if len(self._batch) >= BATCH:
            self._flush()

    def extend(self, rows: list[dict[str, Any]]) -> None:
        self._batch.extend(rows)
        if len(self._batch) >= BATCH:
            self._flush()

    def extend_frame(self, df: Union[Batch, UnitResult]) -> None:
        """A batch already made (a work unit's rows, as a DataFrame or an Arrow table from
        :func:`table_of`), after the rows pending."""
        if isinstance(df, UnitResult):
            return self.extend_unit(df)
        self._flush()
        table = df if isinstance(df, pa.Table) else table_of_frame(df)
        if table.num_rows:
            self.tally.add_table(table)
            self._write(table)

    extend_table = extend_frame

    def extend_unit(self, result: UnitResult) -> None:
        """A work unit's rows already counted and formatted by its worker (:func:`unit_result`),
        after the rows pending."""
        self._flush()
        if result.table.num_rows:
            self.tally.merge(result.tally)
            self._write(result.table, result.csv)

    def _flush(self) -> None:
        if self._batch:
            table = table_of(self._batch)
            self._batch = []
            self.tally.add_table(table)
            self._write(table)

    def _write(self, table: pa.Table, csv: bytes | None = None) -> None:
        """Keep ``table`` (``csv``: its CSV text, when already made)."""
        self._tables.append(table)

    def close(self) -> None:
        """Count (and write) what is left; idempotent."""
        if not self.closed:
            self._flush()
            self.closed = True

    @property
    def rows(self) -> list[dict[str, Any]]:
        self.close()
        return self.frame().to_dict("records")

    def frame(self) -> "pd.DataFrame":
        self.close()
        if not self._tables:
            return frame_of([])
        return pa.concat_tables(self._tables).to_pandas()


SCORE_FILES = ("results.parquet", "results.csv", "summary.json")   # all the score folder gets
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def refuse_links(out_dir: Path) -> None:
    """A one-line MidibError when the score folder or a file the scorer writes there is a
    symbolic link or not a regular file, before anything is written: the score folder may sit
    in an untrusted submission (RUN/score), and we may run as root."""
    if os.path.islink(out_dir):
        raise MidibError(f"score folder {out_dir} is a symbolic link: refusing to write through it")
    for name in SCORE_FILES:
        try:
            mode = os.lstat(out_dir / name).st_mode
        except FileNotFoundError:
            continue
        except OSError as e:
            raise MidibError(f"cannot check {out_dir / name}: {e.strerror or e}") from e
        if stat.S_ISLNK(mode):
            raise MidibError(f"{out_dir / name} is a symbolic link: refusing to write through it")
        if not stat.S_ISREG(mode):
            raise MidibError(f"{out_dir / name} is not a regular file: cannot write the score there")


def open_score_file(out_dir: Path, name: str) -> BinaryIO:
    """``out_dir/name`` made afresh for writing, never through a link.

    The folder is opened without following a link and the file is made in it (``dir_fd``), so
    a link put in place of either after :func:`refuse_links` is refused too (ELOOP, EEXIST),
    not followed. A regular file already there (an earlier score) is unlinked and a new one
    made: truncating it in place would write through a hard link to a file elsewhere.
    """
    refuse_links(out_dir)
    dir_fd: Optional[int] = None
    if _NOFOLLOW and _DIRECTORY and os.open in os.supports_dir_fd:
        try:
            dir_fd = os.open(out_dir, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        except OSError as e:
            raise _link_error(e, out_dir) from e
    target: Union[str, Path] = name if dir_fd is not None else out_dir / name
    try:
        try:
            os.unlink(target, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o644,
                     dir_fd=dir_fd)
    except OSError as e:
        raise _link_error(e, out_dir / name) from e
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    return os.fdopen(fd, "wb")


def _link_error(e: OSError, path: Path) -> OSError:
    """A link met while opening ``path`` as a one-line MidibError; other errors as they are.
    (A folder link opened with O_DIRECTORY | O_NOFOLLOW fails with ENOTDIR on Linux.)"""
    if e.errno == errno.ELOOP or (e.errno == errno.ENOTDIR and os.path.islink(path)):
        return MidibError(f"{path} is a symbolic link: refusing to write through it")
    if e.errno == errno.EEXIST:
        return MidibError(f"{path} appeared while the score was being written: refusing to overwrite it")
    return e


class FileSink(RowSink):
    """Writes results.parquet and results.csv as rows come (rows never all in memory).

    results.csv is a plain file: its header once, then each batch's CSV text (made by the
    worker for a work unit), byte for byte what one ``CSVWriter`` would write. Parquet gets
    row groups of about ``BATCH`` rows: small unit tables wait and are written together.
    Both files are made by :func:`open_score_file` (never through a link); a link among the
    score folder's files is refused before either is made.
    """

    def __init__(self, out_dir: Path) -> None:
        super().__init__()
        self.out_dir = out_dir
        refuse_links(out_dir)
        self.created_dir = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        self.parquet_path, self.csv_path = out_dir / "results.parquet", out_dir / "results.csv"
        made: list[BinaryIO] = []
        try:
            for name in ("results.parquet", "results.csv"):
                made.append(open_score_file(out_dir, name))
            self._parquet, self._csv = made
            self._writer = pq.ParquetWriter(self._parquet, SCHEMA)
        except BaseException:   # none of ours left behind
            for f, path in zip(made, (self.parquet_path, self.csv_path)):
                f.close()
                path.unlink(missing_ok=True)
            raise
        self._csv.write(csv_text(_empty_table(), header=True))
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def discard(self) -> None:
        """Remove what this sink wrote (no half-written results beside an error), and the score
        folder when this sink made it and it is left empty."""
        self.close()
        for path in (self.parquet_path, self.csv_path):
            path.unlink(missing_ok=True)
        if self.created_dir:
            try:
                self.out_dir.rmdir()
            except OSError:   # not empty (an older summary.json): left as it was
                pass

    def _write(self, table: pa.Table, csv: bytes | None = None) -> None:
        self._csv.write(csv if csv is not None else csv_text(table))
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= BATCH:
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            table = pa.concat_tables(self._pending)
            self._pending, self._pending_rows = [], 0
            self._writer.write_table(table)

    def close(self) -> None:
        if not self.closed:
            try:
                super().close()
                self._write_pending()
            finally:
                self.closed = True
                try:
                    self._writer.close()
                finally:
                    self._parquet.close()
                    self._csv.close()

    def frame(self) -> "pd.DataFrame":
        import pandas as pd
        self.close()
        return pd.read_parquet(self.parquet_path)


def table_of(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the documented columns and types (column by column)."""
    if not rows:
        return _empty_table()
    try:
        columns = list(zip(*map(_ROW, rows)))
        return pa.Table.from_arrays([column_array(list(col), field.type) for col, field in zip(columns, SCHEMA)],
                                    schema=SCHEMA)
    except (KeyError, pa.ArrowException, TypeError, ValueError):  # a row missing a column, odd types
        return table_of_frame(_pandas_frame(rows))


def table_of_frame(df: "pd.DataFrame") -> pa.Table:
    """A DataFrame of rows as an Arrow table with the documented schema."""
    return pa.Table.from_pandas(df, schema=SCHEMA, preserve_index=False)


def frame_of(rows: list[dict[str, Any]]) -> "pd.DataFrame":
    """Rows as a DataFrame with the documented columns and types."""
    if not rows:
        return _pandas_frame(rows)
    try:
        return table_of(rows).to_pandas()
    except (pa.ArrowException, TypeError, ValueError):
        return _pandas_frame(rows)


def _pandas_frame(rows: list[dict[str, Any]]) -> "pd.DataFrame":
    """The general (slow) way: any row shape pandas accepts, missing columns as missing values."""
    import pandas as pd
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["passed"] = df["passed"].astype(bool)
    df["score"] = df["score"].astype(float)
    df["weight"] = df["weight"].astype(float)
    return df
