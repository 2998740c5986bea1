"""`midib export-key`: Write a midib benchmark's answer key in the official MIDI-B SQLite format."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "Write a midib benchmark's answer key in the official MIDI-B SQLite format."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'export-key' is not implemented yet")
