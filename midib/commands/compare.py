"""`midib compare`: Compare two scored runs: newly failing, fixed and still failing checks (regression gate)."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "Compare two scored runs: newly failing, fixed and still failing checks (regression gate)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'compare' is not implemented yet")
