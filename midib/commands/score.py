"""`midib score`: Score a run (or any folder of de-identified DICOM) against a benchmark's answer key."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "Score a run (or any folder of de-identified DICOM) against a benchmark's answer key."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'score' is not implemented yet")
