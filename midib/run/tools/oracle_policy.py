"""How the oracle turns a PS3.15 action code into one concrete edit, at the right depth.

Table E.1-1 gives codes, some of them choices: X/Z, X/D, Z/D, X/Z/D mean "the most private
of these that keeps the object conformant": D (dummy) where the attribute is type 1 in that
object, Z (present, empty) where it is type 2, X (removed) otherwise. The requirement type
depends on the IOD (Series Date is type 3 in CT, type 1 in PET), and no table of it ships with
the tools midib uses, so :class:`Requirements` learns it from dciodvfy, the authority the
scorer's conformance checks use: the oracle starts from X, and every dciodvfy error naming an
element it removed or emptied ("Missing attribute Type 2 Required Element=<X>", "Empty
attribute ... Type 1 ...") raises that element's edit to Z or D for that SOP class. Without
dciodvfy the oracle falls back to Z at the top level and D inside sequence items (where an
emptied identifier usually breaks a type 1 slot of a macro).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from pydicom.dataset import Dataset

from midib.keys.profile import Profile
from midib.keys.rules import Decision, decide
from midib.tagpath import TagPath

#: concrete edits, least to most retentive
ORDER = ("X", "Z", "D")
_ELEMENT_ERROR = re.compile(r"Error - .*\bType (?P<type>[12]C?) .*Element=<(?P<kw>[A-Za-z0-9]+)>")


@dataclass(frozen=True)
class Edit:
    """What to do to the element at ``path``: X, Z, D (or K: leave; U is done by the UID remap)."""

    code: str
    path: str            # the element to edit: the leaf, or the removed ancestor sequence
    keyword: str


def choose(code: str, required: Optional[str], nested: bool, learning: bool) -> str:
    """One of X, Z, D for a (possibly combined) PS3.15 code, given the requirement type.

    ``required`` is "1", "2" or None (not known to be required). Inside sequence items an
    unknown requirement is treated as type 1 (``prefer D``) when D is allowed; at the top
    level it starts from X when dciodvfy can correct it (``learning``), else from Z.
    """
    allowed = [c for c in ORDER if c in code.split("/")] or ["X", "Z", "D"]
    if required == "1":
        wanted = "D"
    elif required == "2":
        wanted = "Z"
    elif nested:
        wanted = "D"
    else:
        wanted = "X" if learning else "Z"
    at_least = [c for c in allowed if ORDER.index(c) >= ORDER.index(wanted)]
    return at_least[0] if at_least else allowed[-1]


def edit_for(path: TagPath, keyword: str, profile: Profile, required: dict[str, str],
             learning: bool) -> Edit:
    """The edit removing the value at ``path`` under ``profile`` (ancestors first)."""
    decision: Decision = decide(path, profile)
    target, target_kw = str(path), keyword
    if decision.by_ancestor is not None:
        target = decision.by_ancestor
        target_kw = TagPath.parse(target).keyword().split(".")[-1].split("[")[0]
    code = decision.code
    if not decision.removes:
        code = "X/Z/D"  # the key asks for removal where the table keeps or cleans: least harm
    nested = TagPath.parse(target).depth > 1
    chosen = choose(code, required.get(target_kw), nested, learning)
    if chosen == "D" and target != str(path):
        return Edit("D", str(path), keyword)  # a dummy sequence: its items stay, leaves dummied
    return Edit(chosen, target, target_kw)


@dataclass
class Requirements:
    """Requirement types learned from dciodvfy, per SOP class: keyword -> "1" or "2"."""

    command: str = "dciodvfy"
    by_class: dict[str, dict[str, str]] = field(default_factory=dict)
    verified: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def available(self) -> bool:
        return shutil.which(self.command) is not None

    def of(self, sop_class: str) -> dict[str, str]:
        return self.by_class.setdefault(sop_class, {})

    def errors(self, ds: Dataset) -> list[tuple[str, str]]:
        """(type, keyword) of every dciodvfy error about a required element of ``ds``."""
        with tempfile.TemporaryDirectory(prefix="midib-oracle-") as tmp:
            probe = Path(tmp) / "probe.dcm"
            ds.save_as(probe)
            run = subprocess.run([self.command, str(probe)], capture_output=True, text=True,
                                 errors="replace", timeout=60, check=False)
        text = run.stderr + "\n" + run.stdout
        return [(m["type"], m["kw"]) for m in _ELEMENT_ERROR.finditer(text)]

    def learn(self, sop_class: str, ds: Dataset, edits: list[Edit]) -> bool:
        """Record requirements dciodvfy reports for elements the oracle removed or emptied.

        True when something new was learned (the file must then be edited again). dciodvfy
        runs only when an edit is new for this SOP class: one validation per kind of object
        and choice, not one per file.
        """
        weak = {e.keyword for e in edits if e.code in ("X", "Z")}
        tried = {(sop_class, e.keyword, e.code) for e in edits if e.code in ("X", "Z")}
        if tried <= self.verified:
            return False
        self.verified |= tried
        known = self.of(sop_class)
        learned = False
        for kind, keyword in self.errors(ds):
            kind = kind[0]  # conditional or not, the oracle only removed what the source had
            if keyword in weak and _stronger(kind, known.get(keyword)):
                known[keyword] = kind
                learned = True
        return learned


def _stronger(kind: str, old: Optional[str]) -> bool:
    """True if requirement ``kind`` is stricter than ``old`` (1 beats 2 beats unknown)."""
    return old is None or int(kind[0]) < int(old[0])
