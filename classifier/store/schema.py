"""The store's schema and its migrations, in order.

`PRAGMA user_version` is the number of migrations a store has seen; `migrate()` applies the
missing ones inside one write transaction. `PRAGMA application_id` marks a file as a pmc store,
so pmc never writes into another application's database. Answers and gold are append-only:
triggers refuse UPDATE and DELETE.

A PostgreSQL store starts at version 5: `store.postgres.migrate_postgres()` creates the whole
schema in an empty database; a migration added after 5 gets a PostgreSQL twin there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from ..errors import StoreError

__all__ = ["SCHEMA_VERSION", "APPLICATION_ID", "migrate", "check_is_pmc_store"]

APPLICATION_ID = 0x504D4331  # "PMC1" in the SQLite header: marks a file as a pmc store


def _migration_1(conn: sqlite3.Connection) -> None:
    """The initial schema."""
    statements = [
        """CREATE TABLE documents (
            seq INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '',
            format TEXT NOT NULL DEFAULT '',
            added_at TEXT NOT NULL
        )""",
        # seq is insertion order, i.e. document order of each text's first appearance.
        """CREATE TABLE paragraphs (
            seq INTEGER PRIMARY KEY,
            paragraph_id TEXT NOT NULL UNIQUE,
            text TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT '',
            overlap_key REAL NOT NULL,
            shuffle_key REAL NOT NULL,
            added_at TEXT NOT NULL
        )""",
        "CREATE INDEX paragraphs_by_shuffle_key ON paragraphs(shuffle_key)",
        """CREATE TABLE positions (
            doc_id TEXT NOT NULL REFERENCES documents(doc_id),
            position INTEGER NOT NULL,
            paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id),
            title TEXT NOT NULL DEFAULT '',
            section TEXT NOT NULL DEFAULT '',
            speaker TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (doc_id, position)
        )""",
        "CREATE INDEX positions_by_paragraph ON positions(paragraph_id)",
        """CREATE TABLE annotations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id),
            annotator TEXT NOT NULL,
            answer TEXT NOT NULL CHECK (answer IN ('accept', 'skip', 'flag')),
            labels TEXT NOT NULL,
            model_version TEXT,
            scores TEXT,
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX annotations_by_paragraph ON annotations(paragraph_id, annotator, id)",
        "CREATE INDEX annotations_by_annotator ON annotations(annotator, paragraph_id)",
        """CREATE TABLE gold (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id),
            labels TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            annotator TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            grp TEXT NOT NULL DEFAULT '',
            doc_id TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL DEFAULT 0,
            lang TEXT NOT NULL DEFAULT '',
            extra TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX gold_by_paragraph ON gold(paragraph_id, id)",
        """CREATE TABLE models (
            version TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            card TEXT NOT NULL DEFAULT '{}',
            active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
            registered_at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX models_one_active ON models(active) WHERE active = 1",
        # A cache, rewritten per model version: no foreign key (100,000 lookups per write);
        # rows of unknown paragraphs are never picked, the pool joins paragraphs.
        """CREATE TABLE scores (
            model_version TEXT NOT NULL,
            paragraph_id TEXT NOT NULL,
            scores TEXT NOT NULL,
            uncertainty REAL NOT NULL,
            PRIMARY KEY (model_version, paragraph_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX scores_by_uncertainty ON scores(model_version, uncertainty)",
        """CREATE TABLE claims (
            paragraph_id TEXT PRIMARY KEY REFERENCES paragraphs(paragraph_id),
            annotator TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""",
        "CREATE INDEX claims_by_annotator ON claims(annotator)",
    ]
    for table in ("annotations", "gold"):
        for action in ("UPDATE", "DELETE"):
            statements.append(
                f"""CREATE TRIGGER {table}_append_only_{action.lower()} BEFORE {action} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} are append-only: add a new row instead'); END"""
            )
    for statement in statements:
        conn.execute(statement)


# Applied in order: the store's `user_version` is the number of migrations it has seen.
def _migration_2(conn: sqlite3.Connection) -> None:
    """The registry's `ACTIVE` file is the one record of the active model: the store's copy goes.
    Paragraphs get their keyword-search form (`text.normalize.search_key`), for SQL pre-filtering."""
    from ..text.normalize import search_key

    conn.execute("DROP INDEX IF EXISTS models_one_active")
    conn.execute("ALTER TABLE models DROP COLUMN active")
    conn.execute("ALTER TABLE paragraphs ADD COLUMN search_key TEXT NOT NULL DEFAULT ''")
    rows = conn.execute("SELECT seq, text FROM paragraphs").fetchall()
    conn.executemany("UPDATE paragraphs SET search_key = ? WHERE seq = ?", [(search_key(t), s) for s, t in rows])


def _migration_3(conn: sqlite3.Connection) -> None:
    """Answers say where they came from (the app, or a file imported with `pmc answers import`);
    documents keep their metadata (source_url, publisher, date, ...) as a JSON object."""
    conn.execute("ALTER TABLE annotations ADD COLUMN source TEXT NOT NULL DEFAULT 'app'")
    conn.execute("ALTER TABLE documents ADD COLUMN meta TEXT NOT NULL DEFAULT '{}'")


def _migration_4(conn: sqlite3.Connection) -> None:
    """A claim carries a token of the rendering the annotator was shown, and is keyed by
    (paragraph, annotator) with one claim per annotator: an answer is saved only with the token
    of the annotator's current claim (`store.answers.record_answer(token=)`). Claims are
    short-lived, so the table is recreated empty."""
    conn.execute("DROP TABLE claims")
    conn.execute(
        """CREATE TABLE claims (
            paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id),
            annotator TEXT NOT NULL UNIQUE,
            token TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            PRIMARY KEY (paragraph_id, annotator)
        )"""
    )


def _migration_5(conn: sqlite3.Connection) -> None:
    """Teams. A queue claim is unique per paragraph (a partial unique index), so one conditional
    INSERT ... ON CONFLICT takes it — no check-then-insert race on any backend; a revision claim
    (Back) does not block the queue; `users` holds who may do what (roles);
    `events` is an append-only log of who retrained, promoted, rolled back and managed users."""
    conn.execute("DROP TABLE claims")
    conn.execute(
        """CREATE TABLE claims (
            paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id),
            annotator TEXT NOT NULL UNIQUE,
            token TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'queue' CHECK (kind IN ('queue', 'revision')),
            PRIMARY KEY (paragraph_id, annotator)
        )"""
    )
    conn.execute("CREATE UNIQUE INDEX claims_one_queue_claim ON claims(paragraph_id) WHERE kind = 'queue'")
    conn.execute(
        """CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('annotator', 'reviewer', 'admin')),
            display_name TEXT NOT NULL DEFAULT '',
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    conn.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        )"""
    )
    for action in ("UPDATE", "DELETE"):
        conn.execute(
            f"""CREATE TRIGGER events_append_only_{action.lower()} BEFORE {action} ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only: add a new row instead'); END"""
        )


_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _migration_1, _migration_2, _migration_3, _migration_4, _migration_5,
]


SCHEMA_VERSION = len(_MIGRATIONS)


def check_is_pmc_store(conn: sqlite3.Connection, path: Path) -> None:
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if application_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has store schema version {version}, but this pmc only knows up to "
                f"{SCHEMA_VERSION}; upgrade pmc (pip install -U policy-measure-classifier)"
            )
        return
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    if application_id != 0 or tables:
        found = f"it has tables {', '.join(tables[:5])}" if tables else "another application's id"
        raise StoreError(
            f"{path} is an SQLite database but not a pmc store ({found}); pass another --db"
        )


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read again inside the write lock: another process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has store schema version {version}, but this pmc only knows up to "
                f"{SCHEMA_VERSION}; upgrade pmc (pip install -U policy-measure-classifier)"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            _MIGRATIONS[number - 1](conn)
            conn.execute(f"PRAGMA user_version = {number}")
        if version == 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

