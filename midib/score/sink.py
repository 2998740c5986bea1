"""Where result rows go: counted as they come, then kept (tests) or written in batches (CLI).

Rows are never all in memory when written to files: every ``BATCH`` rows go to the Parquet
writer and the CSV file, and a :class:`Tally` keeps the counts summary.json needs.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from midib.score.rows import COLUMNS

BATCH = 5000
BREAKDOWNS = {"by_category": "category", "by_action": "action", "by_modality": "modality",
              "by_attribute": "attribute", "by_hipaa_class": "hipaa_class", "by_source": "source"}
SCHEMA = pa.schema([(c, pa.bool_() if c == "passed" else pa.float64() if c in ("score", "weight")
                     else pa.string()) for c in COLUMNS])


class Tally:
    """Passed/total counts overall, per breakdown value and per patient (counted per batch)."""

    def __init__(self) -> None:
        self.passed = 0
        self.total = 0
        self.groups: dict[str, dict[str, list[int]]] = {k: defaultdict(lambda: [0, 0]) for k in BREAKDOWNS}
        self.patients: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add_frame(self, df: pd.DataFrame) -> None:
        """Count a batch of rows (vectorised: one groupby per breakdown)."""
        if df.empty:
            return
        self.passed += int(df["passed"].sum())
        self.total += len(df)
        for name, column in BREAKDOWNS.items():
            keys = df[column].fillna("").astype(str).replace("", "(none)")
            self._merge(self.groups[name], df["passed"].groupby(keys).agg(["sum", "count"]))
        with_patient = df[df["patient_id"].fillna("") != ""]
        by_patient = with_patient["passed"].groupby(with_patient["patient_id"])
        self._merge(self.patients, by_patient.agg(["sum", "count"]))

    @staticmethod
    def _merge(target: dict[str, list[int]], grouped: pd.DataFrame) -> None:
        for key, passed, count in zip(grouped.index, grouped["sum"], grouped["count"]):
            counts = target[str(key)]
            counts[0] += int(passed)
            counts[1] += int(count)


class RowSink:
    """Collects rows in batches; each batch is counted, then kept in memory (tests, API)."""

    def __init__(self) -> None:
        self.tally = Tally()
        self._batch: list[dict[str, Any]] = []
        self._frames: list[pd.DataFrame] = []
        self.closed = False

    def add(self, row: dict[str, Any]) -> None:
        self._batch.append(row)
        if len(self._batch) >= BATCH:
            self._flush()

    def extend(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.add(row)

    def extend_frame(self, df: pd.DataFrame) -> None:
        """A batch already made into a frame (a work unit's rows), after the rows pending."""
        self._flush()
        if not df.empty:
            self.tally.add_frame(df)
            self._write(df)

    def _flush(self) -> None:
        if self._batch:
            df = frame_of(self._batch)
            self._batch = []
            self.tally.add_frame(df)
            self._write(df)

    def _write(self, df: pd.DataFrame) -> None:
        self._frames.append(df)

    def close(self) -> None:
        """Count (and write) what is left; idempotent."""
        if not self.closed:
            self._flush()
            self.closed = True

    @property
    def rows(self) -> list[dict[str, Any]]:
        self.close()
        return self.frame().to_dict("records")

    def frame(self) -> pd.DataFrame:
        self.close()
        if not self._frames:
            return frame_of([])
        return pd.concat(self._frames, ignore_index=True)


class FileSink(RowSink):
    """Writes results.parquet and results.csv batch by batch (rows never all in memory)."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__()
        out_dir.mkdir(parents=True, exist_ok=True)
        self.parquet_path, self.csv_path = out_dir / "results.parquet", out_dir / "results.csv"
        self._writer = pq.ParquetWriter(self.parquet_path, SCHEMA)
        self._csv = pacsv.CSVWriter(str(self.csv_path), SCHEMA)

    def _write(self, df: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(df, schema=SCHEMA, preserve_index=False)
        self._writer.write_table(table)
        self._csv.write_table(table)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._writer.close()
            self._csv.close()

    def frame(self) -> pd.DataFrame:
        self.close()
        return pd.read_parquet(self.parquet_path)


def frame_of(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame with the documented columns and types."""
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["passed"] = df["passed"].astype(bool)
    df["score"] = df["score"].astype(float)
    df["weight"] = df["weight"].astype(float)
    return df
