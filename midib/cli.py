"""Command-line entry point: ``midib <command> ...``.

Each command lives in its own module under :mod:`midib.commands` and exposes
``HELP`` (one line), ``configure(parser)`` and ``run(args) -> int``. Modules are imported
lazily at dispatch time only for the chosen command's heavy work; ``configure`` must stay cheap.
``main(argv=None)`` is what tests call directly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from midib import __version__
from midib.errors import MidibError

#: command name -> module under midib.commands (order = order shown in --help)
COMMANDS: dict[str, str] = {
    "generate": "generate",
    "tools": "tools",
    "run": "run",
    "score": "score",
    "report": "report",
    "compare": "compare",
    "demo": "demo",
    "import-key": "import_key",
    "export-key": "export_key",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="midib",
        description="Benchmark DICOM de-identification tools: generate, run, score, report.",
    )
    parser.add_argument("--version", action="version", version=f"midib {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"midib.commands.{module_name}")
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code (0 ok, 1 check failed, 2 error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except MidibError as e:
        print(f"midib: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("midib: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into `head` and the reader went away: not an error of ours
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as e:
        # a path the user gave that cannot be made or written (under a file, in a read-only
        # folder, a folder where a file is expected): the system's one line, never a traceback
        print(f"midib: error: {os_error_line(e)}", file=sys.stderr)
        return 2


def os_error_line(e: OSError) -> str:
    """``PATH: Not a directory`` (both paths for a rename or a copy) from an OSError."""
    import os
    where = " -> ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
    what = e.strerror or str(e)
    if isinstance(e, FileExistsError) and e.filename is not None and not os.path.isdir(e.filename):
        what = "exists and is a file, not a folder"
    elif isinstance(e, NotADirectoryError):
        what = "a part of this path is a file, not a folder"
    return f"{where}: {what}" if where else what


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
