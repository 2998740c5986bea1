"""`midib run`: run a de-identification tool on a benchmark's input into a run folder.

Exit 0 when the tool's status is ok, 1 when it failed, timed out, crashed or is unavailable
(the status is recorded in RUN/run.json either way), 2 for user errors (a wrong path...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from midib.errors import MidibError

HELP = "Run a de-identification tool on a benchmark's input into a run folder."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments."""
    parser.add_argument("benchmark", type=Path, metavar="BENCH", help="benchmark folder")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--tool", metavar="NAME", help="adapter name (see 'midib tools') or module:Class")
    which.add_argument("--cmd", metavar="TEMPLATE",
                       help="any command, e.g. 'mytool {input} {output}' (run without a shell)")
    parser.add_argument("--out", type=Path, required=True, metavar="RUN", help="run folder to create")
    parser.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="kill the tool's whole process tree after S seconds")
    parser.add_argument("--set", dest="options", action="append", default=[], metavar="KEY=VALUE",
                        help="adapter option (repeatable), e.g. --set recipe=midib")
    parser.add_argument("--seed", type=int, default=0, help="seed handed to tools that take one")
    parser.add_argument("--force", action="store_true", help="replace a non-empty RUN folder")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep RUN/work (the tool's input copy and scratch space)")


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` -> ``{"a": "1", "b": "x=y"}``; MidibError on a pair without '='."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise MidibError(f"--set expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = value
    return options


def run(args: argparse.Namespace) -> int:
    """Run the tool, print a one-line summary, exit 0 only when the status is ok."""
    from midib.run.runner import RunRequest, execute

    if args.cmd is not None and not args.cmd.strip():
        raise MidibError("--cmd is empty; give the tool's command, e.g. 'mytool {input} {output}'")
    if args.timeout is not None and not (0 < args.timeout < float("inf")):   # nan: never fires
        raise MidibError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    req = RunRequest(benchmark=args.benchmark, out=args.out, tool=args.tool, template=args.cmd,
                     timeout=args.timeout, options=parse_options(args.options), seed=args.seed,
                     force=args.force, keep_work=args.keep_work)
    record = execute(req)
    line = (f"{record.tool['name']}: {record.status}"
            f"{' (' + record.reason + ')' if record.reason else ''}; "
            f"{record.output_files}/{record.input_files} files, {record.wall_seconds:.1f} s, "
            f"{record.peak_memory_mb:.0f} MB peak -> {args.out / 'run.json'}")
    ok = record.status == "ok"
    print(line if ok else f"midib: error: {line}", file=sys.stdout if ok else sys.stderr)
    if not record.input_untouched:
        problems = record.input_problems
        shown = "; ".join(p[:120] for p in problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        print(f"midib: warning: the tool modified its input ({len(problems)} file(s), listed in "
              f"run.json): {shown}", file=sys.stderr)
    for note in record.notes:
        if note.startswith("the tool wrote outside"):
            print(f"midib: warning: {note}", file=sys.stderr)
    return 0 if ok else 1
