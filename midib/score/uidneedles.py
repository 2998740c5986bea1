"""The sweep's planted UIDs, packed: ~80 bytes a UID instead of ~1 KB of Python objects.

Every instance plants its own SOP Instance UID (and series, study, frame of reference UIDs),
so the UID needles are the one part of the sweep index that grows with the number of
instances: ~12,000 at `medium`, ~60,000 at `midi-b`. As :class:`~midib.score.sweep.Needle`
objects in two dicts they took ~12 MB at `medium`, in the parent and, touched by reference
counting, again in every worker. Frozen, they are three arrays and one byte string (no
per-UID object for the garbage collector or for copy-on-write to duplicate), searched by a
CRC of the UID and confirmed by comparing its bytes; the needle is rebuilt on a hit.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import Iterator, NamedTuple, Optional
from zlib import crc32

PREFIX = "u:"


class UidFacts(NamedTuple):
    """What a UID needle says besides its text: shared by many UIDs, so stored once."""

    kind: str
    phi_class: str
    patients: tuple[str, ...]


class UidNeedles:
    """uid -> needle id (``"u:" + uid``) and the needle's facts; built with :meth:`add`, then
    :meth:`freeze` packs it (look-ups work before and after)."""

    def __init__(self) -> None:
        self._building: Optional[dict[str, UidFacts]] = {}
        self._crcs = array("I")
        self._ends = array("I")       # end offset of each UID's bytes in _blob
        self._facts_at = array("I")   # index into _facts
        self._blob = b""
        self._facts: list[UidFacts] = []

    def add(self, uid: str, kind: str, phi_class: str, patient: str) -> str:
        """Index ``uid`` for ``patient`` (a UID planted for several patients keeps them all; its
        first kind and class win, as for other needles); returns its needle id."""
        if self._building is None:
            self._thaw()
        assert self._building is not None
        known = self._building.get(uid)
        if known is None:
            self._building[uid] = UidFacts(kind, phi_class, (patient,))
        elif patient not in known.patients:
            self._building[uid] = known._replace(patients=known.patients + (patient,))
        return PREFIX + uid

    def freeze(self) -> None:
        """Pack what was added (sorted by CRC; equal CRCs side by side, told apart by bytes)."""
        if self._building is None:
            return
        shared: dict[UidFacts, int] = {}
        entries = sorted((crc32(key), key, uid, shared.setdefault(facts, len(shared)))
                         for uid, facts in self._building.items()
                         for key in (_bytes(uid),))
        self._facts = list(shared)
        self._crcs = array("I", (e[0] for e in entries))
        self._facts_at = array("I", (e[3] for e in entries))
        self._blob = b"".join(e[1] for e in entries)
        ends, end = array("I"), 0
        for e in entries:
            end += len(e[1])
            ends.append(end)
        self._ends, self._building = ends, None

    def _thaw(self) -> None:
        self._building = dict(self._items())

    def _find(self, uid: str) -> int:
        """Position of ``uid`` in the packed arrays, or -1."""
        key = _bytes(uid)
        crc = crc32(key)
        i = bisect_left(self._crcs, crc)
        while i < len(self._crcs) and self._crcs[i] == crc:
            start = self._ends[i - 1] if i else 0
            if self._blob[start:self._ends[i]] == key:
                return i
            i += 1
        return -1

    def facts(self, uid: str) -> Optional[UidFacts]:
        """The facts of ``uid``, or None when it was not planted."""
        if self._building is not None:
            return self._building.get(uid)
        i = self._find(uid)
        return self._facts[self._facts_at[i]] if i >= 0 else None

    def get(self, uid: str) -> Optional[str]:
        """The needle id of ``uid`` (``"u:" + uid``), or None when it was not planted."""
        return PREFIX + uid if self.facts(uid) is not None else None

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, str) and self.facts(uid) is not None

    def __len__(self) -> int:
        return len(self._building) if self._building is not None else len(self._crcs)

    def _items(self) -> Iterator[tuple[str, UidFacts]]:
        if self._building is not None:
            yield from self._building.items()
            return
        start = 0
        for end, at in zip(self._ends, self._facts_at):
            yield self._blob[start:end].decode("utf-8", "surrogatepass"), self._facts[at]
            start = end

    def __iter__(self) -> Iterator[str]:
        return (uid for uid, _ in self._items())


def _bytes(uid: str) -> bytes:
    return uid.encode("utf-8", "surrogatepass")
