"""Errors that reach the user as one line (what, where), never as a traceback.

Anything raised as a :class:`MidibError` is a user-facing problem (a wrong path, a corrupt
file, an unknown preset); the CLI prints ``midib: error: <message>`` and exits with
``exit_code``. Programming errors stay ordinary exceptions so they are not hidden.
"""

from __future__ import annotations


class MidibError(Exception):
    """A problem the user can fix; the message must say what and where."""

    exit_code: int = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class FormatVersionError(MidibError):
    """A file was written by a newer midib (or is not a midib file at all)."""
