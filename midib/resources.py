"""Where midib's editable data lives, whether installed editable, as a wheel, or overridden.

``synthetic_phi/`` sits at the repository top so people edit scenarios without touching code;
it is also an importable data package so a regular ``pip install`` ships it.
``$MIDIB_SYNTHETIC_PHI`` points elsewhere (an organiser's private variants).
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from midib.errors import MidibError

SYNTHETIC_PHI_ENV = "MIDIB_SYNTHETIC_PHI"


def synthetic_phi_dir() -> Path:
    """The folder holding the planting data (env override, else the installed data package)."""
    env = os.environ.get(SYNTHETIC_PHI_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("synthetic_phi")))


def load_data_json(name: str, what: str) -> Any:
    """Parse ``midib/data/<name>`` (a file shipped with the package); a missing or broken file
    means a broken install, reported in one line naming ``what`` and the path."""
    path = resources.files("midib") / "data" / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise MidibError(f"cannot read {what} {path}: {e}") from e
