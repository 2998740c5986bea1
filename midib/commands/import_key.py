"""`midib import-key`: Turn an official MIDI-B answer key (SQLite) into a midib benchmark folder."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "Turn an official MIDI-B answer key (SQLite) into a midib benchmark folder."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'import-key' is not implemented yet")
