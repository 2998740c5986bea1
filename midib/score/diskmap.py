"""Per-instance facts kept on disk, read by key: the scorer's memory flat in the number of instances.

The key's index holds, for every instance, its pixel checks and PHI boxes and the UIDs, PatientIDs
and dates the ledger planted in it: ~3 KB an instance as Python objects, so ~160 MB for a
`midi-b` benchmark (54,000 instances) in the parent and again in every forked worker that
touches it. Scoring reads each of them once or twice, by instance, so they live in an SQLite
file (the standard library's; one table per map, values pickled) and a :class:`DiskMap` reads
one row per look-up (~10 us). It pickles as its file's path, so a cached index and forked
workers share the file, each process opening its own read-only connection.

Where the file lives: beside the cached index in the user's cache (:func:`midib.cache.sidecar`),
or, with the cache off, in a scratch folder of the process removed when it exits.
"""

from __future__ import annotations

import atexit
import os
import pickle
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Callable, Optional

_SCRATCH: list[Path] = []
_CONNECTIONS: dict[tuple[int, str], sqlite3.Connection] = {}
#: SQLite page cache per connection (KiB)
CACHE_KB = 256


def stored_key(key: str) -> str:
    """``key`` as the table holds it. A file name that is not valid UTF-8 (a hostile submission's
    ``b"bad\xff.dcm"`` reads as a str with a lone surrogate) cannot be bound by SQLite: it is
    stored as a NUL (never in a POSIX name) and the hex of its bytes, so no two keys collide."""
    if key.isascii():
        return key
    try:
        key.encode("utf-8")
        return key
    except UnicodeEncodeError:
        return "\x00" + key.encode("utf-8", "surrogatepass").hex()


class DiskMap(Mapping[str, Any]):
    """A read-only ``str -> value`` mapping stored in table ``table`` of the SQLite file ``path``;
    iteration follows the order the items were written in (as a dict's would) and yields keys as
    stored (:func:`stored_key`: the same but for names that are not valid UTF-8)."""

    def __init__(self, path: Path, table: str, raw: bool = False) -> None:
        self.path, self.table, self.raw = Path(path), table, raw   # raw: values are bytes as stored
        self._conn: Optional[sqlite3.Connection] = None
        self._pid = -1
        self._len: Optional[int] = None
        self._sorted: Optional[bool] = None

    @classmethod
    def write(cls, path: Path, table: str, items: Iterable[tuple[str, Any]]) -> "DiskMap":
        """Store ``items`` as table ``table`` of ``path`` (created if missing, table replaced)."""
        with Writer(path, (table,)) as writer:
            writer.add(table, ((k, pickle.dumps(v, pickle.HIGHEST_PROTOCOL)) for k, v in items))
        return cls(path, table)

    def usable(self) -> bool:
        """Whether the file and its table are there (a cache entry whose file was removed is not)."""
        if not self.path.is_file():  # an open connection would still read a removed file
            return False
        try:
            self._db().execute(f"SELECT 1 FROM {self.table} LIMIT 1").fetchall()
            return True
        except sqlite3.Error:
            return False

    def _db(self) -> sqlite3.Connection:
        """This process's connection to the file, shared by its tables (a forked worker opens
        its own: SQLite handles must not cross a fork), with a small page cache: look-ups by
        key and one-pass scans gain nothing from SQLite's default 2 MB per connection."""
        if self._conn is None or self._pid != os.getpid():
            key = (os.getpid(), str(self.path))
            conn = _CONNECTIONS.get(key)
            if conn is None:
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                       check_same_thread=False)
                conn.execute(f"PRAGMA cache_size = -{CACHE_KB}")
                _CONNECTIONS[key] = conn
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def close(self) -> None:
        """Close this process's connection to the file (its other tables reopen it on use)."""
        close_file(self.path)
        self._conn, self._pid = None, -1

    def __getitem__(self, key: str) -> Any:
        row = self._db().execute(f"SELECT v FROM {self.table} WHERE k = ?", (stored_key(key),)).fetchone()
        if row is None:
            raise KeyError(key)
        return row[0] if self.raw else pickle.loads(row[0])

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._db().execute(f"SELECT 1 FROM {self.table} WHERE k = ?",
                                  (stored_key(key),)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        for (k,) in self._db().execute(f"SELECT k FROM {self.table} ORDER BY rowid"):
            yield k

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        """(key, value) in written order, streamed (one row at a time, never all in memory)."""
        for k, v in self._db().execute(f"SELECT k, v FROM {self.table} ORDER BY rowid"):
            yield k, v if self.raw else pickle.loads(v)

    def sorted_keys(self) -> bool:
        """Whether the table's rows were written in key order (checked once, keys only)."""
        if self._sorted is None:
            keys = iter(self)
            previous = next(keys, None)
            self._sorted = True
            for key in keys:
                if key < previous:  # type: ignore[operator]
                    self._sorted = False
                    break
                previous = key
        return self._sorted

    def __len__(self) -> int:
        if self._len is None:
            self._len = self._db().execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0]
        return self._len

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "table": self.table, "raw": self.raw}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(Path(state["path"]), state["table"], state.get("raw", False))  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"DiskMap({str(self.path)!r}, {self.table!r})"


class Writer:
    """Tables of one SQLite file filled side by side as values arrive (already bytes: the
    caller chose their encoding), e.g. two records per output streamed from the workers."""

    def __init__(self, path: Path, tables: Iterable[str]) -> None:
        self.tables = tuple(tables)
        for table in self.tables:
            if not table.isidentifier():
                raise ValueError(f"not a table name: {table!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.conn, self.done = path, sqlite3.connect(path), False
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute(f"PRAGMA cache_size = -{CACHE_KB}")
        for table in self.tables:
            self.conn.execute(f"DROP TABLE IF EXISTS {table}")
            self.conn.execute(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, v BLOB NOT NULL)")

    def add(self, table: str, items: Iterable[tuple[str, bytes]]) -> None:
        if table not in self.tables:
            raise ValueError(f"no table {table!r} in {self.path}")
        self.conn.executemany(f"INSERT INTO {table} (k, v) VALUES (?, ?)",
                              ((stored_key(k), v) for k, v in items))

    def finish(self, raw: bool = True) -> dict[str, DiskMap]:
        """Commit and close; the tables as read-only maps (values as bytes unless ``raw`` is False)."""
        if not self.done:
            self.conn.commit()
            self.conn.close()
            self.done = True
        return {table: DiskMap(self.path, table, raw) for table in self.tables}

    def __enter__(self) -> "Writer":
        return self

    def abort(self) -> None:
        """Close without committing (a failed write); nothing once finished."""
        if not self.done:
            self.conn.close()
            self.done = True

    def __exit__(self, kind: Any, *_: Any) -> None:
        if kind is None:
            self.finish()
        else:
            self.abort()


def close_file(path: Path) -> None:
    """Close this process's connection to ``path``, if it opened one (before removing the file)."""
    conn = _CONNECTIONS.pop((os.getpid(), str(path)), None)
    if conn is not None:
        conn.close()


_MISSING = object()


class Spool:
    """A ``key -> value`` table of a :class:`Writer` filled while it is built, one key at a time:
    an instance's facts, gathered from a key or ledger that lists each instance's lines
    together, are written when the next instance starts, so only the current one is in memory
    (at `midi-b` the whole index of facts took ~200 MB while it was read). Callers change the
    value :meth:`setdefault` hands them before asking for another key. A key that comes back
    after another (a file not grouped by instance) is read back, changed and rewritten in its
    row: the table keeps the order keys first came in, as a dict would."""

    def __init__(self, writer: Writer, table: str) -> None:
        if table not in writer.tables:
            raise ValueError(f"no table {table!r} in {writer.path}")
        self.writer, self.table = writer, table
        self._key: Optional[str] = None
        self._value: Any = _MISSING
        self._stored = False          # the current key has a row already

    def _row(self, key: str) -> Optional[tuple]:
        return self.writer.conn.execute(f"SELECT v FROM {self.table} WHERE k = ?",
                                        (stored_key(key),)).fetchone()

    def _switch(self, key: str) -> None:
        if key == self._key:
            return
        self.flush()
        row = self._row(key)
        self._key, self._stored = key, row is not None
        self._value = pickle.loads(row[0]) if row is not None else _MISSING

    def flush(self) -> None:
        """Write the current key's value (done by every switch to another key, and at the end)."""
        if self._key is not None and self._value is not _MISSING:
            data = pickle.dumps(self._value, pickle.HIGHEST_PROTOCOL)
            sql = (f"UPDATE {self.table} SET v = ? WHERE k = ?" if self._stored
                   else f"INSERT INTO {self.table} (v, k) VALUES (?, ?)")
            self.writer.conn.execute(sql, (data, stored_key(self._key)))
        self._key, self._value, self._stored = None, _MISSING, False

    def setdefault(self, key: str, default: Any) -> Any:
        self._switch(key)
        if self._value is _MISSING:
            self._value = default
        return self._value

    def __setitem__(self, key: str, value: Any) -> None:
        self._switch(key)
        self._value = value

    def get(self, key: str, default: Any = None) -> Any:
        if key == self._key:
            return default if self._value is _MISSING else self._value
        row = self._row(key)
        return default if row is None else pickle.loads(row[0])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, _MISSING) is not _MISSING


def write_tables(target: Path, tables: dict[str, Iterable[tuple[str, Any]]]) -> dict[str, DiskMap]:
    """Write every table to a temporary file beside ``target``, then rename it into place:
    a scorer running at the same time never opens half a file."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        for table, items in tables.items():
            DiskMap.write(tmp, table, items)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {table: DiskMap(target, table) for table in tables}


def write_first(targets: Iterable[Optional[Path]],
                tables: Callable[[], dict[str, Iterable[tuple[str, Any]]]]) -> Optional[dict[str, DiskMap]]:
    """:func:`write_tables` to the first of ``targets`` that can be written (None entries are
    skipped: e.g. no user cache), ``tables()`` called afresh for each attempt; None if none
    could be (the caller keeps its data in memory or says why)."""
    for target in targets:
        if target is None:
            continue
        try:
            return write_tables(target, tables())
        except (OSError, sqlite3.Error):
            continue
    return None


class Subset(Mapping[str, Any]):
    """The entries of ``base`` whose keys are in ``keys`` and whose value ``keep`` accepts, read
    lazily (in sorted key order): a view, never a copy of the records."""

    def __init__(self, base: Mapping[str, Any], keys: Iterable[str], keep=None) -> None:
        self.base, self.keys_, self.keep = base, frozenset(keys), keep

    def __getitem__(self, key: str) -> Any:
        if key not in self.keys_:
            raise KeyError(key)
        value = self.base[key]
        if self.keep is not None and not self.keep(value):
            raise KeyError(key)
        return value

    def without(self, keys: Iterable[str]) -> "Subset":
        """The same view less ``keys`` (nothing read)."""
        return Subset(self.base, self.keys_.difference(keys), self.keep)

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        """Sorted by key. Over a :class:`DiskMap` written in key order (the sources' features
        are), one scan of its table: a look-up per key costs ~3x more."""
        if isinstance(self.base, DiskMap) and self.base.sorted_keys():
            found = ((k, v) for k, v in self.base.items() if k in self.keys_)
        else:
            found = ((k, self.base[k]) for k in sorted(self.keys_) if k in self.base)
        for key, value in found:
            if self.keep is None or self.keep(value):
                yield key, value

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.items())

    def __len__(self) -> int:
        return sum(1 for _ in self)


def scratch_dir() -> Path:
    """A folder for files that must not outlive this process: removed when the process that
    made it exits. Forked children use their parent's (so make it before forking one that
    writes there) and never remove it."""
    if not _SCRATCH:
        _SCRATCH.append(Path(tempfile.mkdtemp(prefix="midib-score-")))
        atexit.register(_remove_scratch, os.getpid(), _SCRATCH[0])
    return _SCRATCH[0]


def _remove_scratch(pid: int, folder: Path) -> None:
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)
