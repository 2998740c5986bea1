"""Where midib's editable data lives, whether installed editable, as a wheel, or overridden.

``synthetic_phi/`` sits at the repository top so people edit scenarios without touching code;
it is also an importable data package so a regular ``pip install`` ships it.
``$MIDIB_SYNTHETIC_PHI`` points elsewhere (an organiser's private variants).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

SYNTHETIC_PHI_ENV = "MIDIB_SYNTHETIC_PHI"


def synthetic_phi_dir() -> Path:
    """The folder holding the planting data (env override, else the installed data package)."""
    env = os.environ.get(SYNTHETIC_PHI_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("synthetic_phi")))
