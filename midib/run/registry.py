"""Which de-identification tools midib knows: built-ins plus plugins from the entry-point group.

Built-ins are named ``"module:Class"`` strings imported only when asked for, so one broken or
half-installed tool never stops ``midib tools`` or ``midib run`` for the others: an adapter
whose module fails to import is listed as unavailable with the import error as its reason.
Third parties register ``name = "package.module:AdapterClass"`` under ``[project.entry-points."midib.tools"]``.
A ``"module:Class"`` string is also accepted wherever a tool name is (handy for one-off adapters).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable, Optional

from midib.errors import MidibError
from midib.run.adapter import ToolAdapter

ENTRY_POINT_GROUP = "midib.tools"

#: built-in tool name -> "module:Class"
BUILTINS: dict[str, str] = {
    "identity": "midib.run.tools.identity:IdentityAdapter",
    "strip": "midib.run.tools.strip:StripAdapter",
    "oracle": "midib.run.tools.oracle:OracleAdapter",
    "dicognito": "midib.run.tools.dicognito:DicognitoAdapter",
    "deid": "midib.run.tools.deid:DeidAdapter",
    "dicom-anonymizer": "midib.run.tools.dicom_anonymizer:DicomAnonymizerAdapter",
    "pixelmed": "midib.run.tools.pixelmed:PixelMedAdapter",
    "gdcmanon": "midib.run.tools.gdcm:GdcmAnonAdapter",
    "orthanc": "midib.run.tools.orthanc:OrthancAdapter",
    "presidio": "midib.run.tools.presidio:PresidioAdapter",
}


@dataclass
class ToolEntry:
    """A known tool: where it comes from, and the adapter (or why it could not be loaded)."""

    name: str
    target: str                     # "module:Class"
    origin: str                     # "builtin" or "plugin:<distribution>"
    adapter: Optional[ToolAdapter] = None
    load_error: str = ""

    def status(self) -> tuple[bool, str]:
        """(available, reason) without ever raising: a failing probe is a reason, not a crash."""
        if self.adapter is None:
            return False, self.load_error
        try:
            return self.adapter.available()
        except Exception as e:  # a plugin's probe must not break the listing
            return False, f"availability check failed: {type(e).__name__}: {e}"

    def version(self) -> Optional[str]:
        if self.adapter is None:
            return None
        try:
            return self.adapter.version()
        except Exception:
            return None


def _plugin_targets() -> dict[str, tuple[str, str]]:
    """name -> (target, origin) for every adapter registered under the entry-point group."""
    found: dict[str, tuple[str, str]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        found[ep.name] = (ep.value, f"plugin:{dist.name if dist else '?'}")
    return found


def instantiate(target: str) -> ToolAdapter:
    """Import ``module:Class`` (a ToolAdapter subclass or zero-argument factory) and build it."""
    module_name, _, attr = target.partition(":")
    obj: Callable[[], ToolAdapter] = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    adapter = obj()
    if not isinstance(adapter, ToolAdapter):
        raise TypeError(f"{target} did not produce a midib ToolAdapter")
    return adapter


def load(name: str, target: str, origin: str) -> ToolEntry:
    """Load one entry, recording an import failure as the reason instead of raising."""
    entry = ToolEntry(name=name, target=target, origin=origin)
    try:
        entry.adapter = instantiate(target)
        if not entry.adapter.name:
            entry.adapter.name = name
    except Exception as e:
        entry.load_error = f"cannot load {target}: {type(e).__name__}: {e}"
    return entry


def known_tools() -> dict[str, tuple[str, str]]:
    """name -> (target, origin): built-ins first, then plugins (a plugin may not shadow a built-in)."""
    tools = {name: (target, "builtin") for name, target in BUILTINS.items()}
    for name, (target, origin) in sorted(_plugin_targets().items()):
        tools.setdefault(name, (target, origin))
    return tools


def all_tools() -> list[ToolEntry]:
    """Every known tool, loaded (for ``midib tools``)."""
    return [load(name, target, origin) for name, (target, origin) in known_tools().items()]


def get_tool(name: str) -> ToolEntry:
    """The entry for ``name`` (a registered name or ``module:Class``); MidibError if unknown."""
    tools = known_tools()
    if name in tools:
        target, origin = tools[name]
        return load(name, target, origin)
    if ":" in name:
        return load(name.rsplit(":", 1)[-1], name, "direct")
    raise MidibError(f"unknown tool {name!r}; known tools: {', '.join(tools)} "
                     "(or give module:Class, or --cmd)")
