"""Work units finished in the worker (CSV text, partial counts): the parent's files and summary
must be exactly what the parent made itself when it formatted and counted every row."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from midib.cli import main
from midib.score.rows import COLUMNS, SCHEMA, column_array
from midib.score.sink import (BATCH, FileSink, RowSink, Tally, UnitResult, csv_text, table_of,
                              unit_result)

#: values a CSV writer must quote or escape, and missing values
AWKWARD = ['plain', 'say "hi"', 'a,b', 'two\nlines', 'crlf\r\nend', 'Ünïcödé 東京', '', None, ' lead', '"']


def _rows(n: int) -> list[dict]:
    """Rows with awkward text everywhere, empty and missing breakdown values and patients."""
    rows = []
    for i in range(n):
        row = {c: f"{c}-{i % 5}" for c in COLUMNS}
        text = AWKWARD[i % len(AWKWARD)]
        row.update(check_id=f"c{i}", weight=float(i % 3), score=(i % 4) / 4, passed=i % 3 != 0,
                   observed=text, reason=AWKWARD[(i + 3) % len(AWKWARD)],
                   expected=json.dumps({"value": text}, ensure_ascii=False),
                   modality=AWKWARD[i % 7] if i % 4 else None, category=["hipaa", "", None][i % 3],
                   patient_id=["P1", "P2", "", None][i % 4])
        rows.append(row)
    return rows


def _units(rows: list[dict], size: int) -> list[pa.Table]:
    return [table_of(rows[i:i + size]) for i in range(0, len(rows), size)]


def _counts(tally: Tally) -> tuple:
    return (tally.passed, tally.total, {k: dict(v) for k, v in tally.groups.items()}, dict(tally.patients))


def test_partial_tallies_merged_equal_the_tally_of_the_whole() -> None:
    rows = _rows(157)
    whole = Tally()
    whole.add_table(table_of(rows))
    merged = Tally()
    for table in _units(rows, 23):
        merged.merge(unit_result(table).tally)
    assert _counts(merged) == _counts(whole)
    assert whole.total == 157 and whole.passed == sum(r["passed"] for r in rows)
    assert whole.groups["by_modality"]["(none)"][1] == sum(not r["modality"] for r in rows)
    assert "" not in whole.patients and sum(c for _, c in whole.patients.values()) == 157 // 2 + 1
    # counting the worker's Python columns gives what counting its Arrow table gives
    columns = {c: [r[c] for r in rows] for c in COLUMNS}
    from_columns = Tally()
    from_columns.add_columns(columns)
    assert _counts(from_columns) == _counts(whole)


def test_missing_passed_counts_as_failed() -> None:
    rows = _rows(6)
    rows[1]["passed"] = None
    tally = Tally()
    tally.add_table(table_of(rows))
    assert tally.passed == sum(bool(r["passed"]) for r in rows) and tally.total == 6
    assert tally.groups["by_source"]["source-1"] == [0, 1]


def test_unit_csv_concatenated_equals_one_csv_writer_byte_for_byte(tmp_path: Path) -> None:
    rows = _rows(101)
    units = _units(rows, 17)
    reference = tmp_path / "writer.csv"
    with pacsv.CSVWriter(str(reference), SCHEMA) as writer:
        writer.write_table(pa.concat_tables(units))
    joined = csv_text(table_of([]), header=True) + b"".join(unit_result(t).csv for t in units)
    assert joined == reference.read_bytes()
    assert b'"say ""hi"""' in joined and "東京".encode() in joined


def test_file_sink_writes_the_same_files_from_units_tables_and_rows(tmp_path: Path) -> None:
    rows = _rows(2 * BATCH + 321)           # several Parquet row groups, units across their edges
    units = [unit_result(t) for t in _units(rows, 777)]
    ways = {"rows": lambda s: s.extend(rows), "tables": lambda s: [s.extend_frame(u.table) for u in units],
            "units": lambda s: [s.extend_unit(u) for u in units],
            "mixed": lambda s: (s.extend(rows[:5]), [s.extend_unit(u) for u in _shifted(rows, 5)])}
    made = {}
    for name, feed in ways.items():
        sink = FileSink(tmp_path / name)
        feed(sink)
        sink.close()
        made[name] = ((tmp_path / name / "results.csv").read_bytes(),
                      pq.read_table(tmp_path / name / "results.parquet"), _counts(sink.tally))
    with pacsv.CSVWriter(str(tmp_path / "reference.csv"), SCHEMA) as writer:
        writer.write_table(table_of(rows))
    assert made["rows"][0] == (tmp_path / "reference.csv").read_bytes()
    for name in ("tables", "units", "mixed"):
        assert made[name][0] == made["rows"][0], name
        assert made[name][1].equals(made["rows"][1]), name
        assert made[name][2] == made["rows"][2], name
    assert made["units"][1].schema.equals(SCHEMA)
    assert pq.ParquetFile(tmp_path / "units" / "results.parquet").metadata.num_row_groups >= 2


def _shifted(rows: list[dict], start: int) -> list[UnitResult]:
    return [unit_result(t) for t in _units(rows[start:], 1000)]


def test_memory_sink_accepts_units_and_tables_alike() -> None:
    rows = _rows(40)
    by_units, by_tables = RowSink(), RowSink()
    for table in _units(rows, 9):
        by_units.extend_unit(unit_result(table))
        by_tables.extend_frame(table)
    by_units.extend_frame(unit_result(table_of(rows[:2])))   # a unit given where a frame was
    by_tables.extend(rows[:2])
    assert by_units.frame().equals(by_tables.frame())
    assert _counts(by_units.tally) == _counts(by_tables.tally)
    assert by_units.rows[3]["observed"] == rows[3]["observed"] == "two\nlines"


def test_empty_file_sink_writes_the_header_only(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "empty")
    sink.extend_unit(unit_result(table_of([])))
    sink.close()
    sink.close()
    with pacsv.CSVWriter(str(tmp_path / "reference.csv"), SCHEMA):
        pass
    assert (tmp_path / "empty" / "results.csv").read_bytes() == (tmp_path / "reference.csv").read_bytes()
    assert pq.read_table(tmp_path / "empty" / "results.parquet").num_rows == 0


@pytest.mark.parametrize("values, type_", [
    (["a", None, "é", ""], pa.string()), ([1.5, 0.0, -2.25], pa.float64()), ([True, False, True], pa.bool_()),
    ([1.5, None, 3], pa.float64()), ([True, None], pa.bool_()), ([], pa.string()), ([], pa.bool_()),
    ([b"bytes"], pa.string())])
def test_column_arrays_equal_pyarrow_conversion(values: list, type_: pa.DataType) -> None:
    assert column_array(values, type_).equals(pa.array(values, type=type_))


def test_column_arrays_refuse_what_pyarrow_refuses() -> None:
    with pytest.raises((TypeError, pa.ArrowException)):
        column_array(["a", 1], pa.string())
    with pytest.raises((TypeError, pa.ArrowException)):
        column_array([b"\xff\xfe"], pa.string())      # not UTF-8


def test_unit_results_and_file_sink_never_import_pandas(tmp_path: Path) -> None:
    """pandas costs ~0.4 s and ~35 MB in every process that imports it: the plain score path
    (worker: unit table, CSV, counts; parent: sink) must not."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from midib.score.rows import COLUMNS, table_of_columns\n"
        "from midib.score.sink import FileSink, unit_result\n"
        "cols = {c: ['x', None] for c in COLUMNS}\n"
        "cols.update(weight=[1.0, 2.0], score=[0.5, 1.0], passed=[True, False])\n"
        "sink = FileSink(Path(sys.argv[1]))\n"
        "sink.extend_unit(unit_result(table_of_columns(cols), cols))\n"
        "sink.extend([dict(zip(COLUMNS, ['y'] * len(COLUMNS)), weight=1.0, score=1.0, passed=True)])\n"
        "sink.close()\n"
        "print('pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s")], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    assert (tmp_path / "s" / "results.csv").read_text().count("\n") == 4


def _score(bench: Path, run: Path, out: Path, jobs: int) -> tuple[bytes, pa.Table, dict]:
    assert main(["score", str(bench), str(run), "--out", str(out), "--no-ocr", "--no-conformance",
                 "--jobs", str(jobs)]) in (0, 1)
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("timings")
    summary["ocr"].pop("seconds")
    return (out / "results.csv").read_bytes(), pq.read_table(out / "results.parquet"), summary


def test_mini_scores_the_same_files_for_any_jobs_and_executor(mini_bench: Path, tmp_path: Path) -> None:
    """An identity "run" (the benchmark's own input): failures and passes both present."""
    run = mini_bench / "input"
    csv1, table1, summary1 = _score(mini_bench, run, tmp_path / "one", 1)
    csv2, table2, summary2 = _score(mini_bench, run, tmp_path / "two", 2)
    assert csv1 == csv2 and table1.equals(table2) and summary1 == summary2
    assert 0 < summary1["overall"]["passed"] < summary1["overall"]["total"] == table1.num_rows
    assert csv1.count(b"\n") > table1.num_rows      # header, and text with line breaks
    # a custom executor factory (as a cluster client's) takes the same path
    from midib.benchmark import Benchmark
    from midib.score.aggregate import summarize
    from midib.score.inputs import open_run
    from midib.score.scorer import ScoreOptions, score_run

    def threads(jobs, initializer, initargs):
        return ThreadPoolExecutor(jobs, initializer=initializer, initargs=initargs)
    sink = FileSink(tmp_path / "threads")
    opts = ScoreOptions(jobs=2, ocr=False, conformance=False, executor=threads, exclude=tmp_path)
    result = score_run(Benchmark.open(mini_bench), open_run(run), opts, sink)
    sink.close()
    assert (tmp_path / "threads" / "results.csv").read_bytes() == csv1
    assert pq.read_table(tmp_path / "threads" / "results.parquet").equals(table1)
    counted = summarize(result.sink.tally)
    assert counted == {k: summary1[k] for k in counted}
