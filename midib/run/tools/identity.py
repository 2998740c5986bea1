"""``identity``: copies the input unchanged, the floor of every score.

Scoring identity shows what a benchmark's checks catch when nothing at all is done: every
PHI check fails, every utility check passes. It also proves the runner and scorer agree on
file matching with byte-identical files.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from midib import __version__
from midib.run.adapter import RunContext, ToolAdapter, ToolOutcome


class IdentityAdapter(ToolAdapter):
    name = "identity"
    options_accepted = frozenset()
    description = "baseline: copies every input file unchanged (no privacy, full utility)"

    def available(self) -> tuple[bool, str]:
        return True, ""

    def version(self) -> Optional[str]:
        return __version__

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        shutil.copytree(input_dir, output_dir, dirs_exist_ok=True)
        return ToolOutcome(command="copy input to output")
