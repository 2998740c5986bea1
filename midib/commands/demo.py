"""`midib demo`: Generate a benchmark, run every available tool, score them and write the leaderboard."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "Generate a benchmark, run every available tool, score them and write the leaderboard."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'demo' is not implemented yet")
