"""DICOM conformance engine: which dciodvfy errors did the de-identifier introduce?

Many real (and generated) files already break the standard somewhere, so an absolute error count
would punish a tool for its input. What a tool is accountable for is the difference: errors in
its output that the source did not have. dciodvfy (dicom3tools) prints ``Error - ...`` lines on
stderr; some carry the element's value (``= <DOE^JOHN>``, ``value <X> for value 1``) or an
offset, which a de-identifier legitimately changes, so messages are normalised before comparing.

Speed (a leaderboard scores many tools against one benchmark, dciodvfy costs ~10 ms a file and
runs once per file: it validates one file per invocation, so there is nothing to batch):

- a source's error lines are kept in the user's cache (:mod:`midib.cache`'s folder, one small JSON
  entry per source file, keyed on its path, size and mtime and on the dciodvfy binary), so each source is validated once per benchmark, not once per scored tool. Raw lines
  are stored and normalised when read, so a change of :func:`normalise` never needs a purge. An
  unreadable or malformed entry is ignored and dciodvfy runs again: the cache never decides;
- an output byte-identical to its source introduces nothing, without running dciodvfy at all;
- the remaining runs overlap in threads (each run is its own process).

dciodvfy cannot read a Deflated Explicit VR Little Endian dataset (PS3.5 A.5): it reports the
deflated bytes as broken elements, which once failed every deflated output of a correct tool.
Such a file is validated through an inflated copy in the scratch folder (same preamble and file
meta but the transfer syntax, which names the inflated encoding); a stream that does not
inflate, or inflates past the scorer's bound, is one error line saying so.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Optional

from midib import cache
from midib.errors import MidibError

#: seconds allowed per file (dciodvfy takes ~10 ms on ordinary files)
TIMEOUT = 30.0
#: source entries kept in the cache folder; the oldest beyond this are removed
MAX_SOURCE_ENTRIES = 200_000
#: source results kept in memory (the rest are on disk): memory stays flat in the run's size
MEMORY_ENTRIES = 256
#: changes when the stored entry's shape changes
ENTRY_FORMAT = "dciodvfy-raw-1"
#: bytes compared at a time when checking whether an output is a copy of its source
_CHUNK = 1 << 20

_ERROR = re.compile(r"\bError - ")
#: names of elements/modules/IODs sit in <...> after these words and must be kept
_NAME_BEFORE = ("Element=", "Module=", "attribute ", "Explicit ", "Dictionary ", "IOD ", "Macro=")
_ANGLED = re.compile(r"<[^<>]*>")
_OFFSET = re.compile(r"(offset|@)\s*(0x[0-9a-fA-F]+|\d+)")
#: lengths and characters of the offending value ("Length invalid ... = 5", "= ' ' (0x20)")
_VALUE_DETAIL = re.compile(r"= (\d+|'.'(?: \(0x[0-9a-fA-F]+\))?)")
_SPACES = re.compile(r"\s+")


def normalise(line: str) -> str:
    """An error line with values and offsets masked, so source and output lines compare equal."""
    def mask(m: re.Match[str]) -> str:
        before = line[max(0, m.start() - 12):m.start()]
        return m.group(0) if before.endswith(_NAME_BEFORE) else "<…>"

    line = _ANGLED.sub(mask, line)
    line = _OFFSET.sub(lambda m: f"{m.group(1)} …", line)
    line = _VALUE_DETAIL.sub("= …", line)
    return _SPACES.sub(" ", line).strip()


def error_lines(output: str) -> list[str]:
    """The raw ``Error - ...`` lines (not warnings) of a dciodvfy run."""
    return [line for line in output.splitlines() if _ERROR.search(line)]


def parse(output: str) -> list[str]:
    """The normalised error lines (not warnings) of a dciodvfy run."""
    return [normalise(line) for line in error_lines(output)]




class NotInflated(Exception):
    """A deflated dataset that cannot be validated: it does not inflate, or inflates too far."""


#: bytes read to find the file meta's end and transfer syntax (meta groups are a few hundred)
_META_PROBE = 1 << 16


@contextlib.contextmanager
def inflated(path: Path) -> Iterator[Path]:
    """``path`` itself, or for a deflated dataset an inflated copy dciodvfy can read (removed
    on exit). Raises :class:`NotInflated` when the deflated stream is broken or inflates past
    :data:`~midib.score.observation.MAX_INFLATED`."""
    from pydicom.uid import DeflatedExplicitVRLittleEndian
    from midib.score.rawframe import Fallback, file_meta
    with open(path, "rb") as f:
        head = f.read(_META_PROBE)
        try:
            start, syntax = file_meta(head)
        except Fallback:
            syntax = None
        if syntax != DeflatedExplicitVRLittleEndian or start >= len(head):
            yield path
            return
        from midib.score import diskmap
        fd, name = tempfile.mkstemp(suffix=".dcm", dir=diskmap.scratch_dir())
        copy = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_plain_meta(head, start))
                f.seek(start)
                _inflate(f, out)
            yield copy
        finally:
            copy.unlink(missing_ok=True)


def _plain_meta(head: bytes, start: int) -> bytes:
    """Preamble and file meta of ``head[:start]`` (already walked by
    :func:`~midib.score.rawframe.file_meta`) naming Explicit VR Little Endian, the group length
    recomputed; every other meta element kept byte for byte as the tool wrote it."""
    import struct
    from pydicom.uid import ExplicitVRLittleEndian
    from midib.score.rawframe import EXPLICIT_HEADER, U32, VRS
    pos = 132 if head[128:132] == b"DICM" else 0
    preamble, kept, has_length = head[:pos], [], False
    while pos < start:
        _, elem, vrb, length = EXPLICIT_HEADER(head, pos)
        header = 8
        if VRS[vrb][1]:
            length, header = U32(head, pos + 8)[0], 12
        if elem == 0x0010:
            value = ExplicitVRLittleEndian.encode("ascii") + b"\0"
            kept.append(struct.pack("<HH2sH", 2, 0x0010, b"UI", len(value)) + value)
        elif elem == 0x0000:
            has_length = True
        else:
            kept.append(head[pos:pos + header + length])
        pos += header + length
    body = b"".join(kept)
    group = struct.pack("<HH2sHL", 2, 0, b"UL", 4, len(body)) if has_length else b""
    return preamble + group + body


def _inflate(f: BinaryIO, out: BinaryIO) -> None:
    """Inflate the raw deflate stream from ``f``'s position into ``out``, in bounded steps."""
    import zlib
    from midib.score.observation import MAX_INFLATED
    inflater, total = zlib.decompressobj(-zlib.MAX_WBITS), 0
    try:
        while chunk := f.read(_CHUNK):
            while chunk:
                data = inflater.decompress(chunk, _CHUNK)
                total += len(data)
                if total > MAX_INFLATED:
                    raise NotInflated(f"deflated dataset inflates beyond {MAX_INFLATED:,} bytes: not validated")
                out.write(data)
                chunk = inflater.unconsumed_tail
        out.write(inflater.flush())
    except zlib.error as exc:
        raise NotInflated(f"deflated dataset does not inflate ({exc})") from None


def same_content(a: Path, b: Path) -> bool:
    """True when two files hold the same bytes (sizes first: most outputs differ in size)."""
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        with a.open("rb") as fa, b.open("rb") as fb:
            while True:
                x, y = fa.read(_CHUNK), fb.read(_CHUNK)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False  # unreadable: let dciodvfy say what is wrong with it


class SourceStore:
    """dciodvfy's raw error lines of source files, kept across runs in the user's cache folder.

    One JSON file per source (not :func:`midib.cache.cached`, whose folder keeps 64 entries: a
    benchmark has thousands of sources). Best effort: any problem reading or writing an entry
    is a miss, never an error and never a verdict.
    """

    def __init__(self, folder: Optional[Path], tool_signature: str) -> None:
        self.folder = folder
        self.signature = tool_signature
        self.written = 0

    @classmethod
    def default(cls, binary: str) -> "SourceStore":
        """The store under the cache folder (None folder, so no caching, when caching is off)."""
        base = cache.cache_dir()
        try:
            st = os.stat(binary)
            signature = f"{os.path.realpath(binary)}:{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            return cls(None, "")
        return cls(base / "dciodvfy" if base is not None else None, signature)

    def _entry(self, path: Path) -> Optional[Path]:
        if self.folder is None:
            return None
        try:
            st = path.stat()
        except OSError:
            return None
        # not cache.file_key: it hashes midib's code too (right for pickles), whereas raw
        # dciodvfy lines depend only on the file and the binary, so they survive midib updates
        parts = [ENTRY_FORMAT, self.signature, str(path.resolve()), str(st.st_size), str(st.st_mtime_ns)]
        return self.folder / f"{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:40]}.json"

    def get(self, path: Path) -> Optional[list[str]]:
        """The stored raw error lines of ``path``, or None (absent, unreadable or malformed)."""
        entry = self._entry(path)
        if entry is None:
            return None
        try:
            lines = json.loads(entry.read_text(encoding="utf-8"))["errors"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            return None
        return lines

    def put(self, path: Path, lines: list[str]) -> None:
        """Store atomically (temp file + rename): concurrent scorers never read half an entry."""
        entry = self._entry(path)
        if entry is None:
            return
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"file": str(path), "errors": lines}, f)
            os.replace(tmp, entry)
            self.written += 1
        except OSError:
            return

    def prune(self, keep: int = MAX_SOURCE_ENTRIES) -> None:
        """Remove the oldest entries beyond ``keep`` (run after a scoring pass that added some)."""
        if self.folder is None or not self.written:
            return
        try:
            entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
            for old in entries[:-keep] if len(entries) > keep else []:
                old.unlink(missing_ok=True)
        except OSError:
            return


class Dciodvfy:
    """Runs dciodvfy on files and compares source with output (source results cached)."""

    def __init__(self, command: str = "dciodvfy", timeout: float = TIMEOUT,
                 store: Optional[SourceStore] = None) -> None:
        self.command = command
        self.timeout = timeout
        self._cache: dict[Path, list[str]] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[Path, threading.Lock] = {}
        self._store = store
        self.runs = 0  # dciodvfy invocations made by this engine (for reports and tests)

    def available(self) -> tuple[bool, str]:
        """(True, path of the binary) or (False, why the conformance checks cannot run)."""
        found = shutil.which(self.command)
        if found is None:
            return False, f"{self.command} (dicom3tools) is not installed (not found on PATH)"
        return True, found

    def _run(self, path: Path) -> tuple[list[str], bool]:
        """(raw error lines, whether they may be cached) of one dciodvfy run on ``path``.

        A run that times out or cannot start yields one synthetic error line saying so, so a
        file that hangs the validator is never counted as clean (and that line is not cached).
        """
        ok, reason = self.available()
        if not ok:
            raise RuntimeError(f"conformance check unavailable: {reason}")
        if not path.is_file():
            raise MidibError(f"{path}: no such file to validate")
        with self._lock:
            self.runs += 1
        try:
            with inflated(path) as readable:
                run = subprocess.run([self.command, str(readable)], capture_output=True, text=True,
                                     errors="replace", timeout=self.timeout, check=False)
        except NotInflated as exc:
            return [f"Error - {exc}"], True
        except subprocess.TimeoutExpired:
            return [f"Error - dciodvfy timed out after {self.timeout:g} s"], False
        except OSError as exc:
            return [f"Error - dciodvfy could not run: {exc}"], False
        return error_lines(run.stderr + "\n" + run.stdout), True

    def errors(self, path: str | Path) -> list[str]:
        """Normalised ``Error - ...`` lines of ``dciodvfy path``."""
        return [normalise(line) for line in self._run(Path(path))[0]]

    def store(self) -> SourceStore:
        """The persistent store of source results (made on first use, after the PATH lookup)."""
        if self._store is None:
            ok, found = self.available()
            self._store = SourceStore.default(found) if ok else SourceStore(None, "")
        return self._store

    def source_errors(self, path: str | Path) -> list[str]:
        """:meth:`errors`, cached in memory and in the user's cache: sources are compared with
        the outputs of every tool scored against the benchmark."""
        key = Path(path).resolve()
        with self._lock:  # one lock per source: two threads never validate the same file
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found = self._cache.get(key)
            if found is None:
                raw = self.store().get(key)
                if raw is None:
                    raw, cacheable = self._run(key)
                    if cacheable:
                        self.store().put(key, raw)
                found = [normalise(line) for line in raw]
                with self._lock:  # bounded: a score visits each source once, in key order
                    self._cache[key] = found
                    while len(self._cache) > MEMORY_ENTRIES:
                        self._cache.pop(next(iter(self._cache)))
        with self._lock:  # a thread still waiting on this lock holds it; later ones find the result
            self._key_locks.pop(key, None)
        return list(found)

    def introduced(self, src_path: str | Path, out_path: str | Path) -> list[str]:
        """Errors of the output that the source did not have (counted, so duplicates matter).

        An output that is a byte-for-byte copy of its source cannot have introduced any.
        """
        ok, reason = self.available()
        if not ok:
            raise RuntimeError(f"conformance check unavailable: {reason}")
        if same_content(Path(src_path), Path(out_path)):
            return []
        before = Counter(self.source_errors(src_path))
        after = Counter(self.errors(out_path))
        return sorted((after - before).elements())

    def introduced_many(self, pairs: Iterable[tuple[str | Path, str | Path]],
                        workers: int = 2) -> list[list[str]]:
        """:meth:`introduced` for many (source, output) pairs, in order, ``workers`` at a time.

        dciodvfy is a subprocess, so threads overlap its runs; one thread more than ``workers``
        keeps the cores busy while another thread starts a process or reads its pipes (measured
        on 2 cores: 9.3 ms/file with 2 threads, 6.3 with 3, no gain beyond). Results do not
        depend on ``workers``.
        """
        pairs = list(pairs)
        if workers <= 1 or len(pairs) <= 1:
            found = [self.introduced(src, out) for src, out in pairs]
        else:
            with ThreadPoolExecutor(max_workers=workers + 1) as pool:
                found = list(pool.map(lambda pair: self.introduced(*pair), pairs))
        self.store().prune()
        return found
