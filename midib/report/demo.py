"""``midib demo``: generate, run every tool, score, and write the leaderboard, in one command.

The demo drives the other commands through ``midib.cli.main`` (the same code paths a user
types), so it proves the whole chain works. A tool that is unavailable, fails, crashes or cannot
be scored is recorded with that status and shown in the leaderboard: one broken tool never stops
the demo. Layout::

    OUT/leaderboard.html  OUT/leaderboard.md
    WORK/bench/           the generated benchmark (WORK defaults to OUT/work)
    WORK/runs/<tool>/     one run folder per tool, scored into <tool>/score/
"""

from __future__ import annotations

import argparse
import importlib
import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from midib.benchmark import Benchmark
from midib.cli import COMMANDS, main
from midib.errors import MidibError
from midib.generate.presets import get_preset
from midib.report.html import write_report
from midib.report.leaderboard import BoardRow, build_leaderboard, leaderboard_markdown
from midib.report.loading import load_runs

BASELINES = ("identity", "strip", "oracle")


@dataclass
class DemoResult:
    """What the demo produced."""

    html: Path
    markdown: Path
    board: list[BoardRow]
    notes: list[str] = field(default_factory=list)


def accepts(command: str, option: str) -> bool:
    """Whether a midib command declares ``option`` (so --jobs is passed only where it exists)."""
    module = importlib.import_module(f"midib.commands.{COMMANDS[command]}")
    parser = argparse.ArgumentParser(add_help=False)
    module.configure(parser)
    return any(option in a.option_strings for a in parser._actions)


def quiet_main(argv: list[str]) -> tuple[int, str]:
    """Run a midib command with its printed lines captured (the demo shows its own summary)."""
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        try:
            code = main(argv)
        except SystemExit as e:   # argparse rejected the arguments
            code = int(e.code or 2)
        except Exception as e:    # one tool's bug must not stop the demo: record it, go on
            print(f"crashed: {type(e).__name__}: {e}")
            code = 3
    return code, out.getvalue()


def tool_names(requested: Optional[list[str]]) -> list[str]:
    """The requested tools, or every known adapter (unavailable ones are shown as such), baselines first."""
    if requested:
        return requested
    from midib.run.registry import known_tools

    names = list(known_tools())
    return [n for n in BASELINES if n in names] + [n for n in names if n not in BASELINES]


def ensure_benchmark(bench: Path, preset: str, seed: int, jobs: int) -> str:
    """Reuse WORK/bench when it matches preset and seed, else generate it; return what happened."""
    if (bench / "benchmark.json").is_file():
        manifest = Benchmark.open(bench).manifest()
        if manifest.get("preset") == preset and int(manifest.get("seed", -1)) == seed:
            return f"reused benchmark {bench}"
        raise MidibError(f"{bench} holds another benchmark (preset {manifest.get('preset')}, "
                         f"seed {manifest.get('seed')}); remove it or choose another --work")
    argv = ["generate", str(bench), "--preset", preset, "--seed", str(seed)]
    argv += ["--jobs", str(jobs)] if accepts("generate", "--jobs") else []
    code = main(argv)
    if code != 0:
        raise MidibError(f"generating the {preset} benchmark into {bench} failed (exit {code})")
    return f"generated benchmark {bench}"


#: seconds a tool may run in the demo: one that hangs (a server that never answers) is recorded
#: as timed out and the demo goes on to the next tool instead of waiting for ever
TOOL_TIMEOUT = 1800


def run_and_score(bench: Path, run_dir: Path, tool: str, jobs: int) -> str:
    """Run one tool and score it when it ran; return a one-line outcome (never raises for the tool)."""
    code, text = quiet_main(["run", str(bench), "--tool", tool, "--out", str(run_dir), "--force",
                             "--timeout", str(TOOL_TIMEOUT)])
    if not (run_dir / "run.json").is_file():
        return f"{tool}: not run: {text.strip().splitlines()[-1] if text.strip() else code}"
    if code != 0:   # the runner's own line already names the tool and says why
        lines = text.strip().splitlines()
        line = next((x for x in lines if x.startswith("midib: error: ")), lines[-1] if lines else "")
        return line.removeprefix("midib: error: ") or f"{tool}: failed (exit {code})"
    argv = ["score", str(bench), str(run_dir)]
    argv += ["--jobs", str(jobs)] if accepts("score", "--jobs") else []
    try:
        code = main(argv)
    except Exception as e:        # a scorer bug on one tool's output: show it unscored, go on
        return f"{tool}: scoring crashed: {type(e).__name__}: {e}"
    return f"{tool}: scored" if code in (0, 1) else f"{tool}: scoring failed (exit {code})"


def run_demo(out: Path, preset: str = "mini", seed: int = 0, tools: Optional[list[str]] = None,
             jobs: int = 1, work: Optional[Path] = None, console: Optional[Console] = None) -> DemoResult:
    """The whole demo; returns where the leaderboard went and its rows."""
    console = console or Console()
    work = work or out / "work"
    bench, runs_dir = work / "bench", work / "runs"
    get_preset(preset)                      # a wrong name is one line, before anything runs
    names = tool_names(tools)
    for folder in (out, work):   # before anything runs: a path under a file is one line, once
        folder.mkdir(parents=True, exist_ok=True)
    notes = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("demo: benchmark", total=len(names) + 2)
        notes.append(ensure_benchmark(bench, preset, seed, jobs))
        progress.advance(task)
        for name in names:
            progress.update(task, description=f"demo: {name}")
            notes.append(run_and_score(bench, runs_dir / name, name, jobs))
            progress.advance(task)
        progress.update(task, description="demo: leaderboard")
        runs = load_runs([runs_dir / n for n in names if (runs_dir / n / "run.json").is_file()
                          or (runs_dir / n / "score" / "summary.json").is_file()])
        if not runs:
            raise MidibError(f"no tool produced a run folder under {runs_dir}")
        html = write_report(runs, out / "leaderboard.html", bench)
        board = build_leaderboard(runs)
        markdown = out / "leaderboard.md"
        markdown.write_text(leaderboard_markdown(board, f"midib leaderboard ({preset}, seed {seed})"),
                            encoding="utf-8")
        progress.advance(task)
    return DemoResult(html=html, markdown=markdown, board=board, notes=notes)


def board_table(board: list[BoardRow]) -> Table:
    """The short terminal table."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("#", "tool", "status", "score %", "95% CI", "weighted %", "time s"):
        table.add_column(name, no_wrap=True, justify="left" if name in ("tool", "status") else "right")
    for r in board:
        table.add_row(str(r.rank or "—"), r.label, r.status,
                      f"{r.score:.2f}" if r.score is not None else "—",
                      f"{r.ci[0]:.2f}–{r.ci[1]:.2f}" if r.ci else "—",
                      f"{r.weighted:.2f}" if r.weighted is not None else "—",
                      f"{r.wall_seconds:.1f}" if r.wall_seconds is not None else "—")
    return table
