"""Where result rows go: counted as they come, then kept (tests) or written in batches (CLI).

Rows are never all in memory when written to files: every ``BATCH`` rows go to the Parquet
writer and the CSV file, and a :class:`Tally` keeps the counts summary.json needs.

Rows travel as Arrow tables, built column by column from the row dicts (one C-level
``itemgetter`` per row, one ``pyarrow`` array per column): a DataFrame built from a list of
dicts, then converted to Arrow for the writers, cost ~9 us a row, as much as evaluating the
check. Counting uses Arrow's hash aggregation, one call per breakdown and batch.
"""

from __future__ import annotations

from collections import defaultdict
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from midib.score.rows import COLUMNS, SCHEMA, RowBatch, table_of_columns  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # pandas costs ~35 MB per process: imported only where frames are asked for
    import pandas as pd

BATCH = 5000
BREAKDOWNS = {"by_category": "category", "by_action": "action", "by_modality": "modality",
              "by_attribute": "attribute", "by_hipaa_class": "hipaa_class", "by_source": "source"}
_ROW = itemgetter(*COLUMNS)
Batch = Union[pa.Table, "pd.DataFrame"]


class Tally:
    """Passed/total counts overall, per breakdown value and per patient (counted per batch)."""

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
        """Count a batch of rows (vectorised: one hash aggregation per breakdown)."""
        if table.num_rows == 0:
            return
        passed = table.column("passed").fill_null(False)
        self.passed += int(pc.sum(passed.cast(pa.int64())).as_py() or 0)
        self.total += table.num_rows
        counted = pa.table({"passed": passed.cast(pa.int64())})
        for name, column in BREAKDOWNS.items():
            keys = table.column(column).fill_null("")
            self._merge(self.groups[name], counted.append_column("key", keys), empty="(none)")
        patients = table.column("patient_id").fill_null("")
        self._merge(self.patients, counted.append_column("key", patients), empty=None)

    @staticmethod
    def _merge(target: dict[str, list[int]], keyed: pa.Table, empty: str | None) -> None:
        """Add per-key (passed, count) of ``keyed`` to ``target``; the key '' counts as
        ``empty`` (None: not counted)."""
        grouped = keyed.group_by("key", use_threads=False).aggregate(
            [("passed", "sum"), ("passed", "count")]).to_pydict()
        for key, passed, count in zip(grouped["key"], grouped["passed_sum"], grouped["passed_count"]):
            if key == "":
                if empty is None:
                    continue
                key = empty
            counts = target[key]
            counts[0] += int(passed)
            counts[1] += int(count)


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

    def extend_frame(self, df: Batch) -> None:
        """A batch already made (a work unit's rows, as a DataFrame or an Arrow table from
        :func:`table_of`), after the rows pending."""
        self._flush()
        table = df if isinstance(df, pa.Table) else table_of_frame(df)
        if table.num_rows:
            self.tally.add_table(table)
            self._write(table)

    extend_table = extend_frame

    def _flush(self) -> None:
        if self._batch:
            table = table_of(self._batch)
            self._batch = []
            self.tally.add_table(table)
            self._write(table)

    def _write(self, table: pa.Table) -> None:
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


class FileSink(RowSink):
    """Writes results.parquet and results.csv in batches of about ``BATCH`` rows (rows never
    all in memory)."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__()
        out_dir.mkdir(parents=True, exist_ok=True)
        self.parquet_path, self.csv_path = out_dir / "results.parquet", out_dir / "results.csv"
        self._writer = pq.ParquetWriter(self.parquet_path, SCHEMA)
        self._csv = pacsv.CSVWriter(str(self.csv_path), SCHEMA)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def _write(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= BATCH:
            self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            table = pa.concat_tables(self._pending)
            self._pending, self._pending_rows = [], 0
            self._writer.write_table(table)
            self._csv.write_table(table)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._write_pending()
            self._writer.close()
            self._csv.close()

    def frame(self) -> "pd.DataFrame":
        import pandas as pd
        self.close()
        return pd.read_parquet(self.parquet_path)


def table_of(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the documented columns and types (column by column)."""
    if not rows:
        return SCHEMA.empty_table()
    try:
        columns = list(zip(*map(_ROW, rows)))
        return pa.Table.from_arrays([pa.array(col, type=field.type) for col, field in zip(columns, SCHEMA)],
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
