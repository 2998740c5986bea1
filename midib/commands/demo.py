"""`midib demo`: Generate a benchmark, run every available tool, score them and write the leaderboard."""

from __future__ import annotations

import argparse
from pathlib import Path

from midib.commands.options import worker_count
from midib.errors import MidibError

HELP = "Generate a benchmark, run every available tool, score them and write the leaderboard."


def configure(parser: argparse.ArgumentParser) -> None:
    """Where to write, which benchmark, which tools."""
    parser.add_argument("--out", type=Path, default=Path("midib-demo"), metavar="DIR",
                        help="folder for leaderboard.html and leaderboard.md (default: midib-demo)")
    parser.add_argument("--work", type=Path, metavar="DIR",
                        help="folder for the benchmark and run folders (default: OUT/work)")
    parser.add_argument("--preset", default="mini", help="benchmark preset (default: mini)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    parser.add_argument("--tools", metavar="A,B,...",
                        help="comma-separated tool names (default: every known adapter; "
                             "unavailable ones are listed as such)")
    parser.add_argument("--jobs", type=worker_count, default=1, metavar="N",
                        help="worker processes for generate and score (default: 1)")


def check_tool_names(tools: list[str]) -> None:
    """One line for an empty --tools (``,`` once ran every tool) or a name no adapter has
    (once skipped with a note, exit 0); module:Class names are the registry's to load."""
    from midib.run.registry import known_tools

    if not tools:
        raise MidibError("--tools names no tool; give a comma-separated list, e.g. identity,dicognito")
    names = list(known_tools())
    if unknown := [n for n in tools if n not in names and ":" not in n]:
        raise MidibError(f"unknown tool(s) {', '.join(unknown)} in --tools; known tools: "
                         f"{', '.join(names)} (or module:Class)")


def run(args: argparse.Namespace) -> int:
    """Run the demo, print the short table and the leaderboard's path."""
    from rich.console import Console

    from midib.report.demo import board_table, run_demo

    tools = [t.strip() for t in args.tools.split(",") if t.strip()] if args.tools is not None else None
    if tools is not None:
        check_tool_names(tools)
    console = Console()
    result = run_demo(args.out, preset=args.preset, seed=args.seed, tools=tools, jobs=args.jobs,
                      work=args.work, console=console)
    for note in result.notes:
        console.print(f"  {note}", markup=False, highlight=False)
    console.print(board_table(result.board))
    console.print(f"leaderboard: {result.html.resolve()}", markup=False, highlight=False)
    console.print(f"markdown:    {result.markdown.resolve()}", markup=False, highlight=False)
    return 0
