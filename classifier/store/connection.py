"""The store's connection: opening (SQLite file or PostgreSQL URL), transactions, errors, SQL conventions.

`open_store()` is the one place a connection is made. A path opens SQLite (WAL, synchronous
FULL, busy timeout, foreign keys: its settings live here); a `postgresql://` URL opens the team
backend (`store.postgres`, where everything PostgreSQL-specific lives). Both speak the same SQL
(`?` and `:name` placeholders, `ON CONFLICT`, `RETURNING`). `_write()` is a short write
transaction (`BEGIN IMMEDIATE` on SQLite), `_read()` a snapshot; driver errors become one-line
`StoreError`s here, and `retrying()` reruns a write that lost a race for a lock. The other store
modules only run statements inside these context managers.
"""

from __future__ import annotations

import functools
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreError
from ..labels.taxonomy import Taxonomy, load_taxonomy
from ..paths import default_db_path
from . import postgres
from .schema import check_is_pmc_store, migrate

__all__ = ["Store", "open_store", "retrying"]

_CHUNK = 500  # ids per `IN (...)` query
NO_LIMIT = 2**62  # LIMIT for "all rows" that both dialects accept


class Store:
    """An open annotation store. Use `open_store()`; close it, or use it as a context manager.

    `path` names the store in messages: the SQLite file, or the URL without its password.
    `dialect` is `sqlite` or `postgresql`; `target` is what was opened (path, or the full URL).
    """

    def __init__(self, path: Path | str, conn: Any, taxonomy: Taxonomy, *, dialect: str = "sqlite",
                 target: str | Path | None = None) -> None:
        self.path = path
        self.taxonomy = taxonomy
        self.dialect = dialect
        self.target = target if target is not None else path
        self._conn = conn
        self._lock = threading.RLock()

    @property
    def schema_version(self) -> int:
        with self._lock:
            if self.dialect == "postgresql":
                return int(postgres.read_version(self._conn) or 0)
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

    `path` is an SQLite file or a `postgresql://user:pass@host:port/db` URL. `timeout` is how
    long a write waits for another's write to finish. `create=False` (commands that only read)
    refuses a store that does not exist yet instead of making an empty one — a mistyped `--db`
    must not look like a store with nothing in it.
    """
    target = path if path is not None else default_db_path()
    if postgres.is_url(str(target)):
        return _open_postgres(str(target), taxonomy=taxonomy, timeout=timeout, create=create)
    path = Path(target)
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


def _open_postgres(url: str, *, taxonomy: Taxonomy | None, timeout: float, create: bool) -> Store:
    name = postgres.redact(url)
    conn = postgres.connect(url, timeout=timeout)
    try:
        version = postgres.read_version(conn)
        if version is None:
            raise StoreError(f"{name} is a PostgreSQL database but not a pmc store (it has other tables); "
                             f"pass another database in the URL")
        if version == 0 and not create:
            raise StoreError(f"{name}: no pmc store here yet; run `pmc db init` or ingest documents first")
        postgres.migrate_postgres(conn, name)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, StoreError) or not _is_pg_error(exc):
            raise
        raise postgres.store_error(name, exc) from None
    return Store(name, conn, taxonomy or load_taxonomy(), dialect="postgresql", target=url)


def _is_pg_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("psycopg")


class BusyError(StoreError):
    """A write lost a race for a lock (SQLite busy, PostgreSQL serialisation failure, deadlock or
    lock timeout); `retrying()` reruns the write."""


def _sqlite_error(path: Path | str, exc: sqlite3.Error) -> StoreError:
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
        return BusyError(
            f"{path} is locked by another process ({message}); close other pmc sessions or retry"
        )
    if "readonly" in message or "read-only" in message:
        return StoreError(f"{path} is read-only ({message}); check its permissions or pass another --db")
    if "unable to open" in message or "disk" in message or "full" in message:
        return StoreError(f"{path}: cannot write the store ({message}); check the disk and permissions")
    return StoreError(f"{path}: store error ({message})")


def _driver_error(store: Store, exc: BaseException) -> StoreError | None:
    """The StoreError for a driver error, or None when `exc` is not one (a bug: let it through)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return StoreError(f"{store.path}: {exc}") if "append-only" in str(exc) else None
    if isinstance(exc, (sqlite3.ProgrammingError, sqlite3.InterfaceError)):
        return None
    if isinstance(exc, sqlite3.DatabaseError):
        return _sqlite_error(store.path, exc)
    if _is_pg_error(exc):
        error = postgres.store_error(str(store.path), exc)
        return BusyError(str(error)) if postgres.is_retryable(exc) else error
    return None


@contextmanager
def _driver_errors(store: Store, conn: Any = None) -> Iterator[None]:
    """Driver errors raised inside become one-line `StoreError`s; with `conn`, the open
    transaction is rolled back first (whatever was raised)."""
    try:
        yield
    except BaseException as exc:
        if conn is not None:
            _rollback(conn)
        error = _driver_error(store, exc) if isinstance(exc, Exception) else None
        if error is None:
            raise
        raise error from None


def _rollback(conn: Any) -> None:
    """Roll back if a transaction is open; never let a failed ROLLBACK hide the error that caused it
    (after "database or disk is full" SQLite may have rolled back already)."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


@contextmanager
def _write(store: Store) -> Iterator[Any]:
    """A short write transaction (`BEGIN IMMEDIATE` on SQLite: waits up to busy_timeout)."""
    with store._lock:
        conn = store._conn
        with _driver_errors(store):
            conn.execute("BEGIN IMMEDIATE" if store.dialect == "sqlite" else "BEGIN")
        with _driver_errors(store, conn):
            yield conn
        with _driver_errors(store, conn):
            conn.execute("COMMIT")


@contextmanager
def _read(store: Store, *, snapshot: bool = True) -> Iterator[Any]:
    """A read snapshot: every query inside sees the same committed state. `snapshot=False` is
    for reads whose statements need not agree with each other (on PostgreSQL it saves the
    BEGIN and COMMIT round trips of the queue's hot path)."""
    with store._lock:
        conn = store._conn
        if not snapshot and store.dialect == "postgresql":
            with _driver_errors(store):
                yield conn
            return
        with _driver_errors(store):
            conn.execute("BEGIN" if store.dialect == "sqlite" else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        with _driver_errors(store, conn):
            yield conn
        conn.execute("COMMIT")


F = TypeVar("F", bound=Callable[..., Any])
_ATTEMPTS = 5


def retrying(function: F) -> F:
    """Rerun a write (a whole `_write` transaction) that failed with `BusyError`: up to five
    attempts with jittered backoff, then the last error (one line, exit code 7) goes up."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(_ATTEMPTS):
            try:
                return function(*args, **kwargs)
            except BusyError:
                if attempt == _ATTEMPTS - 1:
                    raise
                time.sleep(0.02 * (2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    return wrapper  # type: ignore[return-value]


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
