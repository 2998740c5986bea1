"""PixelMed ``com.pixelmed.apps.DeidentifyAndRedact`` (Debian pixelmed-apps, Java).

The tool walks its input recursively, de-identifies headers (descriptors, patient
characteristics, device and institution identity and dates retained; UIDs remapped; unsafe
private attributes removed) and blacks out rectangles listed per image size in a redaction
control file. It exits 0 even when it skips files it cannot decode (JPEG 2000, some JPEG)
or fails on some: only its log says so. The adapter therefore reads that log to learn which
input became which output (``... into X_Anon.dcm``), records inputs without an output as
notes, and turns the correspondence into an old -> new identifier mapping.

Options (``--set key=value``):
  regions=FILE      redaction control file, lines ``COLSxROWS=(x,y,w,h)[;(x,y,w,h)]*``
                    (default: none, so no pixels are redacted: PixelMed cannot know where)
  method=block|decompress     JPEG baseline redaction by blocks (default) or re-encode
  private=safe|all            keep known-safe private attributes (default) or all
  equipment=add|none          add ContributingEquipmentSequence (default) or not
  filenames=uid|original      output named ``<new SOP UID>_Anon.dcm`` (default) or keep names
  codecs=on|off               put Debian's pixelmed_imageio JPEG codec on the classpath (default on)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Optional

from midib.errors import MidibError
from midib.run.adapter import RunContext, ToolAdapter, ToolFailed, ToolOutcome
from midib.run.tools.correspondence import input_files, note_missing, read_ids, record_pair

JAVA_DIR = Path(os.environ.get("MIDIB_PIXELMED_DIR", "/usr/share/java"))
MAIN_CLASS = "com.pixelmed.apps.DeidentifyAndRedact"
ORIGINAL_NAMES_CLASS = "com.pixelmed.apps.DeidentifyAndRedactWithOriginalFileName"
DONE_LINE = re.compile(r"Deidentified and Redacted (.+) into (.+)$")
FAILED_LINE = re.compile(r"failed to deidentify and redact (.+)$")
CHOICES = {
    "method": {"block": "BLOCK", "decompress": "DECOMPRESS"},
    "private": {"safe": "KEEPSAFEPRIVATE", "all": "KEEPALLPRIVATE"},
    "equipment": {"add": "ADDCONTRIBUTINGEQUIPMENT", "none": "DONOTADDCONTRIBUTINGEQUIPMENT"},
}


def _choice(options: dict[str, str], key: str) -> str:
    """The tool keyword for option ``key``; a bad value is a user error naming the choices."""
    allowed = CHOICES[key]
    value = options.get(key, next(iter(allowed))).lower()
    if value not in allowed:
        raise MidibError(f"pixelmed: --set {key}={value}: expected one of {', '.join(allowed)}")
    return allowed[value]


class PixelMedAdapter(ToolAdapter):
    """DeidentifyAndRedact run once over the whole input folder."""

    name = "pixelmed"
    options_accepted = frozenset({"method", "private", "equipment", "codecs", "regions", "filenames"})
    description = "PixelMed DeidentifyAndRedact (Java): header de-identification + box redaction"

    def _jar(self) -> Path:
        return JAVA_DIR / "pixelmed.jar"

    def available(self) -> tuple[bool, str]:
        if shutil.which("java") is None:
            return False, "java not found on PATH (Debian: apt install default-jre-headless)"
        jar = self._jar()
        if not jar.is_file():
            return False, f"{jar} not found (Debian: apt install pixelmed-apps)"
        with zipfile.ZipFile(jar) as zf:
            if MAIN_CLASS.replace(".", "/") + ".class" not in zf.namelist():
                return False, f"{jar} has no {MAIN_CLASS}"
        return True, ""

    def version(self) -> Optional[str]:
        """PixelMed has no version flag; the Debian jar's real name carries its build date."""
        match = re.search(r"pixelmed-([0-9.]+)\.jar$", self._jar().resolve().name)
        return match.group(1) if match else None

    def classpath(self, ctx: RunContext) -> str:
        """pixelmed.jar (its manifest lists the other dependencies) plus the JPEG codec jar."""
        parts = [str(self._jar())]
        codec = JAVA_DIR / "pixelmed_imageio.jar"
        if ctx.options.get("codecs", "on").lower() != "off" and codec.is_file():
            parts.append(str(codec))
        return os.pathsep.join(parts)

    def argv(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> list[str]:
        regions = ctx.options.get("regions", "")
        if regions and not Path(regions).is_file():
            raise MidibError(f"pixelmed: redaction control file not found: {regions}")
        original = ctx.options.get("filenames", "uid").lower() == "original"
        main = ORIGINAL_NAMES_CLASS if original else MAIN_CLASS
        return ["java", "-Djava.awt.headless=true", "-cp", self.classpath(ctx), main,
                str(input_dir), str(output_dir), regions,
                _choice(ctx.options, "method"), _choice(ctx.options, "private"),
                _choice(ctx.options, "equipment")]

    def run(self, input_dir: Path, output_dir: Path, ctx: RunContext) -> ToolOutcome:
        input_dir, output_dir = input_dir.resolve(), output_dir.resolve()
        output_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.argv(input_dir, output_dir, ctx)
        ctx.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = ctx.log_dir / f"{self.name}.log"
        start = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("ab") as log:
            code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
        outcome = ToolOutcome(command=cmd)
        with log_path.open("rb") as log:
            log.seek(start)
            pairs, failed = parse_log(log.read().decode(errors="replace"))
        if code != 0:
            raise ToolFailed(f"java {MAIN_CLASS} exited with status {code}", exit_code=code,
                             command=cmd)
        self._record(outcome, input_dir, pairs, failed)
        return outcome

    def _record(self, outcome: ToolOutcome, input_dir: Path,
                pairs: dict[Path, Path], failed: set[Path]) -> None:
        """Mapping from the logged pairs; notes for inputs that failed or were skipped."""
        first_writer: dict[Path, Path] = {}
        for src, dst in sorted(pairs.items()):
            if dst in first_writer:
                outcome.notes.append(f"{src.relative_to(input_dir)} and "
                                     f"{first_writer[dst].relative_to(input_dir)} went to the same "
                                     f"output {dst.name} (same SOP Instance UID): one overwrote the other")
            first_writer.setdefault(dst, src)
            if dst.is_file():
                record_pair(outcome, read_ids(src), read_ids(dst))
        inputs = input_files(input_dir)
        produced = {p for p, d in pairs.items() if d.is_file()}
        note_missing(outcome, [p for p in inputs if p in failed], produced, input_dir,
                     "PixelMed reported a failure")
        note_missing(outcome, [p for p in inputs if p not in failed], produced, input_dir,
                     "skipped by PixelMed (not DICOM, or a transfer syntax it cannot decode)")


def parse_log(text: str) -> tuple[dict[Path, Path], set[Path]]:
    """(input -> output for every file PixelMed wrote, inputs it reported as failed)."""
    pairs: dict[Path, Path] = {}
    failed: set[Path] = set()
    for line in text.splitlines():
        if done := DONE_LINE.search(line):
            pairs[Path(done.group(1))] = Path(done.group(2))
        elif fail := FAILED_LINE.search(line):
            failed.add(Path(fail.group(1)))
    return pairs, failed
