"""``--cmd``: any de-identifier as a command template, ``'tool {input} {output}'``.

The template is split like a shell would (``shlex``) but run without a shell, so file names
and options cannot inject commands; ``{input}`` and ``{output}`` may appear inside a word
(``--out={output}``). The command's exit code alone decides ok or failed; its output goes to
the run's stdout/stderr logs.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from midib.errors import MidibError
from midib.run.adapter import RunContext, ToolAdapter, ToolFailed, ToolOutcome


def run_inherited(cmd: list[str]) -> int:
    """Run ``cmd`` with the child's stdout/stderr (the run's log files); return its exit code."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run(cmd, stdin=subprocess.DEVNULL).returncode


def parse_template(template: str) -> list[str]:
    """The template's words; MidibError if it cannot be split or lacks {input}/{output}."""
    try:
        words = shlex.split(template)
    except ValueError as e:
        raise MidibError(f"--cmd template cannot be parsed: {e}") from e
    if not words:
        raise MidibError("--cmd template is empty")
    for field in ("{input}", "{output}"):
        if not any(field in w for w in words):
            raise MidibError(f"--cmd template must contain {field}: {template!r}")
    return words


class TemplateAdapter(ToolAdapter):
    """A command line with ``{input}`` and ``{output}`` placeholders."""

    description = "any command: --cmd 'tool {input} {output}'"

    def __init__(self, template: str) -> None:
        self.template = template
        self.words = parse_template(template)
        self.name = Path(self.words[0]).name

    def available(self) -> tuple[bool, str]:
        if shutil.which(self.words[0]) is None:
            return False, f"command not found: {self.words[0]}"
        return True, ""

    def version(self) -> Optional[str]:
        return None

    def argv(self, input_dir: Path, output_dir: Path) -> list[str]:
        """Substitute the folders (only the two placeholders; other braces stay as written)."""
        return [w.replace("{input}", str(input_dir)).replace("{output}", str(output_dir))
                for w in self.words]

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        cmd = self.argv(input_dir, output_dir)
        code = run_inherited(cmd)
        if code != 0:
            raise ToolFailed(f"{self.words[0]} exited with status {code}", exit_code=code,
                             command=cmd)
        return ToolOutcome(command=cmd)
