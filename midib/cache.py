"""A per-user cache of facts derived from a benchmark's immutable files.

A leaderboard scores many runs against one benchmark, and each score used to re-derive the same
facts: the answer key's first pass (~300,000 records for `small`), the ledger's sweep index,
dciodvfy's verdict on every source file. Those depend only on the file's bytes, so they are
cached under the user's cache folder (``$MIDIB_CACHE_DIR``, else ``$XDG_CACHE_HOME/midib``, else
``~/.cache/midib``), keyed by the file's resolved path, size and modification time plus a
digest of midib's own code (a new or edited midib never reads what an older one pickled) and
a kind-specific tag. ``MIDIB_CACHE_DIR=off`` disables it.

Why not beside the benchmark: benchmarks are shared between users, and a pickle read from a
folder someone else can write is code they can run. The user's own cache folder is trusted.
Entries are best effort: a cache that cannot be read or written is simply recomputed.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from midib import __version__

T = TypeVar("T")
#: oldest entries beyond this many are removed when a new one is written
MAX_ENTRIES = 64


def cache_dir() -> Optional[Path]:
    """The cache folder, or None when caching is off."""
    env = os.environ.get("MIDIB_CACHE_DIR", "")
    if env.lower() in ("off", "0", "none", "false"):
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "midib"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of every module of the installed midib package (read once per process, ~5 ms)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def file_key(kind: str, *paths: Path, extra: str = "") -> str:
    """A key that changes whenever any of ``paths`` changes (path, size, mtime) or midib does."""
    parts = [kind, code_digest(), extra]
    for p in paths:
        st = p.stat()
        parts += [str(p.resolve()), str(st.st_size), str(st.st_mtime_ns)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]


def cached(kind: str, paths: tuple[Path, ...], compute: Callable[[], T], extra: str = "",
           valid: Optional[Callable[[T], bool]] = None) -> T:
    """``compute()``, or its pickled result from an earlier call on the same unchanged files
    (unless ``valid`` says the stored value is no longer usable, e.g. its sidecar is gone)."""
    folder = cache_dir()
    if folder is None:
        return compute()
    try:
        entry = folder / f"{kind}-{file_key(kind, *paths, extra=extra)}.pkl"
    except OSError:
        return compute()
    found = _load(entry)
    if found is not None and (valid is None or valid(found[0])):
        return found[0]
    value = compute()
    _store(folder, entry, value)
    return value


def sidecar(kind: str, paths: tuple[Path, ...], suffix: str, extra: str = "") -> Optional[Path]:
    """Where an entry of :func:`cached` keeps data too big to unpickle whole (e.g. an SQLite
    file of per-instance facts): same name, another suffix; removed with its entry. None when
    caching is off or the files cannot be read."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        return folder / f"{kind}-{file_key(kind, *paths, extra=extra)}{suffix}"
    except OSError:
        return None


def _load(entry: Path) -> Optional[tuple[Any]]:
    try:
        with entry.open("rb") as f:
            return (pickle.load(f),)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        return None


def _store(folder: Path, entry: Path, value: Any) -> None:
    """Atomic write (temp file + rename): concurrent scorers never read half an entry."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, entry)
        _prune(folder)
    except OSError:
        return


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime)
    for old in entries[:-MAX_ENTRIES]:
        old.unlink(missing_ok=True)
        for data in folder.glob(f"{old.stem}.*"):  # its sidecars
            data.unlink(missing_ok=True)
