"""A benchmark folder: what a de-identifier gets, and the truth kept apart from it.

::

    BENCH/
      benchmark.json            manifest (versioned): midib version, seed, preset, profile,
                                counts, sha256 of every input file
      input/                    the DICOM handed to a de-identification tool
      answer_key/ledger.jsonl   every planted value (midib.ledger)
      answer_key/checks.jsonl   the answer key under the manifest's profile (midib.answer_key)
      answer_key/profile.json   a copy of that profile

Organisers hand out ``input/`` alone; only scoring (and the ``oracle`` baseline) reads
``answer_key/``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from midib.errors import FormatVersionError, MidibError

MANIFEST_NAME = "benchmark.json"
MANIFEST_FORMAT = "midib-benchmark"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Benchmark:
    """Paths of a benchmark folder (nothing is read until asked)."""

    root: Path

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def key_dir(self) -> Path:
        return self.root / "answer_key"

    @property
    def ledger_path(self) -> Path:
        return self.key_dir / "ledger.jsonl"

    @property
    def checks_path(self) -> Path:
        return self.key_dir / "checks.jsonl"

    @property
    def profile_path(self) -> Path:
        return self.key_dir / "profile.json"

    @classmethod
    def open(cls, root: str | Path) -> "Benchmark":
        """Open an existing benchmark folder, with a clear error if it is not one."""
        bench = cls(Path(root))
        if not bench.root.is_dir():
            raise MidibError(f"benchmark folder not found: {bench.root}")
        if not bench.manifest_path.is_file():
            raise MidibError(f"{bench.root} is not a midib benchmark (no {MANIFEST_NAME}); "
                             "create one with 'midib generate' or 'midib import-key'")
        bench.manifest()  # validates format/version
        return bench

    def require_scorable(self) -> None:
        """Refuse a benchmark that scoring would misjudge without a word.

        Without input/ no output can be matched to its source (every run scored 0 %, the
        oracle's too). Without the ledger the sweep has no planted value to look for and the
        UID, PatientID and date rules have no facts, so leaks the key's checks do not name
        would pass: an inflated score, not an error. (A missing key is refused where it is
        read: under --profile the key is derived from the ledger instead.)
        """
        if not self.input_dir.is_dir():
            raise MidibError(f"benchmark at {self.root} has no input/ folder")
        if not self.ledger_path.is_file():
            raise MidibError(f"benchmark at {self.root} has no ledger ({self.ledger_path}); "
                             "scoring needs it to sweep for planted values")

    def holds(self, path: Path) -> bool:
        """Whether ``path`` (resolved) is this benchmark's folder or lies inside it."""
        root = self.root.resolve()
        return path == root or root in path.parents

    def manifest(self) -> dict[str, Any]:
        """The parsed manifest; refuses other formats and newer versions."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:  # ValueError: JSON, UTF-8
            raise MidibError(f"cannot read {self.manifest_path}: {e}") from e
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
            raise FormatVersionError(f"{self.manifest_path} is not a midib benchmark manifest")
        if not isinstance(data.get("version", 0), int):
            raise FormatVersionError(f"{self.manifest_path} has a version that is not a number")
        if data.get("version", 0) > MANIFEST_VERSION:
            raise FormatVersionError(f"{self.manifest_path} has manifest version {data['version']}, "
                                     f"newer than this midib understands ({MANIFEST_VERSION})")
        return data

    def fingerprint(self) -> str:
        """A short id of the benchmark's data: its input files' digests (every generated or
        imported manifest lists them) and its answer-key profile. Two copies of one benchmark,
        or two generations with the same seed, share it; any other benchmark does not.
        Recorded in each score so that `midib compare` refuses scores of different data."""
        data = self.manifest()
        basis = {k: data.get(k) for k in ("input_sha256", "profile", "preset", "seed", "source")}
        if not basis["input_sha256"]:      # an older manifest without digests: the whole of it
            basis = data
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]

    def write_manifest(self, data: dict[str, Any]) -> None:
        body = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, **data}
        self.manifest_path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n",
                                      encoding="utf-8")

    def input_files(self) -> Iterator[Path]:
        """Every file under input/, sorted, as absolute paths."""
        return iter(sorted(p for p in self.input_dir.rglob("*") if p.is_file()))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def checksum_tree(root: Path, skip: Optional[str] = None) -> dict[str, str]:
    """{relative POSIX path: sha256} for every file under ``root`` (but those of its top-level
    folder ``skip``, never hashed)."""
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not (skip and rel.startswith(f"{skip}/")):
            out[rel] = sha256_file(p)
    return out


def verify_tree(root: Path, expected: dict[str, str]) -> list[str]:
    """Differences between ``root`` and ``expected`` checksums: changed, missing, added files."""
    return checksum_diff(expected, checksum_tree(root))


def checksum_diff(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Changed, missing and added files between two :func:`checksum_tree` results."""
    problems = [f"changed: {p}" for p, h in expected.items() if p in actual and actual[p] != h]
    problems += [f"missing: {p}" for p in expected if p not in actual]
    problems += [f"added: {p}" for p in actual if p not in expected]
    return problems
