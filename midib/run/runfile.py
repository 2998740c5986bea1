"""The run folder and its record, ``run.json`` (format ``midib-run``, version 1).

A run folder is what the scorer reads: ``output/`` as the tool left it, the record of how the
tool behaved, its logs, and any old->new identifier mapping it revealed (MIDI-B style CSVs).
Every outcome, including a tool that was not installed or was killed at the time limit, is a
recorded status, so a leaderboard never has a silent hole.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from midib.errors import FormatVersionError, MidibError

RUN_FORMAT = "midib-run"
RUN_VERSION = 1
STATUSES = ("ok", "failed", "timeout", "crashed", "unavailable")


@dataclass(frozen=True)
class RunFolder:
    """Paths of a run folder."""

    root: Path

    @property
    def record_path(self) -> Path:
        return self.root / "run.json"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def mapping_dir(self) -> Path:
        return self.root / "mapping"

    @property
    def work_dir(self) -> Path:
        """Private scratch space (the tool's copy of the input lives here during the run)."""
        return self.root / "work"


@dataclass
class RunRecord:
    """Everything ``run.json`` says about one run (see docs/architecture.md, "Run folder")."""

    benchmark: str
    tool: dict[str, Optional[str]]
    command: list[str] | str = ""
    options: dict[str, str] = field(default_factory=dict)
    started: str = ""
    ended: str = ""
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory_mb: float = 0.0
    exit_code: Optional[int] = None
    status: str = "unavailable"
    reason: str = ""
    stdout: str = "logs/stdout.txt"
    stderr: str = "logs/stderr.txt"
    input_files: int = 0
    output_files: int = 0
    input_untouched: bool = True
    input_problems: list[str] = field(default_factory=list)
    benchmark_untouched: bool = True    # the answer key, ledger, manifest: what scores are made of
    benchmark_problems: list[str] = field(default_factory=list)
    mapping: dict[str, Optional[str]] = field(default_factory=lambda: {"uid": None, "patid": None})
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"format": RUN_FORMAT, "version": RUN_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunRecord":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def write_record(folder: RunFolder, record: RunRecord) -> None:
    """Write ``run.json`` (sorted keys, so two runs diff cleanly)."""
    if record.status not in STATUSES:
        raise ValueError(f"unknown run status {record.status!r}")
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.record_path.write_text(json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n",
                                  encoding="utf-8")


def read_record(root: str | Path) -> RunRecord:
    """Read a run folder's ``run.json``, refusing other formats and newer versions."""
    path = RunFolder(Path(root)).record_path
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise MidibError(f"{root} is not a midib run folder (no run.json); make one with 'midib run'") from e
    except (OSError, json.JSONDecodeError) as e:
        raise MidibError(f"cannot read {path}: {e}") from e
    if data.get("format") != RUN_FORMAT:
        raise FormatVersionError(f"{path} is not a midib run record")
    if int(data.get("version", 0)) > RUN_VERSION:
        raise FormatVersionError(f"{path} has run format version {data['version']}, newer than "
                                 f"this midib understands ({RUN_VERSION}); upgrade midib")
    return RunRecord.from_dict(data)


def write_mapping(path: Path, mapping: dict[str, str]) -> None:
    """A MIDI-B style mapping CSV: header ``id_old,id_new``, raw values, sorted by old id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id_old", "id_new"])
        writer.writerows(sorted(mapping.items()))


def read_mapping(path: Path) -> dict[str, str]:
    """Read an ``id_old,id_new`` CSV back into a dict."""
    with path.open(encoding="utf-8", newline="") as f:
        return {row["id_old"]: row["id_new"] for row in csv.DictReader(f)}
