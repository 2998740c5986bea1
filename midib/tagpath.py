"""Attribute paths: one notation for every attribute midib talks about, at any depth.

midib notation (used in the ledger, the answer key, results and reports)::

    (0010,0010)                             a top-level standard attribute
    (0008,1110)[0](0008,1155)               item 0 of a sequence, then an attribute in it
    (0019,"SIEMENS CT VA0  COAD",92)        a private attribute: group, creator, low byte
    (0040,0275)[*](0040,0007)               any item (pattern only; matched by ``matches``)

Hex digits are lower-case, item indexes decimal. The MIDI-B answer keys use the same structure
wrapped in angle brackets with four-digit item indexes and upper-cased private creators
(``<(0008,1110)>[<0000>]<(0008,1155)>``); :meth:`TagPath.to_midi_b` and
:meth:`TagPath.from_midi_b` convert losslessly (except creator case, which MIDI-B folds).
Private attributes are addressed by creator, not by element number, because de-identifiers
are free to move a private block to another slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Optional, Union

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag

from midib.errors import MidibError

ANY_ITEM = -1

_ELEM = re.compile(
    r'\((?P<g>[0-9a-fA-F]{4}),(?:(?P<e>[0-9a-fA-F]{4})|"(?P<c>[^"]*)",(?P<lo>[0-9a-fA-F]{2}))\)'
)
_INDEX = re.compile(r"\[(?P<i>\d+|\*)\]")
_MIDI_ELEM = re.compile(r"<(?P<body>\([^<>]*\))>")
_MIDI_INDEX = re.compile(r"\[<(?P<i>\d+)>\]")


@dataclass(frozen=True)
class Step:
    """One attribute in a path: a standard tag, or a private (group, creator, low byte)."""

    group: int
    element: int  # full element number for standard tags; low byte for private ones
    creator: Optional[str] = None

    @property
    def is_private(self) -> bool:
        return self.creator is not None

    def __str__(self) -> str:
        if self.creator is not None:
            return f'({self.group:04x},"{self.creator}",{self.element:02x})'
        return f"({self.group:04x},{self.element:04x})"

    def tag_in(self, ds: Dataset) -> Optional[BaseTag]:
        """The concrete tag of this step in ``ds`` (private: found through its creator)."""
        if self.creator is None:
            return Tag(self.group, self.element)
        wanted = self.creator.strip().upper()
        for block in range(0x10, 0x100):
            creator_tag = Tag(self.group, block)
            if creator_tag in ds:
                value = ds[creator_tag].value
                if isinstance(value, bytes):
                    value = value.decode("latin-1", "replace")
                if str(value).strip().upper() == wanted:
                    return Tag(self.group, (block << 8) | self.element)
        return None


@dataclass(frozen=True)
class TagPath:
    """A path to an attribute, through sequence items: steps[0] [idx0] steps[1] [idx1] ..."""

    steps: tuple[Step, ...]
    indexes: tuple[int, ...] = ()  # len(indexes) == len(steps) - 1; ANY_ITEM for [*]

    def __post_init__(self) -> None:
        if not self.steps or len(self.indexes) != len(self.steps) - 1:
            raise MidibError(f"malformed attribute path: {self.steps!r} / {self.indexes!r}")

    # ---- text forms -------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> "TagPath":
        """Parse midib notation (``(0008,1110)[0](0008,1155)``); raise MidibError if malformed."""
        steps: list[Step] = []
        indexes: list[int] = []
        pos = 0
        text = text.strip()
        while True:
            m = _ELEM.match(text, pos)
            if not m:
                raise MidibError(f"malformed attribute path {text!r} at character {pos}")
            steps.append(_step_from_match(m))
            pos = m.end()
            if pos == len(text):
                break
            m = _INDEX.match(text, pos)
            if not m:
                raise MidibError(f"malformed attribute path {text!r} at character {pos}")
            indexes.append(ANY_ITEM if m["i"] == "*" else int(m["i"]))
            pos = m.end()
        return cls(tuple(steps), tuple(indexes))

    @classmethod
    def from_midi_b(cls, text: str) -> "TagPath":
        """Parse MIDI-B ``tag_ds`` notation: ``<(0008,1110)>[<0000>]<(0008,1155)>``."""
        plain = _MIDI_INDEX.sub(lambda m: f"[{int(m['i'])}]", text.strip())
        plain = _MIDI_ELEM.sub(lambda m: m["body"], plain)
        try:
            return cls.parse(plain)
        except MidibError as e:
            raise MidibError(f"malformed MIDI-B tag path {text!r}") from e

    def to_midi_b(self) -> str:
        """Render as MIDI-B ``tag_ds`` (creators upper-cased, 4-digit item indexes)."""
        parts = []
        for i, step in enumerate(self.steps):
            if step.creator is not None:
                parts.append(f'<({step.group:04x},"{step.creator.upper()}",{step.element:02x})>')
            else:
                parts.append(f"<{step}>")
            if i < len(self.indexes):
                idx = self.indexes[i]
                parts.append("[<*>]" if idx == ANY_ITEM else f"[<{idx:04d}>]")
        return "".join(parts)

    def __str__(self) -> str:
        out = []
        for i, step in enumerate(self.steps):
            out.append(str(step))
            if i < len(self.indexes):
                out.append("[*]" if self.indexes[i] == ANY_ITEM else f"[{self.indexes[i]}]")
        return "".join(out)

    # ---- construction -----------------------------------------------------------------
    @classmethod
    def of(cls, tag: Union[int, tuple[int, int], str]) -> "TagPath":
        """A top-level standard attribute from a tag or keyword (``TagPath.of("PatientName")``)."""
        t = Tag(tag)
        return cls((Step(t.group, t.element),))

    def child(self, index: int, tag: Union[int, tuple[int, int], str, Step]) -> "TagPath":
        """This path (a sequence) -> item ``index`` -> attribute ``tag``."""
        step = tag if isinstance(tag, Step) else Step(Tag(tag).group, Tag(tag).element)
        return TagPath(self.steps + (step,), self.indexes + (index,))

    @property
    def leaf(self) -> Step:
        return self.steps[-1]

    @property
    def depth(self) -> int:
        return len(self.steps)

    @property
    def is_private(self) -> bool:
        return any(s.is_private for s in self.steps)

    def generic(self) -> "TagPath":
        """The same path with every item index replaced by ``[*]`` (for per-attribute grouping)."""
        return TagPath(self.steps, tuple(ANY_ITEM for _ in self.indexes))

    def canonical(self) -> "TagPath":
        """The generic path with private creators trimmed and upper-cased: one spelling per
        attribute, for grouping and look-ups whatever case or padding a tool wrote."""
        steps = tuple(Step(st.group, st.element, st.creator.strip().upper())
                      if st.creator is not None else st for st in self.steps)
        return TagPath(steps, tuple(ANY_ITEM for _ in self.indexes))

    def keyword(self) -> str:
        """A readable name, e.g. ``RequestAttributesSequence[0].ScheduledProcedureStepID``."""
        from pydicom.datadict import keyword_for_tag

        out = []
        for i, step in enumerate(self.steps):
            if step.creator is not None:
                name = f"{step.creator}:{step.group:04x}xx{step.element:02x}"
            else:
                name = keyword_for_tag(Tag(step.group, step.element)) or str(step)
            out.append(name)
            if i < len(self.indexes):
                out.append("[*]" if self.indexes[i] == ANY_ITEM else f"[{self.indexes[i]}]")
            if i < len(self.steps) - 1:
                out.append(".")
        return "".join(out).replace(".[", "[")

    # ---- datasets -----------------------------------------------------------------------
    def resolve(self, ds: Dataset) -> Optional[DataElement]:
        """The element this (concrete) path points to in ``ds``, or None where absent."""
        found = list(self.find(ds))
        return found[0][1] if found else None

    def find(self, ds: Dataset) -> Iterator[tuple["TagPath", DataElement]]:
        """Every (concrete path, element) in ``ds`` this path matches (``[*]`` expands)."""
        yield from _find(ds, self.steps, self.indexes, (), ())

    def matches(self, other: "TagPath") -> bool:
        """True if ``other`` (concrete) is matched by this path (which may use ``[*]``)."""
        if self.steps != other.steps and not _steps_equal(self.steps, other.steps):
            return False
        return all(a == ANY_ITEM or a == b for a, b in zip(self.indexes, other.indexes))


def _steps_equal(a: tuple[Step, ...], b: tuple[Step, ...]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if (x.group, x.element) != (y.group, y.element):
            return False
        if (x.creator or "").strip().upper() != (y.creator or "").strip().upper():
            return False
    return True


def _step_from_match(m: "re.Match[str]") -> Step:
    group = int(m["g"], 16)
    if m["c"] is not None:
        return Step(group, int(m["lo"], 16), m["c"])
    return Step(group, int(m["e"], 16))


def _find(ds, steps, indexes, got_steps, got_indexes):
    tag = steps[0].tag_in(ds)
    if tag is None or tag not in ds:
        return
    elem = ds[tag]
    here_steps = got_steps + (steps[0],)
    if len(steps) == 1:
        yield TagPath(here_steps, got_indexes), elem
        return
    if elem.VR != "SQ" or not elem.value:
        return
    wanted = indexes[0]
    items = range(len(elem.value)) if wanted == ANY_ITEM else [wanted]
    for i in items:
        if 0 <= i < len(elem.value):
            yield from _find(elem.value[i], steps[1:], indexes[1:], here_steps, got_indexes + (i,))


def step_for(ds: Dataset, tag: BaseTag) -> Step:
    """The path step naming ``tag`` inside ``ds`` (private tags by their creator)."""
    if tag.is_private and tag.element >= 0x1000:
        creator_tag = Tag(tag.group, tag.element >> 8)
        creator = ds[creator_tag].value if creator_tag in ds else ""
        if isinstance(creator, bytes):
            creator = creator.decode("latin-1", "replace")
        return Step(tag.group, tag.element & 0xFF, str(creator))
    return Step(tag.group, tag.element)


def iter_elements(
    ds: Dataset, prefix: Optional[TagPath] = None, index: int = 0
) -> Iterator[tuple[TagPath, DataElement]]:
    """Every element of ``ds`` at any depth with its concrete path (sequences before items).

    Unlike ``Dataset.walk`` this yields the path, so a leak can be reported where it is.
    """
    for elem in ds:
        step = step_for(ds, elem.tag)
        path = TagPath((step,)) if prefix is None else prefix.child(index, step)
        yield path, elem
        if elem.VR == "SQ" and elem.value:
            for i, item in enumerate(elem.value):
                yield from iter_elements(item, path, i)
