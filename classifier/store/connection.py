"""The store's connection: opening (SQLite, WAL), transactions, errors, and SQL conventions.

`open_store()` is the one place a connection is made and the SQL dialect's settings live
(journal mode, synchronous, busy timeout, foreign keys); `_write()` is a short `BEGIN IMMEDIATE`
transaction, `_read()` a snapshot. SQLite errors become one-line `StoreError`s here. The other
store modules only run statements inside these two context managers.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..labels.taxonomy import Taxonomy, load_taxonomy
from ..paths import default_db_path
from .schema import check_is_pmc_store, migrate

__all__ = ["Store", "open_store"]

_CHUNK = 500  # ids per `IN (...)` query


class Store:
    """An open annotation store. Use `open_store()`; close it, or use it as a context manager."""

    def __init__(self, path: Path, conn: sqlite3.Connection, taxonomy: Taxonomy) -> None:
        self.path = path
        self.taxonomy = taxonomy
        self._conn = conn
        self._lock = threading.RLock()

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"


def open_store(
    path: str | Path | None = None, *, taxonomy: Taxonomy | None = None, timeout: float = 30.0,
    create: bool = True,
) -> Store:
    """Open (creating and migrating as needed) the store at `path`, default `default_db_path()`.

    `timeout` is how long a write waits for another process's write to finish (busy_timeout).
    `create=False` (commands that only read) refuses a store that does not exist yet instead of
    making an empty one — a mistyped `--db` must not look like a store with nothing in it.
    """
    path = Path(path) if path is not None else default_db_path()
    if not create and not path.exists():
        raise StoreError(f"{path}: no pmc store here; check --db (or PMC_DB), or ingest documents first")
    if path.is_dir():
        raise StoreError(
            f"{path} is a directory, not a pmc store; pass a file path with --db "
            f"(e.g. {path / 'pmc.sqlite'})"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot create the folder {path.parent} ({exc.strerror}); pass another --db"
        ) from None
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the store ({exc}); check the path and its permissions") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        check_is_pmc_store(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: an answer that was acknowledged survives a crash of the machine, not only of pmc.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise _sqlite_error(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return Store(path, conn, taxonomy or load_taxonomy())


def _sqlite_error(path: Path, exc: sqlite3.Error) -> StoreError:
    message = str(exc)
    if "not a database" in message:
        return StoreError(
            f"{path} is not a pmc store (file is not a database); pass another --db or move it away"
        )
    if "malformed" in message:
        return StoreError(
            f"{path} is damaged ({message}); restore it from a backup or pass another --db"
        )
    if "locked" in message or "busy" in message:
        return StoreError(
            f"{path} is locked by another process ({message}); close other pmc sessions or retry"
        )
    if "readonly" in message or "read-only" in message:
        return StoreError(f"{path} is read-only ({message}); check its permissions or pass another --db")
    if "unable to open" in message or "disk" in message or "full" in message:
        return StoreError(f"{path}: cannot write the store ({message}); check the disk and permissions")
    return StoreError(f"{path}: store error ({message})")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; never let a failed ROLLBACK hide the error that caused it
    (after "database or disk is full" SQLite may have rolled back already)."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


@contextmanager
def _write(store: Store) -> Iterator[sqlite3.Connection]:
    """A short write transaction taken with `BEGIN IMMEDIATE` (waits up to busy_timeout)."""
    with store._lock:
        conn = store._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _sqlite_error(store.path, exc) from None
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            raise _sqlite_error(store.path, exc) from None
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            raise _sqlite_error(store.path, exc) from None


@contextmanager
def _read(store: Store) -> Iterator[sqlite3.Connection]:
    """A read snapshot: every query inside sees the same committed state."""
    with store._lock:
        conn = store._conn
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _select_for_ids(conn: sqlite3.Connection, query: str, ids: list[str] | None) -> list[tuple]:
    """Run `query` (with a `{where}` slot) for every paragraph, or for `ids` in chunks."""
    if ids is None:
        return conn.execute(query.format(where="")).fetchall()
    rows: list[tuple] = []
    for chunk in _chunks(ids):
        rows += conn.execute(query.format(where=f"WHERE paragraph_id IN ({_marks(len(chunk))})"), chunk).fetchall()
    return rows
