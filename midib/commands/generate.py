"""`midib generate`: Generate a benchmark: TCIA-like DICOM with planted synthetic PHI, ledger and answer key."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "Generate a benchmark: TCIA-like DICOM with planted synthetic PHI, ledger and answer key."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'generate' is not implemented yet")
