"""The plugin interface for de-identification tools.

An adapter says who it is, whether it can run here (and why not), and how to turn an input
folder into an output folder. The runner executes ``run`` inside a child process group
(``python -m midib.run.child``), so timeouts kill the tool's whole process tree and peak
memory is measured over that tree, whatever the adapter does inside (a subprocess, a Python
library call, a private server). Third parties register adapters through the entry-point
group ``midib.tools`` (value: a ToolAdapter subclass or a zero-argument factory).
"""

from __future__ import annotations

import abc
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence


@dataclass
class RunContext:
    """What an adapter may use while running (never the answer key, except for ``oracle``)."""

    options: dict[str, str] = field(default_factory=dict)   # from --set key=value
    work_dir: Path = Path(".")                                # private scratch space
    log_dir: Path = Path(".")                                 # stdout/stderr of sub-steps
    seed: int = 0
    benchmark_dir: Optional[Path] = None                      # only handed to adapters with needs_answer_key


@dataclass
class ToolOutcome:
    """What the adapter reports besides the files it wrote."""

    command: list[str] | str = ""
    uid_mapping: dict[str, str] = field(default_factory=dict)     # old UID -> new UID, if revealed
    patid_mapping: dict[str, str] = field(default_factory=dict)   # old PatientID -> new, if revealed
    notes: list[str] = field(default_factory=list)


class ToolAdapter(abc.ABC):
    """A de-identification tool as midib runs it."""

    name: str = ""
    description: str = ""
    needs_answer_key: bool = False      # only the oracle baseline
    #: the ``--set`` keys the adapter reads; None: any (a third-party adapter that did not say)
    options_accepted: Optional[frozenset[str]] = None

    def configure(self, options: dict[str, str]) -> None:
        """Receive the ``--set`` options before ``available()`` is asked (an option may be what
        makes a tool runnable, e.g. presidio's model path). Default: nothing to do."""
        self.options = dict(options)

    @abc.abstractmethod
    def available(self) -> tuple[bool, str]:
        """(True, "") if the tool can run here, else (False, why not, e.g. 'java not found')."""

    def version(self) -> Optional[str]:
        """The tool's version string, or None if unknown."""
        return None

    @abc.abstractmethod
    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        """De-identify every file under ``input_dir`` into ``output_dir``.

        Raise :class:`ToolFailed` for a failure the adapter detected (non-zero exit, missing
        output); any other exception is recorded as ``crashed``.
        """


class PythonPackageAdapter(ToolAdapter):
    """A tool shipped as a Python package: runnable when ``module`` imports here, versioned by
    its distribution's metadata (so asking does not import the tool)."""

    module: str = ""
    distribution: str = ""

    def available(self) -> tuple[bool, str]:
        import importlib.util

        if importlib.util.find_spec(self.module) is None:
            return False, (f"Python package '{self.distribution}' is not installed "
                           f"(pip install {self.distribution})")
        return True, ""

    def version(self) -> Optional[str]:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(self.distribution)
        except PackageNotFoundError:
            return None


class ToolFailed(Exception):
    """The tool ran but failed (the message says how); partial output is kept."""

    def __init__(self, message: str, exit_code: int = 1,
                 command: list[str] | str | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.command = command          # what was run, for run.json (optional)


class CommandAdapter(ToolAdapter):
    """Base for tools run as one external command; subclasses build the argv."""

    @abc.abstractmethod
    def argv(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> list[str]:
        """The command line to run."""

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        cmd = self.argv(input_dir, output_dir, ctx)
        code = run_logged(cmd, ctx.log_dir, self.name)
        if code != 0:
            raise ToolFailed(f"{cmd[0]} exited with status {code}", exit_code=code, command=cmd)
        return ToolOutcome(command=cmd)


def run_logged(cmd: Sequence[str], log_dir: Path, label: str, **kwargs: Any) -> int:
    """Run ``cmd`` with its output appended to ``log_dir/<label>.log``; return the exit code."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{label}.log").open("ab") as log:
        return subprocess.run(list(cmd), stdout=log, stderr=subprocess.STDOUT, **kwargs).returncode
