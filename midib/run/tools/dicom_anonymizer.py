"""``dicom-anonymizer`` (KitwareMedical): PS3.15 basic-profile actions as Python tables.

Three traps, all handled here. It is not recursive (files in sub-folders are silently
skipped), so it is called once per input folder. Its old -> new UID map lives in its process,
so those calls are made in ONE process (its ``anonymize`` function, what its command runs):
one process per folder gave every series of a study another new StudyInstanceUID, a
consistency failure of the adapter's making. And it writes nothing, exiting 0, when the output
folder does not exist, so each output folder is made first and a folder that yields no file
is a failure, not a success. Output folders are named ``series-0001``... (input folders in
sorted order), not after the input's: those names hold the patient's name, MRN and dates,
which the tool never wrote and must not be blamed for. It reveals no old->new mapping.
Option: ``--set keep_private=yes`` (its ``--keepPrivateTags``).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from midib.run.adapter import PythonPackageAdapter, RunContext, ToolFailed, ToolOutcome
from midib.run.tools.command import run_inherited

#: its ``anonymize`` (what the console script calls) on each (input, output) folder pair of
#: the JSON file argv[2], in one process (thousands of folders do not fit a command line);
#: argv[1] is "keep" to keep private tags
LAUNCH = ("import json, sys; from dicomanonymizer.anonymizer import anonymize; "
          "[anonymize(i, o, {}, sys.argv[1] != 'keep') for i, o in json.load(open(sys.argv[2]))]")


class DicomAnonymizerAdapter(PythonPackageAdapter):
    name = "dicom-anonymizer"
    options_accepted = frozenset({"keep_private"})
    module, distribution = "dicomanonymizer", "dicom-anonymizer"
    description = "dicom-anonymizer, per folder in one process (it is not recursive)"

    def folders(self, input_dir: Path) -> list[Path]:
        """Every folder (relative) that directly holds at least one file."""
        return sorted({p.parent.relative_to(input_dir) for p in input_dir.rglob("*") if p.is_file()})

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        keep = "keep" if ctx.options.get("keep_private") == "yes" else "delete"
        pairs: list[tuple[Path, Path]] = []
        for i, rel in enumerate(self.folders(input_dir), 1):
            target = output_dir / f"series-{i:04d}"
            target.mkdir(parents=True, exist_ok=True)
            pairs.append((input_dir / rel, target))
        with tempfile.TemporaryDirectory(prefix="midib-dicom-anonymizer-") as tmp:
            folders = Path(tmp) / "folders.json"   # beside neither input nor output
            folders.write_text(json.dumps([[str(i), str(o)] for i, o in pairs]))
            cmd = [sys.executable, "-c", LAUNCH, keep, str(folders)]
            code = run_inherited(cmd)
        if code != 0:
            raise ToolFailed(f"dicom-anonymizer exited with status {code}", exit_code=code, command=cmd)
        empty = [src.relative_to(input_dir).as_posix() for src, target in pairs
                 if not any(p.is_file() for p in target.iterdir())]
        if empty:
            raise ToolFailed(f"dicom-anonymizer exited 0 but wrote nothing for {', '.join(empty)}",
                             command=cmd)
        return ToolOutcome(command=f"dicomanonymizer.anonymizer.anonymize(IN, OUT, {{}}, {keep != 'keep'}) "
                                   f"once per folder ({len(pairs)}), in one process")
