"""DICOM conformance engine: which dciodvfy errors did the de-identifier introduce?

Many real (and generated) files already break the standard somewhere, so an absolute error count
would punish a tool for its input. What a tool is accountable for is the difference: errors in
its output that the source did not have. dciodvfy (dicom3tools) prints ``Error - ...`` lines on
stderr; some carry the element's value (``= <DOE^JOHN>``, ``value <X> for value 1``) or an
offset, which a de-identifier legitimately changes, so messages are normalised before comparing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

from midib.errors import MidibError

#: seconds allowed per file (dciodvfy takes ~10 ms on ordinary files)
TIMEOUT = 30.0

_ERROR = re.compile(r"\bError - ")
#: names of elements/modules/IODs sit in <...> after these words and must be kept
_NAME_BEFORE = ("Element=", "Module=", "attribute ", "Explicit ", "Dictionary ", "IOD ", "Macro=")
_ANGLED = re.compile(r"<[^<>]*>")
_OFFSET = re.compile(r"(offset|@)\s*(0x[0-9a-fA-F]+|\d+)")
#: lengths and characters of the offending value ("Length invalid ... = 5", "= ' ' (0x20)")
_VALUE_DETAIL = re.compile(r"= (\d+|'.'(?: \(0x[0-9a-fA-F]+\))?)")
_SPACES = re.compile(r"\s+")


def normalise(line: str) -> str:
    """An error line with values and offsets masked, so source and output lines compare equal."""
    def mask(m: re.Match[str]) -> str:
        before = line[max(0, m.start() - 12):m.start()]
        return m.group(0) if before.endswith(_NAME_BEFORE) else "<…>"

    line = _ANGLED.sub(mask, line)
    line = _OFFSET.sub(lambda m: f"{m.group(1)} …", line)
    line = _VALUE_DETAIL.sub("= …", line)
    return _SPACES.sub(" ", line).strip()


def parse(output: str) -> list[str]:
    """The normalised error lines (not warnings) of a dciodvfy run."""
    return [normalise(line) for line in output.splitlines() if _ERROR.search(line)]


class Dciodvfy:
    """Runs dciodvfy on files and compares source with output (source results cached per path)."""

    def __init__(self, command: str = "dciodvfy", timeout: float = TIMEOUT) -> None:
        self.command = command
        self.timeout = timeout
        self._cache: dict[Path, list[str]] = {}
        self._lock = threading.Lock()

    def available(self) -> tuple[bool, str]:
        """(True, path of the binary) or (False, why the conformance checks cannot run)."""
        found = shutil.which(self.command)
        if found is None:
            return False, f"{self.command} (dicom3tools) is not installed (not found on PATH)"
        return True, found

    def errors(self, path: str | Path) -> list[str]:
        """Normalised ``Error - ...`` lines of ``dciodvfy path``.

        A run that times out or cannot start yields one synthetic error line saying so, so a
        file that hangs the validator is never counted as clean.
        """
        ok, reason = self.available()
        if not ok:
            raise RuntimeError(f"conformance check unavailable: {reason}")
        path = Path(path)
        if not path.is_file():
            raise MidibError(f"{path}: no such file to validate")
        try:
            run = subprocess.run([self.command, str(path)], capture_output=True, text=True,
                                 errors="replace", timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            return [f"Error - dciodvfy timed out after {self.timeout:g} s"]
        except OSError as exc:
            return [f"Error - dciodvfy could not run: {exc}"]
        return parse(run.stderr + "\n" + run.stdout)

    def source_errors(self, path: str | Path) -> list[str]:
        """:meth:`errors`, cached: a source file is compared with many outputs across runs."""
        key = Path(path).resolve()
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self.errors(key)
            with self._lock:
                self._cache[key] = cached
        return list(cached)

    def introduced(self, src_path: str | Path, out_path: str | Path) -> list[str]:
        """Errors of the output that the source did not have (counted, so duplicates matter)."""
        before = Counter(self.source_errors(src_path))
        after = Counter(self.errors(out_path))
        return sorted((after - before).elements())

    def introduced_many(self, pairs: Iterable[tuple[str | Path, str | Path]],
                        workers: int = 2) -> list[list[str]]:
        """:meth:`introduced` for many (source, output) pairs, in order, ``workers`` at a time.

        dciodvfy is a subprocess, so threads overlap its runs; results do not depend on
        ``workers``.
        """
        pairs = list(pairs)
        if workers <= 1 or len(pairs) <= 1:
            return [self.introduced(src, out) for src, out in pairs]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda pair: self.introduced(*pair), pairs))
