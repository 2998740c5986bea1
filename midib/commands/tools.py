"""`midib tools`: List de-identification tool adapters, whether each can run here, and why not."""

from __future__ import annotations

import argparse

from midib.errors import MidibError

HELP = "List de-identification tool adapters, whether each can run here, and why not."


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare this command's arguments (placeholder until implemented)."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise MidibError("'tools' is not implemented yet")
