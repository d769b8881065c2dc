"""Moving a store between backends: `copy_store()` copies every table (SQLite to PostgreSQL, or
back) with ids and order kept, then checks the counts.

Used by `pmc db copy` when a one-machine store becomes a team's. The target must be empty;
claims (short-lived) are not copied. Rows are read in batches and written in one transaction,
so a failed copy leaves the target as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import StoreError
from .connection import Store, _read, _write, open_store

__all__ = ["TABLES", "copy_store", "table_counts"]

# Foreign-key order; (table, key columns to keep the order by).
TABLES = (
    ("documents", "seq"), ("paragraphs", "seq"), ("positions", "rowid"), ("annotations", "id"),
    ("gold", "id"), ("models", "version"), ("scores", "model_version, paragraph_id"), ("users", "name"),
    ("events", "id"),
)
_IDENTITY = {"documents": "seq", "paragraphs": "seq", "positions": "rowid", "annotations": "id", "gold": "id",
             "events": "id"}
_BATCH = 5000


def table_counts(store: Store) -> dict[str, int]:
    """Rows per copied table."""
    with _read(store) as conn:
        return {table: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table, _ in TABLES}


def _columns(store: Store, conn: Any, table: str) -> list[str]:
    cursor = conn.execute(f"SELECT * FROM {table} LIMIT 0")
    names = [d[0] for d in cursor.description]
    cursor.fetchall()
    if table == "positions" and "rowid" not in names:
        names = ["rowid", *names]  # SQLite's implicit rowid: a paragraph's first position
    return names


def copy_store(source: str | Path, target: str | Path) -> dict[str, Any]:
    """Copy the store at `source` into the empty store at `target` (created if needed).

    Returns `{"source", "target", "counts": {table: rows}}`; raises `StoreError` if the target
    already holds data or a count differs after the copy.
    """
    with open_store(source, create=False) as src, open_store(target) as dst:
        before = table_counts(dst)
        if any(before.values()):
            busy = ", ".join(f"{t} {n}" for t, n in before.items() if n)
            raise StoreError(f"{dst.path} is not empty ({busy}); copy into a new database or empty store")
        if src.schema_version != dst.schema_version:
            raise StoreError(f"{src.path} is at schema {src.schema_version}, {dst.path} at {dst.schema_version}; "
                             f"open the source with this pmc once to migrate it, then copy")
        counts = table_counts(src)
        with _read(src) as read, _write(dst) as write:
            for table, order in TABLES:
                columns = _columns(src, read, table)
                marks = ", ".join("?" * len(columns))
                insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                cursor = read.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}")
                while True:
                    rows = cursor.fetchmany(_BATCH)
                    if not rows:
                        break
                    write.executemany(insert, [tuple(r) for r in rows])
            if dst.dialect == "postgresql":  # identity columns continue after the copied ids
                for table, column in _IDENTITY.items():
                    write.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                        f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                    )
        after = table_counts(dst)
    if after != counts:
        diff = ", ".join(f"{t} {counts[t]} -> {after[t]}" for t in counts if counts[t] != after[t])
        raise StoreError(f"copy incomplete ({diff}); the target keeps what was written — drop it and retry")
    return {"source": str(src.path), "target": str(dst.path), "counts": counts}
