"""`midib report`: Write a self-contained HTML report for one run or a leaderboard of several."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "Write a self-contained HTML report for one run or a leaderboard of several."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'report' is not implemented yet")
