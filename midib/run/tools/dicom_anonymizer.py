"""``dicom-anonymizer`` (KitwareMedical): PS3.15 basic-profile actions as Python tables.

Two traps, both handled here: it is not recursive (files in sub-folders are silently
skipped), so the adapter runs it once per input folder into the mirrored output folder; and
it exits 0 when the output folder does not exist (printing an error and writing nothing), so
the adapter creates each output folder first and counts what it wrote: a folder that yields no
files is a failure, not a success. It reveals no old->new mapping.
Option: ``--set keep_private=yes`` (its ``--keepPrivateTags``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from midib.run.adapter import PythonPackageAdapter, RunContext, ToolFailed, ToolOutcome
from midib.run.tools.command import run_inherited

#: the console script, called through the interpreter so no PATH lookup is needed
LAUNCH = ("import sys; from dicomanonymizer.anonymizer import main; "
          "sys.argv[0] = 'dicom-anonymizer'; sys.exit(main())")


class DicomAnonymizerAdapter(PythonPackageAdapter):
    name = "dicom-anonymizer"
    module, distribution = "dicomanonymizer", "dicom-anonymizer"
    description = "dicom-anonymizer, run per folder (it is not recursive)"

    def folders(self, input_dir: Path) -> list[Path]:
        """Every folder (relative) that directly holds at least one file."""
        return sorted({p.parent.relative_to(input_dir) for p in input_dir.rglob("*") if p.is_file()})

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        extra = ["--keepPrivateTags"] if ctx.options.get("keep_private") == "yes" else []
        commands, empty = [], []
        for rel in self.folders(input_dir):
            target = output_dir / rel
            target.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-c", LAUNCH, str(input_dir / rel), str(target), *extra]
            commands.append(cmd)
            code = run_inherited(cmd)
            if code != 0:
                raise ToolFailed(f"dicom-anonymizer exited with status {code} on {rel}",
                                 exit_code=code, command=cmd)
            if not any(p.is_file() for p in target.iterdir()):
                empty.append(rel.as_posix())
        if empty:
            raise ToolFailed(f"dicom-anonymizer exited 0 but wrote nothing for {', '.join(empty)}",
                             command=commands[0] if commands else "")
        shown = commands[0] if len(commands) == 1 else f"dicom-anonymizer IN OUT, once per folder ({len(commands)})"
        return ToolOutcome(command=shown)
