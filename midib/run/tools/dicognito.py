"""``dicognito``: randomising anonymizer, run as ``python -m dicognito IN -o OUT --seed S``.

The ``dicognito`` console script of 0.19.0 crashes at start (``main()`` called without its
argument), so the adapter runs the module with the interpreter dicognito is installed in.
dicognito writes every output file flat, named by its new SOP Instance UID, and prints a
summary table (new IDs only): it reveals no old->new mapping. Options: ``--set
burned_in=if-yes|unless-no|never`` (its --assume-burned-in-annotation), ``--set keep=ELEM``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from midib.run.adapter import PythonPackageAdapter, RunContext, ToolFailed, ToolOutcome
from midib.run.tools.command import run_inherited


class DicognitoAdapter(PythonPackageAdapter):
    name = "dicognito"
    options_accepted = frozenset({"seed", "keep", "burned_in"})
    module, distribution = "dicognito", "dicognito"
    description = "dicognito (python -m dicognito), seeded"

    def argv(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> list[str]:
        cmd = [sys.executable, "-m", "dicognito", str(input_dir), "-o", str(output_dir),
               "--seed", str(ctx.options.get("seed", ctx.seed))]
        if "burned_in" in ctx.options:
            cmd += ["--assume-burned-in-annotation", ctx.options["burned_in"]]
        for elem in filter(None, ctx.options.get("keep", "").split(",")):
            cmd += ["--keep", elem]
        return cmd

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        cmd = self.argv(input_dir, output_dir, ctx)
        code = run_inherited(cmd)
        if code != 0:
            raise ToolFailed(f"dicognito exited with status {code}", exit_code=code, command=cmd)
        return ToolOutcome(command=cmd)
