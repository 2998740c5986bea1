"""`midib report`: Write a self-contained HTML report for one run or a leaderboard of several."""

from __future__ import annotations

import argparse
from pathlib import Path

from midib.errors import MidibError

HELP = "Write a self-contained HTML report for one run or a leaderboard of several."


def configure(parser: argparse.ArgumentParser) -> None:
    """RUN folders (scored), the output file, and optionally the benchmark for thumbnails."""
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN",
                        help="scored run folder(s) (RUN/run.json + RUN/score/), or scored plain folders")
    parser.add_argument("--out", "-o", type=Path, required=True, metavar="FILE.html",
                        help="HTML file to write (one file, no external resources)")
    parser.add_argument("--bench", type=Path, metavar="BENCH",
                        help="benchmark folder for before/after thumbnails (default: the one "
                             "recorded in summary.json / run.json)")
    parser.add_argument("--markdown", type=Path, metavar="FILE.md",
                        help="also write the leaderboard as Markdown")


def run(args: argparse.Namespace) -> int:
    """Load the runs, render, write; print where the report went."""
    from midib.report.html import write_report
    from midib.report.leaderboard import build_leaderboard, leaderboard_markdown
    from midib.report.loading import load_runs, refuse_overwriting

    if args.bench is not None and not (args.bench / "benchmark.json").is_file():
        raise MidibError(f"--bench {args.bench} is not a midib benchmark (no benchmark.json)")
    runs = load_runs(args.runs)
    refuse_overwriting(args.out, runs, "--out")
    if args.markdown:
        refuse_overwriting(args.markdown, runs, "--markdown")
        if args.markdown.is_dir() or not _folder_for(args.markdown):
            raise MidibError(f"cannot write --markdown {args.markdown}: not a file in a folder")
    out = write_report(runs, args.out, args.bench)
    if args.markdown:
        try:
            args.markdown.parent.mkdir(parents=True, exist_ok=True)
            args.markdown.write_text(leaderboard_markdown(build_leaderboard(runs)), encoding="utf-8")
        except OSError as e:
            raise MidibError(f"cannot write {args.markdown}: {e.strerror}") from e
    print(f"report: {out}")
    return 0


def _folder_for(path: Path) -> bool:
    """Whether ``path``'s folder exists or can be made (checked before the HTML is written, so
    a --markdown that cannot be written leaves no report half done)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return True
