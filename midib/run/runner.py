"""``midib run``: one tool, one benchmark, one recorded run folder.

The runner never lets a tool near the benchmark itself: the tool gets a private copy of
``BENCH/input`` inside the run folder, the answer key only if it is the oracle, and runs in a
watched child process (:mod:`midib.run.process`, :mod:`midib.run.child`). Afterwards both the
benchmark input and the private copy are checked against the manifest's checksums, so a tool
that writes into its input is caught and recorded, never silently scored.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from midib.benchmark import Benchmark, checksum_diff, checksum_tree, verify_tree
from midib.errors import MidibError
from midib.run.adapter import ToolAdapter
from midib.run.child import EXIT_CRASHED, EXIT_FAILED, EXIT_OK
from midib.run.process import ProcessStats, run_watched
from midib.run.runfile import RunFolder, RunRecord, write_mapping, write_record


@dataclass
class RunRequest:
    """What the user asked for: a tool by name (or a --cmd template) on a benchmark."""

    benchmark: Path
    out: Path
    tool: Optional[str] = None
    template: Optional[str] = None
    timeout: Optional[float] = None
    options: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    force: bool = False
    keep_work: bool = False


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


#: what a run folder holds (a run stopped before writing run.json holds only some of them)
RUN_ENTRIES = frozenset({"run.json", "output", "logs", "work", "score", "mapping"})


def prepare_folder(out: Path, bench: Benchmark, force: bool) -> RunFolder:
    """An empty run folder; refuses a non-empty one (unless force) and any overlap with BENCH."""
    out_abs, bench_abs = out.resolve(), bench.root.resolve()
    if out_abs == bench_abs or bench_abs in out_abs.parents or out_abs in bench_abs.parents:
        raise MidibError(f"run folder {out} must not be inside (or contain) the benchmark {bench.root}")
    if out.exists() and not out.is_dir():
        raise MidibError(f"run folder {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise MidibError(f"run folder {out} is not empty; choose another --out or add --force")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in RUN_ENTRIES)
        if foreign and not (out / "run.json").is_file():
            # --force replaces an earlier run, never a folder of someone's files
            raise MidibError(f"{out} is not a midib run folder (it holds {', '.join(foreign[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}); refusing to delete it")
        shutil.rmtree(out)
    folder = RunFolder(out)
    for d in (folder.output_dir, folder.log_dir, folder.work_dir / "scratch"):
        d.mkdir(parents=True, exist_ok=True)
    return folder


def check_options(adapter: ToolAdapter, options: dict[str, str]) -> None:
    """One line for a --set key the adapter never reads: a typo (``--set recpie=basic``) was
    recorded in run.json and the tool ran with its defaults, the user none the wiser."""
    accepted = adapter.options_accepted
    if accepted is None or not (unknown := sorted(set(options) - accepted)):
        return
    takes = f"its options: {', '.join(sorted(accepted))}" if accepted else "it takes no options"
    raise MidibError(f"{adapter.name}: unknown --set option {', '.join(unknown)}; {takes}")


def resolve_adapter(req: RunRequest) -> ToolAdapter:
    """The adapter to run; an unloadable one becomes an adapter reporting why it is unavailable."""
    if req.template:
        from midib.run.tools.command import TemplateAdapter

        return TemplateAdapter(req.template)
    from midib.run.registry import get_tool

    entry = get_tool(req.tool or "")
    return entry.adapter if entry.adapter is not None else _Unloadable(entry.name, entry.load_error)


class _Unloadable(ToolAdapter):
    """Stands for a tool whose module could not be imported."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason

    def available(self) -> tuple[bool, str]:
        return False, self.reason

    def run(self, input_dir, output_dir, ctx):  # pragma: no cover - never run
        raise RuntimeError(self.reason)


def child_spec(req: RunRequest, adapter: ToolAdapter, folder: RunFolder, bench: Benchmark) -> dict[str, Any]:
    work = folder.work_dir.resolve()
    return {
        "tool": req.tool, "template": req.template, "options": req.options, "seed": req.seed,
        "input": str(work / "input"), "output": str(folder.output_dir.resolve()),
        "work_dir": str(work / "scratch"), "log_dir": str(folder.log_dir.resolve()),
        "benchmark_dir": str(bench.root.resolve()) if adapter.needs_answer_key else None,
        "result": str(work / "result.json"), "sys_path": [p for p in sys.path if p],
    }


def status_from(stats: ProcessStats, result: Optional[dict[str, Any]]) -> tuple[str, str]:
    """(status, reason) from how the child ended and what it wrote."""
    if stats.timed_out:
        return "timeout", f"killed after the {stats.wall_seconds:.1f} s time limit"
    if stats.signal is not None:
        return "crashed", f"tool process killed by signal {stats.signal}"
    if result is None:
        return "crashed", f"tool process exited with status {stats.exit_code} and no result"
    if stats.exit_code in (EXIT_OK, EXIT_FAILED, EXIT_CRASHED):
        return result.get("status", "crashed"), result.get("reason", "")
    return "crashed", f"tool process exited with status {stats.exit_code}"


def execute(req: RunRequest) -> RunRecord:
    """Run the request end to end and write ``run.json``; tool failures are statuses, not errors."""
    bench = Benchmark.open(req.benchmark)
    if not bench.input_dir.is_dir():
        raise MidibError(f"benchmark {bench.root} has no input/ folder")
    adapter = resolve_adapter(req)
    check_options(adapter, req.options)
    adapter.configure(dict(req.options))
    folder = prepare_folder(req.out, bench, req.force)
    record = RunRecord(benchmark=str(bench.root.resolve()), options=dict(req.options),
                       tool={"name": adapter.name or req.tool, "version": _safe_version(adapter)})
    for log in ("stdout.txt", "stderr.txt"):
        (folder.log_dir / log).touch()
    expected = bench.manifest().get("input_sha256") or checksum_tree(bench.input_dir)
    guarded = benchmark_checksums(bench)
    record.input_files = len(expected)
    record.started = now()
    ok, reason = _safe_available(adapter)
    if not ok:
        record.status, record.reason, record.ended = "unavailable", reason, now()
    else:
        _run_child(req, adapter, folder, bench, record)
    _verify_inputs(bench, folder, expected, record)
    _verify_benchmark(bench, guarded, record)
    output = folder.output_dir
    if record.status != "unavailable" and (output.is_symlink() or not output.is_dir()):
        # a link to elsewhere (the benchmark input, say) would be scored as the tool's output
        record.status, record.reason = "failed", "the tool replaced its output folder by a link or a file"
        if output.is_symlink() or output.exists():
            output.unlink()          # the link itself, never what it points to
        output.mkdir()
    record.output_files = sum(1 for p in folder.output_dir.rglob("*") if p.is_file())
    if strays := sorted(p.name for p in folder.root.iterdir() if p.name not in RUN_ENTRIES):
        # never scored (only output/ is), but shipped with the run folder: PHI may be in them
        record.notes.append(f"the tool wrote outside its output folder: {', '.join(strays[:5])}"
                            f"{' and more' if len(strays) > 5 else ''} in {folder.root}")
    if record.status == "ok" and record.input_files and not record.output_files:
        # exit 0 with nothing written is no de-identification: a wrong {output} placeholder,
        # a tool writing beside its input; counted as a failure, not as an empty success
        record.status, record.reason = "failed", "the tool reported success but wrote no output file"
    if not req.keep_work:
        shutil.rmtree(folder.work_dir, ignore_errors=True)
    write_record(folder, record)
    return record


def _run_child(req: RunRequest, adapter: ToolAdapter, folder: RunFolder, bench: Benchmark,
               record: RunRecord) -> None:
    shutil.copytree(bench.input_dir, folder.work_dir / "input")
    spec = child_spec(req, adapter, folder, bench)
    spec_path = folder.work_dir / "spec.json"
    spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    stats = run_watched([sys.executable, "-m", "midib.run.child", str(spec_path.resolve())],
                        folder.log_dir / "stdout.txt", folder.log_dir / "stderr.txt", req.timeout)
    record.ended = now()
    result_path = Path(spec["result"])
    result = json.loads(result_path.read_text(encoding="utf-8")) if result_path.is_file() else None
    record.status, record.reason = status_from(stats, result)
    record.wall_seconds, record.cpu_seconds = stats.wall_seconds, stats.cpu_seconds
    record.peak_memory_mb = stats.peak_memory_mb
    result = result or {}
    record.exit_code = result.get("exit_code", stats.exit_code)
    record.command = result.get("command") or ""
    record.notes = list(result.get("notes", []))
    for kind in ("uid", "patid"):
        mapping = result.get(f"{kind}_mapping") or {}
        if mapping:
            write_mapping(folder.mapping_dir / f"{kind}_mapping.csv", mapping)
            record.mapping[kind] = f"mapping/{kind}_mapping.csv"


def _verify_inputs(bench: Benchmark, folder: RunFolder, expected: dict[str, str],
                   record: RunRecord) -> None:
    """Check the benchmark input and the tool's private copy against the manifest."""
    problems = [f"benchmark input {p}" for p in verify_tree(bench.input_dir, expected)]
    copy = folder.work_dir / "input"
    if copy.is_dir() and not copy.is_symlink():
        problems += [f"tool's input copy {p}" for p in verify_tree(copy, expected)]
    elif record.status != "unavailable":
        problems.append("tool's input copy removed or replaced")
    record.input_problems = problems
    record.input_untouched = not problems


def benchmark_checksums(bench: Benchmark) -> dict[str, str]:
    """sha256 of every benchmark file but the input (the manifest holds those): the answer
    key, the ledger, ``benchmark.json``. A tool can find the benchmark (its parent's command
    line names it) and rewrite the key so that it passes every check; only a comparison made
    by the runner, before and after, catches that."""
    return checksum_tree(bench.root, skip=bench.input_dir.name)


def _verify_benchmark(bench: Benchmark, before: dict[str, str], record: RunRecord) -> None:
    """A run that changed the benchmark (its input or anything else in it) has failed: every
    score made against that benchmark from now on is in doubt, this run's first."""
    problems = [f"benchmark {p}" for p in checksum_diff(before, benchmark_checksums(bench))]
    problems += [p for p in record.input_problems if p.startswith("benchmark input ")]
    record.benchmark_problems = problems
    record.benchmark_untouched = not problems
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        record.status = "failed"
        record.reason = (f"the tool modified the benchmark {bench.root} ({shown}): regenerate it "
                         f"before scoring anything against it")


def _safe_available(adapter: ToolAdapter) -> tuple[bool, str]:
    try:
        return adapter.available()
    except Exception as e:
        return False, f"availability check failed: {type(e).__name__}: {e}"


def _safe_version(adapter: ToolAdapter) -> Optional[str]:
    try:
        return adapter.version()
    except Exception:
        return None
