"""Pair every output file with the source instance it came from.

Most de-identifiers do not say which output came from which input, and they change exactly the
things one would match on (UIDs, names, dates). So pairing goes from the most to the least
direct evidence, each output claiming at most one source:

1. the run's MIDI-B mapping CSV (new SOPInstanceUID -> old);
2. an unchanged SOPInstanceUID (for both, unless the output's matrix or SOP class contradict
   the source so named: another benchmark made with the same seed reuses the same UIDs; and
   a mapping row naming another source than the output's own unchanged UID is no claim at
   all: a forged mapping pairing each output with another patient's source made an identity
   run score 46 % instead of 41 %, weighted 45 % instead of 27 %);
3. content a de-identifier has no reason to change: SOP class, matrix size, frame count,
   InstanceNumber, geometry (ImagePositionPatient/Orientation) and the non-PHI structure of
   SR/RTSTRUCT/SEG (content tree size, ROI names, segment labels); ties, and outputs whose
   InstanceNumber or geometry changed, are settled by a pixel fingerprint computed outside the
   ledger's PHI boxes (:mod:`midib.score.fingerprint`), so masking burned-in text does not
   break it and neither does a change of transfer syntax.

A source that is the only free one with the output's features is still confirmed by the
fingerprint when the output has pixels: the features are shared by any slice at the same place
of a like series (another patient's, another benchmark's), and an unrelated file paired on them
would pass that source's "removed" checks. An output whose pixels are clearly another image is
not paired on those features (another source of its size and class may match its pixels; else
it is an extra output). Outputs without pixels, or blank ones, cannot be refuted and keep the
unique candidate (see :meth:`midib.score.fingerprint.PixelFingerprint.confirm`).

Two outputs claiming one source are reported as duplicates (the first by file name is scored);
nothing is scored twice.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

from midib.score.diskmap import Subset
from midib.score.observation import OutputRecord, observe

SOP_UID, SOP_CLASS = "(0008,0018)", "(0008,0016)"
STRICT = ("(0020,0013)", "(0020,0032)", "(0020,0037)")
LOOSE = ("(0028,0010)", "(0028,0011)", "(0028,0008)")
STRUCTURE = ("(0040,a730)", "(3006,0020)[*](3006,0026)", "(3006,0039)[*](3006,0040)",
             "(0062,0002)[*](0062,0005)", "(0062,0002)[*](0062,0004)")
FEATURE_PATHS = (SOP_UID, SOP_CLASS) + STRICT + LOOSE + STRUCTURE


@dataclass
class MatchResult:
    """instance -> record, plus what could not be paired."""

    pairs: dict[str, OutputRecord] = field(default_factory=dict)
    method: dict[str, str] = field(default_factory=dict)          # instance -> how it was matched
    unmatched_inputs: list[str] = field(default_factory=list)
    extra_outputs: list[str] = field(default_factory=list)
    duplicate_outputs: list[dict[str, str]] = field(default_factory=list)
    unreadable_outputs: list[dict[str, str]] = field(default_factory=list)  # not DICOM, corrupt
    rejected_outputs: list[dict[str, str]] = field(default_factory=list)    # links out, devices
    #: what a pair keeps of its output's record while matching runs (None: all of it)
    keep: Optional[Callable[[OutputRecord], OutputRecord]] = field(default=None, repr=False, compare=False)

    def methods_used(self) -> str:
        used = sorted(set(self.method.values()))
        return ",".join(used) if used else "none"


def _values(record: OutputRecord, key: str) -> tuple[str, ...]:
    return tuple(v for e in record.at(key) for v in e.values)


def _num(text: str) -> str:
    try:
        return f"{float(text):.2f}"
    except ValueError:
        return text.strip()


#: keys a tool may empty or remove (SOP class with every UID, InstanceNumber, geometry): an
#: output is compared with sources only on those it still has
OPTIONAL = (SOP_CLASS,) + STRICT
#: names in a document's structure (ROI names, segment labels) a tool may blank, since a
#: person may have typed anything there: where the output left them all empty, only how many
#: there are is compared (Orthanc empties ROI names; the RTSTRUCT was then left unpaired)
NAMES = ("(3006,0020)[*](3006,0026)", "(0062,0002)[*](0062,0005)")


def _present(record: OutputRecord) -> tuple[bool, ...]:
    """Which OPTIONAL keys ``record`` still holds with a non-empty value, then which NAMES."""
    return tuple(any(v.strip() for v in _values(record, k)) for k in OPTIONAL + NAMES)


def _loosened(mask: tuple[bool, ...]) -> tuple[bool, ...]:
    """``mask`` without InstanceNumber and geometry (changed by the tool: pixels decide)."""
    return mask[:1] + (False,) * len(STRICT) + mask[len(OPTIONAL):]


def features(record: OutputRecord, mask: tuple[bool, ...]) -> tuple:
    """A hashable summary of what identifies an instance without PHI, on the OPTIONAL keys
    of ``mask`` (plus matrix size, frames and document structure, always: NAMES the mask
    marks blank by their number only)."""
    named = dict(zip(NAMES, mask[len(OPTIONAL):]))
    keys = LOOSE + STRUCTURE + tuple(k for k, keep in zip(OPTIONAL, mask) if keep)
    return tuple((str(len(_values(record, k))),) if named.get(k) is False
                 else tuple(_num(v) for v in _values(record, k)) for k in keys)


def feature_digest(record: OutputRecord, mask: tuple[bool, ...]) -> bytes:
    """:func:`features` as a 16-byte digest: what the content index keys sources by. The
    features themselves are ~15 small strings in a dozen tuples, ~1.7 KB a source: ~100 MB
    held by the parent for a `midi-b` benchmark's 56,000 sources, against ~10 MB as digests
    (two different feature sets share a digest with probability ~2^-128)."""
    return hashlib.blake2b(repr(features(record, mask)).encode("utf-8", "surrogatepass"),
                           digest_size=16).digest()


#: (output file, candidates, record[, prefer=ties go to these]) -> the closest candidate or None
Fingerprinter = Callable[..., Optional[str]]
#: (output file, instance, record) -> True (same image), False (another image), None (cannot tell);
#: a Fingerprinter with a ``confirm`` method of this shape also vets unique candidates
Confirmer = Callable[[str, str, OutputRecord], Optional[bool]]
#: instance -> source path in, instance -> its record (FEATURE_PATHS at least) out
SourceReader = Callable[[dict[str, Path]], Mapping[str, OutputRecord]]


def read_sources(sources: dict[str, Path]) -> dict[str, OutputRecord]:
    """The sources' matching features, read here one by one (the scorer reads them in
    parallel and caches them: :func:`midib.score.scorer.source_features`)."""
    wanted = frozenset(FEATURE_PATHS)
    return {i: observe(p, p.name, wanted, None) for i, p in sorted(sources.items())}


def match_outputs(records: Iterable[OutputRecord], sources: Mapping[str, Path],
                  new_to_old: dict[str, str], fingerprint: Optional[Fingerprinter] = None,
                  reader: SourceReader = read_sources) -> MatchResult:
    """Pair ``records`` (sorted by file) with ``sources`` (instance -> source file path)."""
    matcher = Matcher(sources, new_to_old, reader)
    for rec in records:
        matcher.add(rec)
    return matcher.finish(fingerprint)


class Matcher:
    """:func:`match_outputs` fed one record at a time, as the outputs are read.

    An output whose SOPInstanceUID (or mapping row) names a source it does not contradict is
    claimed as it arrives and only its file name is kept (``slim``): a tool that keeps UIDs, or
    a submission with a mapping CSV, never has every output's matching view in memory at once.
    The others wait for :meth:`finish` (content, then pixels), in arrival order, as before.
    With ``stored`` (the caller hands :meth:`finish` a store of the outputs' records, read
    back by file), a waiting output keeps only its file name too, and any output paired is
    slimmed: a tool that renames every UID (dicognito) held every output's view, ~1.3 KB each.
    """

    def __init__(self, sources: Mapping[str, Path], new_to_old: dict[str, str],
                 reader: SourceReader = read_sources,
                 slim: Optional[Callable[[OutputRecord], OutputRecord]] = None,
                 stored: bool = False) -> None:
        self.sources, self.new_to_old, self.reader = sources, new_to_old, reader
        self.slim = slim if slim is not None else (lambda rec: rec)
        self.stored = stored
        self.result = MatchResult()
        self.named: dict[str, tuple[str, str]] = {}  # pending output file -> (the source its UID names, how)
        self.pending: list[OutputRecord] = []
        self.pending_files: list[str] = []            # with ``stored``: the waiting outputs
        self._src: Optional[Mapping[str, OutputRecord]] = None

    def source_records(self) -> Mapping[str, OutputRecord]:
        """The sources' matching features (those on disk), read on first need."""
        if self._src is None:
            on_disk = {i: p for i, p in self.sources.items() if p.is_file()}
            self._src = Subset(self.reader(on_disk), on_disk, _readable)
        return self._src

    def add(self, rec: OutputRecord) -> None:
        """Take one output: unreadable, claimed by the source it names, or left for content."""
        if rec.error:
            self.result.extra_outputs.append(rec.file)
            self.result.unreadable_outputs.append({"file": rec.file, "reason": str(rec.error)})
            return
        sop = rec.first(SOP_UID) or ""  # no SOPInstanceUID left: matched on content below
        old = (self.new_to_old.get(sop) or (sop if sop in self.sources else None)) if sop else None
        if old is not None and old != sop and sop in self.sources:
            # the mapping names one source, the output keeps another's original UID: a forged or
            # buggy mapping (or a tool that shuffled UIDs). Neither claim is taken; content and
            # pixels decide, and the UID's source is kept as the fallback
            self.named[rec.file] = (sop, "uid")
            self._wait(rec)
            return
        if old is not None and old in self.sources:
            method = "mapping" if sop in self.new_to_old else "uid"
            if not _contradicts(rec, self.source_records().get(old)):
                _claim(self.result, old, self.slim(rec), method)
                return
            self.named[rec.file] = (old, method)
        self._wait(rec)

    def _wait(self, rec: OutputRecord) -> None:
        """Leave ``rec`` for content matching (:meth:`finish`)."""
        if self.stored:
            self.pending_files.append(rec.file)
        else:
            self.pending.append(rec)

    def finish(self, fingerprint: Optional[Fingerprinter] = None,
               records: Optional[Mapping[str, OutputRecord]] = None) -> MatchResult:
        """Pair what is left by content and pixels; list the sources nothing claimed.
        ``records``: file -> stored record, where the waiting outputs are read back from
        (required when the matcher was made ``stored``)."""
        result = self.result
        if self.stored:
            if records is None:
                raise ValueError("a stored Matcher needs the outputs' records to finish")
            views = _Views(self.pending_files, records)
            pending: Sequence[OutputRecord] | _Views = views
            by_file: Mapping[str, OutputRecord] = views
            result.keep = self.slim   # pairs keep the file only, as the outputs claimed by UID do
        else:
            pending, by_file = self.pending, {r.file: r for r in self.pending}
        if pending:
            _match_by_content(result, pending, self.source_records(), fingerprint)
        if self.named:
            _fall_back_to_names(result, self.named, by_file)
        if pending and result.extra_outputs:
            _fall_back_to_paths(result, by_file, self.sources, self.source_records(), fingerprint)
        result.keep = None
        result.unmatched_inputs = sorted(set(self.sources) - set(result.pairs))
        self.pending, self.pending_files, self.named = [], [], {}
        return result


class _Views(Mapping[str, OutputRecord]):
    """The waiting outputs' matching views, read back from the record store one at a time, in
    arrival order (iteration) or by file (look-up): never all in memory."""

    def __init__(self, files: list[str], records: Mapping[str, OutputRecord]) -> None:
        self.files, self.records, self._set = files, records, frozenset(files)
        self._keys = frozenset(FEATURE_PATHS)

    def __getitem__(self, file: str) -> OutputRecord:
        if file not in self._set:
            raise KeyError(file)
        return self.records[file].trimmed(self._keys)   # what matching saw as the output arrived

    def __contains__(self, file: object) -> bool:
        return file in self._set

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def records_in_order(self) -> Iterator[OutputRecord]:
        return (self[f] for f in self.files)


def _readable(rec: OutputRecord) -> bool:
    return not rec.error


def _contradicts(rec: OutputRecord, src: Optional[OutputRecord]) -> bool:
    """True when the output's matrix or (if it still has one) SOP class differ from those of
    the source its UID or mapping row names: that name is a claim, and a de-identifier has no
    reason to change these (another benchmark's file reusing a UID does; it goes to content
    matching instead)."""
    if src is None:
        return False
    keys = LOOSE[:2] + ((SOP_CLASS,) if _present(rec)[0] else ())
    return any(tuple(map(_num, _values(rec, k))) != tuple(map(_num, _values(src, k))) for k in keys)


def _fall_back_to_names(result: MatchResult, named: dict[str, tuple[str, str]],
                        pending: Mapping[str, OutputRecord]) -> None:
    """An output whose UID or mapping row was contradicted, that content could not pair either,
    still goes to the source so named when no other output took it: a tool that crops an image
    (an ultrasound banner) changes its matrix but keeps its UID, and is judged, not dropped."""
    for file in [f for f in result.extra_outputs if f in pending and f in named]:
        old, method = named[file]
        if old not in result.pairs:
            result.extra_outputs.remove(file)
            _claim(result, old, pending[file], method)


def _fall_back_to_paths(result: MatchResult, pending: Mapping[str, OutputRecord],
                        sources: Mapping[str, Path], records: Mapping[str, OutputRecord],
                        fingerprint: Optional[Fingerprinter]) -> None:
    """An output content could not pair, at the same relative path (folders and name) as the
    one unpaired source whose path ends so, goes to that source unless its header (matrix, SOP
    class) or pixels contradict it: a report whose every word and UID a tool rewrote, kept in
    its source's place, is judged, not counted missing (its checks then fail or pass on what it
    holds). A bare file name is no evidence: tools number their outputs."""
    left = [f for f in result.extra_outputs if f in pending and "/" in f]
    if not left:
        return
    by_name: dict[str, list[str]] = defaultdict(list)
    for inst, path in sources.items():
        if inst not in result.pairs:
            by_name[path.name].append(inst)
    for file in left:
        tail = "/" + file
        found = [i for i in by_name.get(file.rpartition("/")[2], ()) if sources[i].as_posix().endswith(tail)]
        if len(found) != 1 or found[0] in result.pairs:
            continue
        inst, rec = found[0], pending[file]
        if _contradicts(rec, records.get(inst)) or _refuted(fingerprint, rec, inst):
            continue
        result.extra_outputs.remove(file)
        _claim(result, inst, rec, "path")


def _claim(result: MatchResult, instance: str, rec: OutputRecord, method: str) -> None:
    if instance in result.pairs:
        result.duplicate_outputs.append({"file": rec.file, "instance": instance,
                                         "scored": result.pairs[instance].file})
        return
    result.pairs[instance] = result.keep(rec) if result.keep is not None else rec
    result.method[instance] = method


def _in_order(pending: "Sequence[OutputRecord] | _Views") -> Iterable[OutputRecord]:
    """The waiting outputs' records in arrival order (read back one by one when stored)."""
    return pending.records_in_order() if isinstance(pending, _Views) else pending


def _match_by_content(result: MatchResult, pending: "Sequence[OutputRecord] | _Views",
                      sources: Mapping[str, OutputRecord], fingerprint: Optional[Fingerprinter]) -> None:
    """Stage 3: the sources' features (headers only) against each output's.

    Every source is indexed, those already claimed too: a copy of an input left among the
    outputs claims that source by its unchanged UID, and the real output of the same image must
    then be found a second claimant of it (a duplicate, reported), not moved to the free slice
    next to it that looks almost the same (:func:`_pair`)."""
    index: dict[tuple[bool, ...], dict[bytes, list[str]]] = {}
    held = frozenset(result.pairs)   # claimed by UID or mapping before content matching

    def lookup(rec: OutputRecord, mask: tuple[bool, ...]) -> list[str]:
        if mask not in index:  # sources indexed once per combination of keys outputs still have
            index[mask] = defaultdict(list)
            for inst, src in sources.items():  # read one at a time when stored
                index[mask][feature_digest(src, mask)].append(inst)
        return index[mask].get(feature_digest(rec, mask), [])

    prefetch = getattr(fingerprint, "prefetch", None)
    if prefetch is not None:  # every image about to be confirmed, read in parallel
        prefetch([r.file for r in _in_order(pending) if any(v.strip() for v in _values(r, LOOSE[0]))])
    for rec in _in_order(pending):
        mask = _present(rec)
        candidates, method = lookup(rec, mask), "content"
        if not candidates:  # InstanceNumber or geometry changed: size and class, then pixels
            candidates, method = lookup(rec, _loosened(mask)), "content+pixels"
        paired = _pair(result, rec, candidates, method, fingerprint, held)
        if paired is None and method == "content":  # a header twin of another image: by pixels
            others = [c for c in lookup(rec, _loosened(mask)) if c not in candidates]
            paired = _pair(result, rec, others, "content+pixels", fingerprint, held) if others else False
        if not paired:
            result.extra_outputs.append(rec.file)


def _pair(result: MatchResult, rec: OutputRecord, candidates: list[str], method: str,
          fingerprint: Optional[Fingerprinter], held: Collection[str] = ()) -> Optional[bool]:
    """Claim the candidate ``rec`` came from: True if claimed, False if none fits, None if the
    only candidate was refuted by the output's pixels.

    When some candidates were claimed before content matching began (``held``: by UID or
    mapping), the pixels choose among those and the free ones: the output may be a second one
    of such a source (a raw copy of the input took it; a duplicate, reported as such), and the
    only free look-alike is then the wrong image. Sources content matching itself claimed are
    left out, as before: weighing them again for every later output of a series would cost a
    fingerprint per output and candidate."""
    free = [c for c in candidates if c not in result.pairs]
    taken = [c for c in candidates if c in held]
    if fingerprint is not None and taken and len(free) + len(taken) > 1 and (
            best := fingerprint(rec.file, free + taken, rec, prefer=free)):
        if _refuted(fingerprint, rec, best):
            return None
        _claim(result, best, rec, "content+pixels")
        return True
    if len(free) == 1 or (not free and len(candidates) == 1):  # the only source of its kind
        only = free[0] if free else candidates[0]                 # (else: a second output of it)
        if _refuted(fingerprint, rec, only):
            return None
        _claim(result, only, rec, method.split("+")[0] if free else method)
        return True
    if free and fingerprint is not None and (best := fingerprint(rec.file, free, rec)):
        if _refuted(fingerprint, rec, best):  # the closest of like images, but not this one
            return None
        _claim(result, best, rec, "content+pixels")
        return True
    return False


def _refuted(fingerprint: Optional[Fingerprinter], rec: OutputRecord, instance: str) -> bool:
    """True when the output's pixels show it is another image than ``instance``'s."""
    confirm: Optional[Confirmer] = getattr(fingerprint, "confirm", None)
    return confirm is not None and confirm(rec.file, instance, rec) is False
