"""`midib run`: Run a de-identification tool on a benchmark's input into a run folder."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "Run a de-identification tool on a benchmark's input into a run folder."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'run' is not implemented yet")
