"""GDCM ``gdcmanon`` (Debian libgdcm-tools): PS3.15 E.1.1 Basic Profile de-identification.

Default mode ``-e`` is gdcmanon's PS3.15 mode: identifying attributes are replaced and
their original values stored encrypted (Encrypted Attributes Sequence) for a certificate,
so the adapter makes a throw-away self-signed certificate in the work folder (openssl) and
never keeps the private key anywhere else.

Two behaviours of the tool shape this adapter:
- it stops the whole run at the first file it refuses (one already de-identified: Patient
  Identity Removed = YES, a De-identification Method, or Encrypted Attributes present; or
  not DICOM), so such files are screened out first and recorded as skipped;
- new UIDs are consistent only within one process (a study keeps one new Study UID), so the
  screened files go through ONE recursive run over a staging folder of symbolic links; only
  if it still stops does the adapter resume on the remaining files (noted: UIDs of one study
  may then differ across the passes).

Options (``--set key=value``): ``mode=encrypt`` (default, ``-e``) or ``mode=dumb`` (``--dumb``
with the fixed list DUMB_OPERATIONS, gdcmanon having no default list in that mode);
``root_uid=UID`` (gdcmanon ``--root-uid``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pydicom

from midib.errors import MidibError
from midib.run.adapter import RunContext, ToolAdapter, ToolFailed, ToolOutcome
from midib.run.tools import correspondence as corr

STOPPED_AT = re.compile(r"Could not (?:De-indentify|read) : (.+)$", re.MULTILINE)
# Dumb mode: blank the Basic Profile's core identifiers, remove the rest of the patient module.
DUMB_OPERATIONS = [
    "--empty", "10,10", "--empty", "10,20", "--empty", "10,30", "--empty", "8,50",
    "--empty", "8,90", "--empty", "20,10", "--remove", "10,1000", "--remove", "10,1001",
    "--remove", "10,1040", "--remove", "10,2154", "--remove", "8,80", "--remove", "8,81",
    "--remove", "8,1010", "--remove", "8,1070", "--remove", "10,21b0", "--remove", "32,1032",
]


def refusal(path: Path) -> Optional[str]:
    """Why gdcmanon -e would stop on this file (seen on gdcm 3.0.21), or None if it accepts it."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many types for non-DICOM input
        return f"not readable as DICOM ({type(exc).__name__})"
    if str(ds.get("PatientIdentityRemoved", "")).upper() == "YES":
        return "already de-identified (Patient Identity Removed = YES)"
    if "DeidentificationMethod" in ds or "EncryptedAttributesSequence" in ds:
        return "already de-identified (De-identification Method or Encrypted Attributes present)"
    return None


def make_certificate(work_dir: Path, log_dir: Path) -> Path:
    """A self-signed RSA certificate for this run only (its key stays in the work folder)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    cert, key = work_dir / "gdcmanon-cert.pem", work_dir / "gdcmanon-key.pem"
    cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
           "-subj", "/CN=midib gdcmanon run", "-keyout", str(key), "-out", str(cert)]
    if _run(cmd, log_dir)[0] != 0 or not cert.is_file():
        raise ToolFailed("openssl could not make the certificate gdcmanon -e needs")
    return cert


def _run(cmd: list[str], log_dir: Path) -> tuple[int, str]:
    """Run ``cmd``, append its output to the gdcmanon log, return (exit code, output)."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "gdcmanon.log").open("ab") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode() + proc.stdout)
    return proc.returncode, proc.stdout.decode(errors="replace")


def stage(files: list[Path], input_dir: Path, stage_dir: Path) -> None:
    """A folder of symbolic links mirroring ``files`` (gdcmanon follows them; input untouched)."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    for path in files:
        link = stage_dir / path.relative_to(input_dir)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path.resolve())


class GdcmAnonAdapter(ToolAdapter):
    """gdcmanon over the whole input, resuming after any file it refuses."""

    name = "gdcmanon"
    options_accepted = frozenset({"mode", "root_uid"})
    description = "GDCM gdcmanon: PS3.15 Basic Profile (-e, encrypted originals) or --dumb"

    def available(self) -> tuple[bool, str]:
        if shutil.which("gdcmanon") is None:
            return False, "gdcmanon not found on PATH (Debian: apt install libgdcm-tools)"
        if shutil.which("openssl") is None:
            return False, "openssl not found on PATH (gdcmanon -e needs a certificate)"
        return True, ""

    def version(self) -> Optional[str]:
        out = subprocess.run(["gdcmanon", "--version"], capture_output=True, text=True).stdout
        match = re.search(r"gdcm ([0-9][0-9.]*)", out)
        return match.group(1) if match else None

    def mode_args(self, ctx: RunContext) -> list[str]:
        """The de-identification arguments for the chosen mode (certificate made on the fly)."""
        mode = ctx.options.get("mode", "encrypt").lower()
        if mode not in ("encrypt", "dumb"):
            raise MidibError(f"gdcmanon: --set mode={mode}: expected encrypt or dumb")
        args = ["--dumb", *DUMB_OPERATIONS] if mode == "dumb" else \
            ["-e", "-c", str(make_certificate(ctx.work_dir, ctx.log_dir))]
        if "root_uid" in ctx.options:
            args += ["--root-uid", ctx.options["root_uid"]]
        return args

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        output_dir.mkdir(parents=True, exist_ok=True)
        mode = self.mode_args(ctx)
        outcome = ToolOutcome()
        inputs = corr.input_files(input_dir)
        todo = self._screen(inputs, input_dir, mode, outcome)
        for attempt in range(len(todo) + 1):
            todo = [p for p in todo if not (output_dir / p.relative_to(input_dir)).is_file()]
            if not todo:
                break
            stage_dir = ctx.work_dir / f"gdcmanon-stage-{attempt}"
            stage(todo, input_dir, stage_dir)
            cmd = ["gdcmanon", *mode, "-r", "-i", str(stage_dir), "-o", str(output_dir)]
            outcome.command = outcome.command or cmd
            code, text = _run(cmd, ctx.log_dir)
            if code == 0:
                break
            todo = self._after_stop(text, stage_dir, input_dir, todo, outcome)
        self._record(inputs, input_dir, output_dir, outcome)
        return outcome

    def _screen(self, inputs: list[Path], input_dir: Path, mode: list[str],
                outcome: ToolOutcome) -> list[Path]:
        """Inputs gdcmanon would accept; the others are noted as skipped (encrypt mode only)."""
        if "-e" not in mode:
            return list(inputs)
        accepted = []
        for path in inputs:
            why = refusal(path)
            if why:
                outcome.notes.append(f"skipped {path.relative_to(input_dir)}: gdcmanon -e refuses it: {why}")
            else:
                accepted.append(path)
        return accepted

    def _after_stop(self, text: str, stage_dir: Path, input_dir: Path, todo: list[Path],
                    outcome: ToolOutcome) -> list[Path]:
        """Drop the file gdcmanon stopped at; fail if it did not say which one."""
        match = STOPPED_AT.search(text)
        if not match:
            raise ToolFailed(f"gdcmanon stopped without naming a file: {text.strip()[-200:]}")
        rel = Path(os.path.relpath(match.group(1).strip(), stage_dir))
        remaining = [p for p in todo if p.relative_to(input_dir) != rel]
        if len(remaining) == len(todo):
            raise ToolFailed(f"gdcmanon stopped on a file it was not given: {match.group(1)}")
        outcome.notes.append(f"skipped {rel}: gdcmanon stopped on it; resumed on the remaining files "
                             "(new UIDs may differ between the passes)")
        return remaining

    def _record(self, inputs: list[Path], input_dir: Path, output_dir: Path,
                outcome: ToolOutcome) -> None:
        """Mapping from the one-to-one layout; note inputs without an output not yet noted."""
        produced = set()
        for path in inputs:
            out = output_dir / path.relative_to(input_dir)
            if out.is_file():
                produced.add(path)
                corr.record_pair(outcome, corr.read_ids(path), corr.read_ids(out))
        noted = {note.split(":", 1)[0] for note in outcome.notes if note.startswith("skipped ")}
        for path in inputs:
            if path not in produced and f"skipped {path.relative_to(input_dir)}" not in noted:
                outcome.notes.append(f"no output for {path.relative_to(input_dir)}: gdcmanon wrote none")
