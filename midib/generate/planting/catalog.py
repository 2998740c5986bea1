"""Load the editable planting data of synthetic_phi/ (attribute catalog, templates, layouts).

The folder sits at the repository top so people can edit scenarios without touching code;
``MIDIB_SYNTHETIC_PHI`` points elsewhere (an organiser's private variants).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from midib.errors import MidibError
from midib.resources import synthetic_phi_dir


def catalog_dir() -> Path:
    """Where the planting data lives (env override, else the repository's synthetic_phi/)."""
    return synthetic_phi_dir()


@lru_cache(maxsize=None)
def load(name: str) -> Any:
    """Parsed ``synthetic_phi/<name>.json``, with a one-line error naming the file if broken."""
    path = catalog_dir() / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MidibError(f"planting data missing: {path} ({e.strerror})") from e
    except json.JSONDecodeError as e:
        raise MidibError(f"planting data {path} is not valid JSON: line {e.lineno}: {e.msg}") from e
