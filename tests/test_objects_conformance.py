"""The clean objects pass dciodvfy (Debian dicom3tools) without "Error" lines.

Known exceptions: none. Warnings are expected and allowed: attributes scanners write that the
current IOD tables no longer list (PatientAddress, RequestingPhysician in the request item...),
vendor private tags dciodvfy does not know, and retired-but-real values.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from midib.generate.objects import OBJECT_KINDS
from midib.generate.objects.vendors import device_families
from test_objects_fixtures import build

pytestmark = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy not installed")


def dciodvfy_errors(path: Path) -> list[str]:
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line]


def _check(kind: str, tmp_path: Path, manufacturer: str | None = None) -> None:
    _, _, datasets, _ = build(kind, n=2, manufacturer=manufacturer)
    for i, ds in enumerate(datasets[:2]):
        path = tmp_path / f"{kind}_{i}.dcm"
        ds.save_as(path, enforce_file_format=True)
        assert dciodvfy_errors(path) == [], f"{kind} ({ds.Manufacturer})"


@pytest.mark.parametrize("kind", OBJECT_KINDS)
def test_clean_object_passes_dciodvfy(kind: str, tmp_path: Path) -> None:
    _check(kind, tmp_path)


def test_dciodvfy_detects_a_broken_object(tmp_path: Path) -> None:
    """Guard against a vacuous pass: removing a Type 1 attribute must produce an Error."""
    _, _, datasets, _ = build("CT", n=1)
    del datasets[0].FrameOfReferenceUID
    path = tmp_path / "broken.dcm"
    datasets[0].save_as(path, enforce_file_format=True)
    assert dciodvfy_errors(path)


_KIND_OF = {"CT": "CT", "MR": "MR", "PT": "PT", "CR": "CR", "DX": "DX", "MG": "MG", "US": "US_CINE",
            "SC": "SC", "SR": "SR", "SEG": "SEG", "RTSTRUCT": "RTSTRUCT"}


@pytest.mark.slow
@pytest.mark.parametrize("family", device_families(), ids=lambda f: f"{f['modality']}-{f['manufacturer']}")
def test_every_vendor_family_passes_dciodvfy(family: dict, tmp_path: Path) -> None:
    _check(_KIND_OF[family["modality"]], tmp_path, manufacturer=family["manufacturer"])
