"""`midib score` against hostile submissions and broken inputs: one line, exit 2, nothing
written where it must not be (and never through a submission's link).

Submissions are a few files copied from the session's `mini` benchmark (conftest), so the
scorer has real outputs to match; benchmarks with a part missing are made by hand from a
copy of its small files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import warnings
from pathlib import Path
from typing import Optional

import pandas as pd
import pydicom
import pytest

from midib.cli import build_parser, main
from midib.errors import MidibError

FAST = ["--no-ocr", "--no-conformance", "--jobs", "1"]


def tree(root: Path, skip: Optional[Path] = None) -> dict[str, tuple]:
    """Every entry under ``root`` (links not followed; ``skip`` and what it holds left out):
    kind, size, mtime and link target, so that any write, truncation or new entry shows."""
    found: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if skip is not None and (path == skip or skip in path.parents):
                continue
            try:
                st = path.lstat()
            except OSError:   # too long to stat: its name is enough
                found[str(path)] = ("?",)
                continue
            link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            found[str(path)] = (stat.S_IFMT(st.st_mode), size, st.st_mtime_ns, link)
    return found


def refused(capsys: pytest.CaptureFixture, code: int, *words: str) -> str:
    """Assert a one-line refusal (exit 2, no traceback) naming ``words``; return the line."""
    out = capsys.readouterr()
    err = out.err.strip()
    assert code == 2, (code, out.out, out.err)
    assert "Traceback" not in out.err and len(err.splitlines()) == 1, out.err
    assert err.startswith("midib: error: ")
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture
def sub(mini_bench: Path, tmp_path: Path) -> Path:
    """A plain submission: three of the benchmark's input files under their own names."""
    root = tmp_path / "sub"
    for src in sorted((mini_bench / "input").rglob("*.dcm"))[:3]:
        dst = root / src.relative_to(mini_bench / "input")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return root


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside every folder the scorer may write: it must never change."""
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "precious.txt").write_text("do not touch\n")
    return folder / "precious.txt"


# 1. never write through a link -------------------------------------------------------------

@pytest.mark.parametrize("layout", ["results.csv", "results.parquet", "summary.json", "folder", "parent"])
def test_a_link_in_the_score_folder_is_refused_and_nothing_is_written(
        mini_bench: Path, sub: Path, victim: Path, tmp_path: Path, capsys, layout: str) -> None:
    """RUN/score/FILE -> victim, RUN/score -> outside, or --out through a link in RUN."""
    argv = ["score", str(mini_bench), str(sub), *FAST]
    if layout in ("folder", "parent"):
        (sub / ("score" if layout == "folder" else "a")).symlink_to(victim.parent, target_is_directory=True)
        argv += ["--out", str(sub / "a" / "score")] if layout == "parent" else []
    else:
        (sub / "score").mkdir()
        (sub / "score" / layout).symlink_to(victim)
    before = tree(tmp_path)
    refused(capsys, main(argv), "symbolic link")
    assert tree(tmp_path) == before
    assert victim.read_text() == "do not touch\n" and os.listdir(victim.parent) == ["precious.txt"]


def test_a_score_file_is_made_afresh_never_written_through_a_link(tmp_path: Path, victim: Path,
                                                                    monkeypatch) -> None:
    """Even past the up-front check (a link put in place after it), the file is opened without
    following links; a hard link to a file elsewhere is replaced, not truncated."""
    from midib.score import sink
    out = tmp_path / "out"
    out.mkdir()
    os.link(victim, out / "results.csv")
    with sink.open_score_file(out, "results.csv") as f:
        f.write(b"new\n")
    assert victim.read_text() == "do not touch\n" and (out / "results.csv").read_text() == "new\n"

    monkeypatch.setattr(sink, "refuse_links", lambda out_dir: None)   # the race: link after check
    (out / "summary.json").symlink_to(victim)
    with sink.open_score_file(out, "summary.json") as f:               # the link is replaced
        f.write(b"{}")
    assert not (out / "summary.json").is_symlink() and victim.read_text() == "do not touch\n"
    (out / "results.parquet").symlink_to(victim)
    monkeypatch.setattr(os, "unlink", lambda *a, **k: None)           # ... or put back after that
    with pytest.raises(MidibError, match="results.parquet"):
        sink.open_score_file(out, "results.parquet")
    monkeypatch.undo()
    monkeypatch.setattr(sink, "refuse_links", lambda out_dir: None)
    linked = tmp_path / "linked_out"
    linked.symlink_to(victim.parent, target_is_directory=True)
    with pytest.raises(MidibError, match="symbolic link"):
        sink.open_score_file(linked, "results.csv")
    assert victim.read_text() == "do not touch\n" and os.listdir(victim.parent) == ["precious.txt"]


# 2, 6. what a submission holds is rejected with its reason, never fatal ----------------------

def _long_path_entries(root: Path) -> None:
    """A file and a folder whose paths are longer than PATH_MAX, in a folder just under it
    (made relative to open folders: their full paths cannot be used)."""
    limit = os.pathconf(root, "PC_PATH_MAX")
    target, length = limit - 100, len(str(root))
    fd = os.open(root, os.O_RDONLY)
    try:
        while length < target:
            name = "d" * min(240, target - length - 1) or "d"
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd, length = child, length + 1 + len(name)
        os.close(os.open("f" * 150 + ".dcm", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
        os.mkdir("g" * 150, dir_fd=fd)
    finally:
        os.close(fd)


def _lock(monkeypatch, name: str) -> None:
    """Make folders called ``name`` unlistable (we may run as root, where chmod does not)."""
    real = os.scandir

    def scandir(path=".", *args):
        if os.path.basename(os.fspath(path)) == name:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path, *args)
    monkeypatch.setattr(os, "scandir", scandir)


def test_loops_long_paths_and_unlistable_folders_are_rejected_with_their_reason(
        tmp_path: Path, monkeypatch) -> None:
    from midib.score.inputs import output_files
    root = tmp_path / "sub"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "a.dcm").write_bytes(b"x")
    (root / "self.dcm").symlink_to("self.dcm")
    (root / "ok.dcm").write_bytes(b"x")
    _long_path_entries(root)
    _lock(monkeypatch, "locked")
    files, rejected = output_files(root, root / "score")
    reasons = {r["file"].split("/")[-1][:3]: r["reason"] for r in rejected}
    assert files == ["ok.dcm"]
    assert reasons["sel"] == "symbolic link loop (not followed)"
    assert reasons["loc"] == "cannot list folder: Permission denied"
    assert reasons["fff"] == reasons["ggg"] == "cannot stat: File name too long"
    assert len(rejected) == 4


def test_an_unlistable_output_folder_is_one_line(tmp_path: Path, monkeypatch) -> None:
    from midib.score.inputs import output_files
    root = tmp_path / "locked"
    root.mkdir()
    _lock(monkeypatch, "locked")
    with pytest.raises(MidibError, match="cannot list the output folder"):
        output_files(root)


def test_hostile_entries_are_listed_and_the_rest_scored(mini_bench: Path, sub: Path, tmp_path: Path,
                                                        capsys, monkeypatch) -> None:
    """End to end: a link loop, a path over PATH_MAX and an unlistable folder are rejected
    outputs in summary.json (exit 0); the instance in that folder fails as unmatched."""
    import json
    first = sorted(sub.rglob("*.dcm"))[0]
    locked = first.parent.parent / "locked"
    locked.mkdir()
    hidden = locked / first.name
    first.rename(hidden)
    instance = pydicom.dcmread(hidden, stop_before_pixels=True).SOPInstanceUID
    (sub / "self.dcm").symlink_to("self.dcm")
    _long_path_entries(sub)
    _lock(monkeypatch, "locked")
    out = tmp_path / "score"
    before = tree(tmp_path, skip=out)
    assert main(["score", str(mini_bench), str(sub), "--out", str(out), *FAST]) == 0
    assert tree(tmp_path, skip=out) == before
    assert "Traceback" not in capsys.readouterr().err
    reasons = sorted(r["reason"] for r in json.loads((out / "summary.json").read_text())
                     ["matching"]["rejected_outputs"])
    assert reasons == ["cannot list folder: Permission denied", "cannot stat: File name too long",
                       "cannot stat: File name too long", "symbolic link loop (not followed)"]
    rows = pd.read_parquet(out / "results.parquet")
    key = rows[rows.source == "key"]
    assert (key[key.instance == instance].reason == "no output matched").all()
    assert (key.reason != "no output matched").any()      # the other two outputs were scored


def test_a_link_to_an_original_input_is_a_failed_row_and_its_target_is_swept(
        mini_bench: Path, sub: Path, tmp_path: Path) -> None:
    """Never followed (read, it would score another file as this run's), but ``zip`` or
    ``cp -L`` would ship the original: one failed row naming the link, and the sweep reads
    the target's path (the input's patient folder spells the patient's name)."""
    original = sorted((mini_bench / "input").rglob("*.dcm"))[0]
    (sub / "preview.dcm").symlink_to(original)
    out = tmp_path / "score"
    assert main(["score", str(mini_bench), str(sub), "--out", str(out), *FAST]) == 0
    rows = pd.read_parquet(out / "results.parquet")
    link = rows[rows.action == "no_link_out"]
    assert len(link) == 1 and not link.passed.any() and link.output_file.iloc[0] == "preview.dcm"
    assert link.observed.iloc[0] == str(original)
    swept = rows[(rows.source == "sweep") & rows.output_file.str.startswith("preview.dcm -> ")]
    patient = original.relative_to(mini_bench / "input").parts[0]
    assert len(swept) and not swept.passed.any(), patient
    (sub / "preview.dcm").unlink()
    assert main(["score", str(mini_bench), str(sub), "--out", str(tmp_path / "clean"), *FAST]) == 0
    assert not (pd.read_parquet(tmp_path / "clean" / "results.parquet").action == "no_link_out").any()


def test_a_folder_link_out_and_a_path_too_long_to_read_fail_a_folder_link_within_does_not(
        mini_bench: Path, sub: Path, tmp_path: Path) -> None:
    """A link to a folder of originals, and an original under folders past PATH_MAX, were
    listed as rejected and scored 100 %: a copy of the submission ships both."""
    (sub / "again").symlink_to(sub / next(p.name for p in sub.iterdir() if p.is_dir()),
                               target_is_directory=True)
    (sub / "originals").symlink_to(mini_bench / "input", target_is_directory=True)
    fd = os.open(sub, os.O_RDONLY)
    try:
        for _ in range(20):                        # 20 x 250 characters: past PATH_MAX (4096)
            os.mkdir("d" * 250, dir_fd=fd)
            inner = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open("x.dcm", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
        os.write(leaf, sorted((mini_bench / "input").rglob("*.dcm"))[0].read_bytes())
        os.close(leaf)
    finally:
        os.close(fd)
    out = tmp_path / "score"
    assert main(["score", str(mini_bench), str(sub), "--out", str(out), *FAST]) == 0
    rows = pd.read_parquet(out / "results.parquet")
    failed = rows[~rows.passed]
    assert (failed[failed.action == "no_link_out"].output_file == "originals").any()
    assert not (rows.output_file == "again").any()
    unread = failed[failed.reason.str.contains("not read whole: cannot")]
    assert len(unread) >= 1 and unread.output_file.str.startswith("d" * 250).all(), unread.to_string()
    shutil.rmtree(sub / ("d" * 250), ignore_errors=True)


def test_a_mapping_field_over_the_csv_limit_is_one_line(mini_bench: Path, sub: Path, tmp_path: Path,
                                                         capsys) -> None:
    mapping = tmp_path / "uid.csv"
    mapping.write_text("id_old,id_new\n1.2.3," + "9" * 140_000 + "\n")
    out = tmp_path / "score"
    before = tree(tmp_path)
    code = main(["score", str(mini_bench), str(sub), "--out", str(out), "--mapping", str(mapping), *FAST])
    refused(capsys, code, f"{mapping}:2", "field larger than field limit")
    assert tree(tmp_path) == before and not out.exists()   # the score folder it made is removed


@pytest.mark.parametrize("content", [b"[]", b"null", b'"run"', b"17", b'{"tool": "dicognito"}',
                                     b"\xff\xfe{}", b"[" * 100_000 + b"]" * 100_000, b"{"])
def test_a_run_json_that_is_not_a_run_record_is_one_line(mini_bench: Path, sub: Path, tmp_path: Path,
                                                          capsys, content: bytes) -> None:
    run = tmp_path / "run"
    (run / "output").mkdir(parents=True)
    (run / "run.json").write_bytes(content)
    before = tree(tmp_path)
    refused(capsys, main(["score", str(mini_bench), str(run), *FAST]),
            f"run.json at {run / 'run.json'} is not a midib run record")
    assert tree(tmp_path) == before


# 8. run.json without its output/ ------------------------------------------------------------

def test_a_run_folder_without_output_is_refused(mini_bench: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"status": "ok", "tool": {"name": "x"}}')
    before = tree(tmp_path)
    refused(capsys, main(["score", str(mini_bench), str(run), *FAST]),
            f"run folder {run} has run.json but no output/ folder")
    (run / "output").symlink_to(mini_bench / "input", target_is_directory=True)  # someone else's
    before = tree(tmp_path)
    refused(capsys, main(["score", str(mini_bench), str(run), *FAST]), "output/ is a symbolic link")
    assert tree(tmp_path) == before


# 3. a score folder must not hide outputs ----------------------------------------------------

def test_a_score_folder_that_would_hide_outputs_is_refused(mini_bench: Path, sub: Path, tmp_path: Path,
                                                          capsys) -> None:
    patient = sorted(p for p in sub.iterdir() if p.is_dir())[0]
    before = tree(tmp_path)
    refused(capsys, main(["score", str(mini_bench), str(sub), "--out", str(sub), *FAST]),
            "holds the outputs being scored")
    refused(capsys, main(["score", str(mini_bench), str(sub), "--out", str(patient), *FAST]),
            "is not their score folder")
    assert tree(tmp_path) == before
    (sub / "score").mkdir()
    shutil.copy2(sorted(patient.rglob("*.dcm"))[0], sub / "score" / "x.dcm")
    before = tree(tmp_path)
    refused(capsys, main(["score", str(mini_bench), str(sub), *FAST]), "'x.dcm'", "pass --out outside")
    assert tree(tmp_path) == before


def test_the_benchmark_itself_as_the_run_is_refused(mini_bench: Path, tmp_path: Path, capsys) -> None:
    """``midib score BENCH BENCH`` scored its inputs and counted benchmark.json and the answer
    key as extra outputs (37.52 %, exit 0)."""
    before = tree(mini_bench)
    refused(capsys, main(["score", str(mini_bench), str(mini_bench), "--out", str(tmp_path / "s"), *FAST]),
            "is the benchmark itself")
    assert tree(mini_bench) == before and not (tmp_path / "s").exists()


def test_a_score_folder_elsewhere_in_the_outputs_is_refused(mini_bench: Path, sub: Path, tmp_path: Path,
                                                            capsys) -> None:
    """Only ROOT/score is known for an earlier score by the next one; results written to any
    other folder of the submission were read back as outputs, every planted value they quote
    a leak (an oracle scored 100 %, then 96.20 %)."""
    before = tree(tmp_path)
    for where in (sub / "mysc", sub / "deep" / "score"):
        refused(capsys, main(["score", str(mini_bench), str(sub), "--out", str(where), *FAST]),
                "is not their score folder", "pass --out outside")
    assert tree(tmp_path) == before


def test_a_run_folder_as_its_own_score_folder_is_refused(mini_bench: Path, sub: Path, tmp_path: Path,
                                                         capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    sub.rename(run / "output")
    (run / "run.json").write_text('{"status": "ok"}')
    before = tree(tmp_path)
    refused(capsys, main(["score", str(mini_bench), str(run), "--out", str(run), *FAST]),
            "holds the outputs being scored")
    assert tree(tmp_path) == before


def test_a_score_folder_with_only_our_files_inside_the_submission_is_rescored(
        mini_bench: Path, sub: Path, tmp_path: Path, capsys) -> None:
    """RUN/score from an earlier score: allowed, rewritten, and never read as outputs."""
    assert main(["score", str(mini_bench), str(sub), *FAST]) == 0
    first = (sub / "score" / "results.csv").read_bytes()
    before = tree(tmp_path, skip=sub / "score")
    assert main(["score", str(mini_bench), str(sub), *FAST]) == 0
    assert (sub / "score" / "results.csv").read_bytes() == first
    assert sorted(os.listdir(sub / "score")) == ["results.csv", "results.parquet", "summary.json"]
    assert tree(tmp_path, skip=sub / "score") == before
    assert "Traceback" not in capsys.readouterr().err


def test_score_files_forged_around_an_input_are_read_as_outputs(mini_bench: Path, sub: Path,
                                                                 tmp_path: Path, capsys) -> None:
    """A summary.json naming no benchmark, results.parquet = ``PAR1`` + an original input: set
    aside as "an earlier score" on their first bytes, the original scored 100 %."""
    from midib.score.rows import COLUMNS
    original = sorted((mini_bench / "input").rglob("*.dcm"))[5].read_bytes()
    forged = tmp_path / "forged"
    forged.mkdir()
    shutil.copytree(sub, forged / "real")
    (forged / "score").mkdir()
    (forged / "score" / "summary.json").write_text('{"format": "midib-score"}')
    (forged / "score" / "results.parquet").write_bytes(b"PAR1" + original)
    header = ",".join(f'"{c}"' for c in COLUMNS)
    (forged / "score" / "results.csv").write_bytes(header.encode() + b"\n" + original)
    out = tmp_path / "s"
    assert main(["score", str(mini_bench), str(forged), "--out", str(out), *FAST]) in (0, 1)
    rows = pd.read_parquet(out / "results.parquet")
    leaks = rows[(rows.action == "leak_sweep") & ~rows.passed]
    assert {"score/results.parquet", "score/results.csv"} <= set(leaks.output_file), \
        sorted(set(leaks.output_file))
    summary = json.loads((out / "summary.json").read_text())
    assert not any(r["reason"].startswith("an earlier midib score") for r in summary["matching"]["rejected_outputs"])


# 4. never into the benchmark ----------------------------------------------------------------

@pytest.mark.parametrize("where", [".", "input", "input/new", "answer_key"])
def test_a_score_folder_inside_the_benchmark_is_refused(mini_bench: Path, sub: Path, tmp_path: Path,
                                                        capsys, where: str) -> None:
    before, mine = tree(mini_bench), tree(tmp_path)
    refused(capsys, main(["score", str(mini_bench), str(sub), "--out", str(mini_bench / where), *FAST]),
            "is inside the benchmark")
    assert tree(mini_bench) == before and tree(tmp_path) == mine


def test_scoring_the_benchmark_input_itself_needs_an_out_elsewhere(mini_bench: Path, capsys) -> None:
    before = tree(mini_bench)
    refused(capsys, main(["score", str(mini_bench), str(mini_bench / "input"), *FAST]),
            "is inside the benchmark")
    assert tree(mini_bench) == before


# 5. --min-score -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "200", "-1", "100.5", "ninety"])
def test_min_score_outside_0_to_100_is_a_usage_error(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["score", "bench", "run", "--min-score", value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--min-score" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("value,expected", [("0", 0.0), ("100", 100.0), ("99.5", 99.5)])
def test_min_score_from_0_to_100_is_accepted(value: str, expected: float) -> None:
    args = build_parser().parse_args(["score", "b", "r", "--min-score", value])
    assert isinstance(args, argparse.Namespace) and args.min_score == expected


# 7. a benchmark missing a part --------------------------------------------------------------

@pytest.mark.parametrize("missing", ["input", "ledger"])
def test_a_benchmark_without_input_or_ledger_is_refused(mini_bench: Path, sub: Path, tmp_path: Path,
                                                        capsys, missing: str) -> None:
    bench = tmp_path / "bench"
    (bench / "answer_key").mkdir(parents=True)
    shutil.copy2(mini_bench / "benchmark.json", bench)
    for name in ("checks.jsonl", "ledger.jsonl"):
        if not (missing == "ledger" and name == "ledger.jsonl"):
            shutil.copy2(mini_bench / "answer_key" / name, bench / "answer_key")
    if missing != "input":
        (bench / "input").mkdir()
    before = tree(tmp_path)
    line = refused(capsys, main(["score", str(bench), str(sub), *FAST]), f"benchmark at {bench} has no")
    assert ("input/ folder" if missing == "input" else "ledger") in line
    assert tree(tmp_path) == before


@pytest.mark.parametrize("content", [b"[]", b"\xff", b'{"format": "midib-benchmark", "version": "x"}'])
def test_a_manifest_that_is_not_one_is_one_line(tmp_path: Path, sub: Path, capsys, content: bytes) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "benchmark.json").write_bytes(content)
    refused(capsys, main(["score", str(bench), str(sub), *FAST]), str(bench / "benchmark.json"))


# 9. a check ID twice in one instance's checks -----------------------------------------------

def _key_with_duplicate(mini_bench: Path, tmp_path: Path, grouped: bool) -> tuple[Path, str]:
    """A benchmark sharing the session's input and ledger, its key with one check repeated
    (right after itself, or at the end so that the key is no longer grouped by instance)."""
    bench = tmp_path / "dupbench"
    (bench / "answer_key").mkdir(parents=True)
    shutil.copy2(mini_bench / "benchmark.json", bench)
    (bench / "input").symlink_to(mini_bench / "input", target_is_directory=True)
    (bench / "answer_key" / "ledger.jsonl").symlink_to(mini_bench / "answer_key" / "ledger.jsonl")
    lines = (mini_bench / "answer_key" / "checks.jsonl").read_bytes().splitlines(keepends=True)
    lines.insert(3, lines[2]) if grouped else lines.append(lines[1])
    (bench / "answer_key" / "checks.jsonl").write_bytes(b"".join(lines))
    import json
    return bench, json.loads(lines[2] if grouped else lines[1])["id"]


@pytest.mark.parametrize("grouped", [True, False])
def test_a_check_id_twice_for_one_instance_is_refused(mini_bench: Path, sub: Path, tmp_path: Path,
                                                      capsys, grouped: bool) -> None:
    bench, check_id = _key_with_duplicate(mini_bench, tmp_path, grouped)
    out = tmp_path / "score"
    before = tree(tmp_path)
    line = refused(capsys, main(["score", str(bench), str(sub), "--out", str(out), *FAST]),
                   repr(check_id), "twice for instance")
    assert not grouped or "checks.jsonl:4:" in line   # found as the key is indexed, with its line
    assert tree(tmp_path) == before and not out.exists()


def test_the_duplicate_check_is_found_with_one_instance_of_ids_in_memory(tmp_path: Path) -> None:
    """The same ID for two instances is not a duplicate (only one instance's IDs are kept)."""
    from midib.answer_key import Check, write_key
    from midib.score import keyfacts

    def check(cid: str, inst: str) -> Check:
        return Check(id=cid, instance=inst, file="f", patient_id="p", study_uid="s", series_uid="r",
                     modality="CT", scope="instance", action="text_removed", path="(0010,0010)",
                     tag_name="PatientName", expected={"value": "x"}, category="hipaa",
                     hipaa_class="names", ledger_ids=[])
    path = tmp_path / "checks.jsonl"
    write_key(path, [check("a", "1"), check("b", "1"), check("a", "2")], {"profile": "t"})
    assert [r["id"] for r in keyfacts.raw_records(path)] == ["a", "b", "a"]
    write_key(path, [check("a", "1"), check("b", "1"), check("a", "1")], {"profile": "t"})
    with pytest.raises(MidibError, match="'a' appears twice for instance '1'"):
        list(keyfacts.raw_records(path))


# 10. an answer key without checks -----------------------------------------------------------

def test_an_answer_key_with_no_checks_is_refused_not_scored_zero(mini_bench: Path, sub: Path, tmp_path: Path,
                                                                 capsys) -> None:
    """A key reduced to its header line would make every output "extra" and the score 0 %, with
    exit 0: a number that measures nothing. It is a run that could not be scored."""
    bench = tmp_path / "emptykey"
    (bench / "answer_key").mkdir(parents=True)
    shutil.copy2(mini_bench / "benchmark.json", bench)
    (bench / "input").symlink_to(mini_bench / "input", target_is_directory=True)
    (bench / "answer_key" / "ledger.jsonl").symlink_to(mini_bench / "answer_key" / "ledger.jsonl")
    header = (mini_bench / "answer_key" / "checks.jsonl").read_bytes().splitlines(keepends=True)[0]
    (bench / "answer_key" / "checks.jsonl").write_bytes(header)
    out = tmp_path / "score"
    refused(capsys, main(["score", str(bench), str(sub), "--out", str(out), *FAST]),
            "holds no checks")
    assert not out.exists()


@pytest.mark.parametrize("content", [None, b"not an image"])
def test_a_folder_with_no_output_of_the_benchmark_scores_0_with_a_warning(
        mini_bench: Path, tmp_path: Path, capsys, content: Optional[bytes]) -> None:
    """An empty folder, or one of unrelated files (the wrong path, another benchmark's run), is
    scored (0 %, every input missing), but says so on stderr in one line."""
    sub = tmp_path / "sub"
    sub.mkdir()
    if content is not None:
        (sub / "notes.txt").write_bytes(content)
    code = main(["score", str(mini_bench), str(sub), "--out", str(tmp_path / "score"), *FAST])
    out = capsys.readouterr()
    assert code == 0 and out.out.startswith("0.00%")
    warning = [line for line in out.err.splitlines() if line.startswith("midib: warning:")]
    assert len(warning) == 1 and "every input counts as missing" in warning[0]
    assert ("holds no files" in warning[0]) is (content is None)
    assert "unpack" not in warning[0]


def test_a_submission_packed_in_an_archive_is_told_to_be_unpacked(mini_bench: Path, sub: Path,
                                                                 tmp_path: Path, capsys) -> None:
    """The files zipped, as a challenge upload arrives: 0 %, and the warning names the archive."""
    import zipfile
    packed = tmp_path / "packed"
    packed.mkdir()
    with zipfile.ZipFile(packed / "submission.zip", "w") as z:
        for f in sub.rglob("*.dcm"):
            z.write(f, f.relative_to(sub))
    assert main(["score", str(mini_bench), str(packed), "--out", str(tmp_path / "score"), *FAST]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("midib: warning:")]
    assert len(warning) == 1 and "submission.zip: unpack it" in warning[0], warning


def test_a_submission_s_own_mapping_csvs_are_its_mapping_not_outputs(mini_bench: Path, tmp_path: Path,
                                                                       capsys) -> None:
    """A participant hands in the files with their id_old,id_new CSVs beside them: read as
    outputs, every original PatientID and UID in them was a leak and the mapping went unused.
    Any other CSV is still an output (swept); two UID mappings need --mapping to choose."""
    import json
    run = tmp_path / "oracle"
    assert main(["run", str(mini_bench), "--tool", "oracle", "--out", str(run)]) == 0
    sub = tmp_path / "submission"
    shutil.copytree(run / "output", sub)
    shutil.copy(run / "mapping" / "uid_mapping.csv", sub / "UIDs.csv")
    shutil.copy(run / "mapping" / "patid_mapping.csv", sub / "subjects.csv")   # named by neither
    pid = (sub / "subjects.csv").read_text().splitlines()[1].split(",")[0]
    (sub / "notes.csv").write_text(f"patient,comment\n{pid},seen\n")
    assert main(["score", str(mini_bench), str(sub), "--out", str(tmp_path / "s1"), *FAST]) == 0
    summary = json.loads((tmp_path / "s1" / "summary.json").read_text())
    matching = summary["matching"]
    assert matching["method"] == "mapping" and matching["extra_outputs"] == ["notes.csv"]
    assert sorted(Path(f).name for f in matching["mapping_files"]) == ["UIDs.csv", "subjects.csv"]
    rows = pd.read_parquet(tmp_path / "s1" / "results.parquet")
    failed = rows[~rows.passed]
    assert set(failed.output_file) == {"notes.csv"} and failed.action.eq("leak_sweep").all()
    capsys.readouterr()
    shutil.copy(sub / "UIDs.csv", sub / "uid_mapping.csv")
    refused(capsys, main(["score", str(mini_bench), str(sub), "--out", str(tmp_path / "s2"), *FAST]),
            "2 UID mapping CSVs", "--mapping")
    assert main(["score", str(mini_bench), str(sub), "--out", str(tmp_path / "s3"),
                 "--mapping", str(sub / "uid_mapping.csv"), *FAST]) == 0


def test_a_forged_mapping_cannot_pair_outputs_with_other_patients_sources(mini_bench: Path,
                                                                          tmp_path: Path) -> None:
    """A copy of every input with a mapping CSV that pairs each output with another source of
    its size (another patient's, where there is one): judged against that patient's checks,
    the copy's names and dates passed their "removed" checks (46 % instead of 41 %, weighted
    45 % instead of 27 %). An output keeping its own original UID is that source's file: the
    mapping row naming another one is no claim, so the score is the honest copy's."""
    import json
    run = tmp_path / "identity"
    assert main(["run", str(mini_bench), "--tool", "identity", "--out", str(run)]) == 0
    groups: dict[tuple, list[tuple[str, str]]] = {}
    for f in sorted((run / "output").rglob("*.dcm")):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        groups.setdefault((ds.SOPClassUID, ds.get("Rows"), ds.get("Columns")), []).append(
            (ds.PatientID, ds.SOPInstanceUID))
    rows, crossed = ["id_old,id_new"], 0
    for items in groups.values():
        pats = [p for p, _ in items]
        shift = max(pats.count(p) for p in set(pats)) % len(items) if len(set(pats)) > 1 else 0
        for i, (pid, uid) in enumerate(items):
            other_pid, other = items[(i + shift) % len(items)]
            rows.append(f"{other},{uid}")
            crossed += other_pid != pid
    assert crossed >= 20
    forged = tmp_path / "forged.csv"
    forged.write_text("\n".join(rows) + "\n")
    scores = {}
    for name, extra in (("honest", []), ("forged", ["--mapping", str(forged)])):
        assert main(["score", str(mini_bench), str(run), "--out", str(tmp_path / name), *FAST, *extra]) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        rows_ = pd.read_parquet(tmp_path / name / "results.parquet")
        scores[name] = (summary["overall"]["passed"], summary["overall"]["total"],
                        dict(zip(rows_.check_id, rows_.output_file)))
    assert scores["forged"][:2] == scores["honest"][:2]
    assert scores["forged"][2] == scores["honest"][2]   # every check judged on the same file


def test_a_damaged_transfer_syntax_uid_fails_that_file_and_scores_the_rest(
        mini_bench: Path, sub: Path, tmp_path: Path, capsys) -> None:
    """A byte over 0x7F in an output's (0002,0010) once ended the whole score in a
    UnicodeDecodeError traceback. Now: exit 0, that file's pixel checks fail naming the syntax,
    the other outputs are judged as before, and pydicom's value warnings stay off stderr."""
    files = sorted(sub.rglob("*.dcm"))
    data = bytearray(files[0].read_bytes())
    at = data.index(b"1.2.840.10008.1.2")
    data[at + 2] = 0xB5
    files[0].write_bytes(bytes(data))
    damaged, *others = (pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files)
    out = tmp_path / "score"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["score", str(mini_bench), str(sub), "--out", str(out), *FAST]) == 0
    assert not [str(w.message) for w in caught if "pydicom" in w.filename]
    assert "Traceback" not in capsys.readouterr().err
    rows = pd.read_parquet(out / "results.parquet")
    kept = rows[(rows.action == "pixels_retained")]
    bad, good = kept[kept.instance == damaged], kept[kept.instance.isin(others)]
    assert len(bad) and not bad.passed.any() and bad.reason.str.contains("Transfer Syntax").all()
    assert len(good) and good.passed.all(), good[~good.passed].reason.tolist()
