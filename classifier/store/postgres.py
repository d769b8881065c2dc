"""The PostgreSQL backend: connecting, the SQL dialect's differences, its schema and its roles.

A team store is a PostgreSQL database named by a URL (`postgresql://user:pass@host:port/db`).
Everything PostgreSQL-specific lives here: `PgConnection` gives the store modules the same
`execute()` they use on SQLite (placeholders `?` and `:name` are rewritten to psycopg's `%s` and
`%(name)s`, literal `%` escaped, once per statement text); `create_schema()` is the whole
current schema in PostgreSQL DDL, with append-only triggers that refuse UPDATE, DELETE and
TRUNCATE of answers and gold; `grant_app_role()` gives the role the app connects as only what it
needs (no UPDATE, DELETE or TRUNCATE on answers and gold, not the tables' owner); and
`store_error()` turns psycopg errors into one-line `StoreError`s. psycopg is imported only
when a URL is opened, so the SQLite default never loads it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import StoreError
from ..paths import is_store_url as is_url
from .schema import SCHEMA_VERSION

__all__ = ["is_url", "redact", "connect", "PgConnection", "create_schema", "grant_app_role", "store_error", "init_database", "migrate_postgres",
           "is_retryable", "read_version", "is_url"]

_META = "pmc_store"  # key/value table: application marker and schema version (SQLite's PRAGMAs)


def redact(url: str) -> str:
    """The URL with its password replaced by `***`, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit((parts.scheme, f"{user}:***@{netloc[1]}", parts.path, parts.query, parts.fragment))


def _conninfo(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest


@lru_cache(maxsize=4096)
def _translate(sql: str) -> str:
    """`?` -> `%s`, `:name` -> `%(name)s`, `%` -> `%%`, outside string literals and `::` casts."""
    out: list[str] = []
    for piece in re.split(r"('(?:[^']|'')*')", sql):
        if piece.startswith("'"):
            out.append(piece.replace("%", "%%"))
            continue
        piece = piece.replace("%", "%%")
        piece = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", piece)
        out.append(piece.replace("?", "%s"))
    return "".join(out)


class PgConnection:
    """A psycopg connection in autocommit mode (the store sends its own BEGIN/COMMIT), speaking
    the store's placeholder style. Only what the store modules use: execute, executemany,
    in_transaction, close."""

    dialect = "postgresql"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Any = None) -> Any:
        if params is None:
            return self.raw.execute(sql)
        return self.raw.execute(_translate(sql), params)

    def executemany(self, sql: str, rows: Any) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(_translate(sql), list(rows))  # psycopg pipelines the batch
        return cursor

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def connect(url: str, *, timeout: float) -> PgConnection:
    """Open a connection to the server at `url` (a one-line StoreError when it cannot)."""
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            f"{redact(url)}: the PostgreSQL driver is not installed; pip install 'psycopg[binary]'"
        ) from None
    try:
        raw = psycopg.connect(_conninfo(url), autocommit=True, connect_timeout=max(1, int(timeout)))
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"{redact(url)}: cannot connect ({first}); check the URL, that the server runs and the role's password"
        ) from None
    # A write waiting on another's row lock gives up after `timeout` (then retried or reported).
    raw.execute(f"SET lock_timeout = '{int(timeout * 1000)}ms'")
    raw.execute("SET idle_in_transaction_session_timeout = '10min'")
    return PgConnection(raw)


def is_retryable(exc: BaseException) -> bool:
    """Serialisation failures, deadlocks and lock timeouts: the transaction may simply be rerun."""
    sqlstate = getattr(exc, "sqlstate", None)
    # 23505: two sessions of one annotator claimed at the same instant (claims.annotator is unique).
    return sqlstate in ("40001", "40P01", "55P03", "23505")


def store_error(where: str, exc: BaseException) -> StoreError:
    """A one-line StoreError for a psycopg error, naming the store and the likely fix."""
    sqlstate = getattr(exc, "sqlstate", None) or ""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if sqlstate == "42501":
        return StoreError(
            f"{where}: permission denied ({text}); the role the app connects as may not do this — "
            f"see `pmc db init --app-role`"
        )
    if sqlstate == "P0001" and "append-only" in text:
        return StoreError(f"{where}: {text}")
    if is_retryable(exc):
        return StoreError(f"{where}: the store is busy ({text}); retry in a moment")
    if sqlstate.startswith("08") or "connection" in text.lower() and "closed" in text.lower():
        return StoreError(f"{where}: lost the connection to the server ({text}); check the server and retry")
    if sqlstate == "22021" or "0x00" in text:
        return StoreError(f"{where}: text with a NUL character cannot be stored ({text}); remove it from the input")
    return StoreError(f"{where}: store error ({text})")


def read_version(conn: PgConnection) -> int | None:
    """The schema version of a pmc store, 0 for an empty database, None for another application's."""
    has_meta = conn.execute("SELECT to_regclass('pmc_store') IS NOT NULL").fetchone()[0]
    if has_meta:
        row = conn.execute("SELECT value FROM pmc_store WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0
    others = conn.execute(
        "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
    ).fetchone()[0]
    return 0 if others == 0 else None


def create_schema(conn: PgConnection, version: int) -> None:
    """Create the whole current schema (store version `version`) in an empty database."""
    identity = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    statements = [
        f"CREATE TABLE {_META} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE documents (
            seq {identity}, doc_id TEXT NOT NULL UNIQUE, title TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT '', format TEXT NOT NULL DEFAULT '', added_at TEXT NOT NULL,
            meta TEXT NOT NULL DEFAULT '{{}}')""",
        f"""CREATE TABLE paragraphs (
            seq {identity}, paragraph_id TEXT NOT NULL UNIQUE, text TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT '', overlap_key DOUBLE PRECISION NOT NULL,
            shuffle_key DOUBLE PRECISION NOT NULL, added_at TEXT NOT NULL, search_key TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX paragraphs_by_shuffle_key ON paragraphs(shuffle_key)",
        # `rowid`: insertion order, as SQLite's implicit rowid (a paragraph's first position).
        """CREATE TABLE positions (
            rowid BIGINT GENERATED BY DEFAULT AS IDENTITY UNIQUE,
            doc_id TEXT NOT NULL REFERENCES documents(doc_id), position INTEGER NOT NULL,
            paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id), title TEXT NOT NULL DEFAULT '',
            section TEXT NOT NULL DEFAULT '', speaker TEXT NOT NULL DEFAULT '', PRIMARY KEY (doc_id, position))""",
        "CREATE INDEX positions_by_paragraph ON positions(paragraph_id, rowid)",
        f"""CREATE TABLE annotations (
            id {identity}, paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id),
            annotator TEXT NOT NULL, answer TEXT NOT NULL CHECK (answer IN ('accept', 'skip', 'flag')),
            labels TEXT NOT NULL, model_version TEXT, scores TEXT, note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL, source TEXT NOT NULL DEFAULT 'app')""",
        "CREATE INDEX annotations_by_paragraph ON annotations(paragraph_id, annotator, id)",
        "CREATE INDEX annotations_by_annotator ON annotations(annotator, paragraph_id)",
        f"""CREATE TABLE gold (
            id {identity}, paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id),
            labels TEXT NOT NULL, reviewer TEXT NOT NULL, annotator TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', grp TEXT NOT NULL DEFAULT '',
            doc_id TEXT NOT NULL DEFAULT '', position INTEGER NOT NULL DEFAULT 0, lang TEXT NOT NULL DEFAULT '',
            extra TEXT NOT NULL DEFAULT '{{}}', created_at TEXT NOT NULL)""",
        "CREATE INDEX gold_by_paragraph ON gold(paragraph_id, id)",
        """CREATE TABLE models (
            version TEXT PRIMARY KEY, path TEXT NOT NULL, card TEXT NOT NULL DEFAULT '{}',
            registered_at TEXT NOT NULL)""",
        """CREATE TABLE scores (
            model_version TEXT NOT NULL, paragraph_id TEXT NOT NULL, scores TEXT NOT NULL,
            uncertainty DOUBLE PRECISION NOT NULL, PRIMARY KEY (model_version, paragraph_id))""",
        "CREATE INDEX scores_by_uncertainty ON scores(model_version, uncertainty)",
        """CREATE TABLE claims (
            paragraph_id TEXT NOT NULL REFERENCES paragraphs(paragraph_id),
            annotator TEXT NOT NULL UNIQUE, token TEXT NOT NULL, expires_at TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'queue' CHECK (kind IN ('queue', 'revision')),
            PRIMARY KEY (paragraph_id, annotator))""",
        "CREATE UNIQUE INDEX claims_one_queue_claim ON claims(paragraph_id) WHERE kind = 'queue'",
        """CREATE TABLE users (
            name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK (role IN ('annotator', 'reviewer', 'admin')),
            display_name TEXT NOT NULL DEFAULT '', disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        f"""CREATE TABLE events (
            id {identity}, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{{}}', created_at TEXT NOT NULL)""",
        # SQLite's instr(), used by the pool's keyword pre-filter.
        "CREATE FUNCTION instr(text, text) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT strpos($1, $2)'",
        """CREATE FUNCTION pmc_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% are append-only: add a new row instead', TG_TABLE_NAME; END $$""",
    ]
    for table in ("annotations", "gold", "events"):
        statements += [
            f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION pmc_append_only()""",
            # TRUNCATE fires no row trigger: it needs its own statement trigger.
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION pmc_append_only()""",
        ]
    for statement in statements:
        conn.execute(statement)
    conn.raw.execute(f"INSERT INTO {_META} (key, value) VALUES ('application', 'pmc'), ('schema_version', %s)",
                     (str(version),))


def set_version(conn: PgConnection, version: int) -> None:
    conn.raw.execute(f"UPDATE {_META} SET value = %s WHERE key = 'schema_version'", (str(version),))


_APPEND_ONLY = ("annotations", "gold", "events")
_READ_WRITE = ("documents", "paragraphs", "positions", "models", "scores", "claims", "users")


def grant_app_role(conn: PgConnection, role: str) -> list[str]:
    """Let `role` use the store with no UPDATE, DELETE or TRUNCATE on answers, gold and events.

    Run as the tables' owner. Returns the statements run (for the CLI to show).
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", role):
        raise StoreError(f"role name {role!r} is not a plain SQL identifier; use letters, digits and _")
    statements = [
        f"REVOKE ALL ON {', '.join(_APPEND_ONLY + _READ_WRITE + (_META,))} FROM {role}",
        f"GRANT USAGE ON SCHEMA {_current_schema(conn)} TO {role}",
        f"GRANT SELECT, INSERT ON {', '.join(_APPEND_ONLY)} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(_READ_WRITE)} TO {role}",
        f"GRANT SELECT ON {_META} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {_current_schema(conn)} TO {role}",
    ]
    for statement in statements:
        conn.execute(statement)
    return statements


def _current_schema(conn: PgConnection) -> str:
    return conn.execute("SELECT current_schema()").fetchone()[0]


def init_database(url: str, *, owner: str | None = None, app_role: str | None = None,
                  timeout: float = 30.0) -> dict[str, Any]:
    """Create (or upgrade) the schema of a team store and give the app's role its grants.

    Connect as the tables' owner, or as a superuser with `owner` (the tables are then created
    under `SET ROLE owner`). With `app_role`, that role gets SELECT and INSERT on answers, gold
    and events and nothing else on them. Returns `{"store", "owner", "app_role", "version", "grants"}`.
    """
    name = redact(url)
    conn = connect(url, timeout=timeout)
    try:
        for role in (owner, app_role):
            if role is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", role):
                raise StoreError(f"role name {role!r} is not a plain SQL identifier; use letters, digits and _")
        if owner:
            conn.execute(f"SET ROLE {owner}")
        if read_version(conn) is None:
            raise StoreError(f"{name} is a PostgreSQL database but not a pmc store (it has other tables)")
        migrate_postgres(conn, name)
        grants = grant_app_role(conn, app_role) if app_role else []
        who = conn.execute("SELECT current_user").fetchone()[0]
        if app_role and app_role == who:
            raise StoreError(f"the app role {app_role} owns the tables; create the schema as another role "
                             f"(--owner) so the app cannot alter or truncate them")
    except StoreError:
        conn.close()
        raise
    except Exception as exc:
        conn.close()
        if type(exc).__module__.startswith("psycopg"):
            raise store_error(name, exc) from None
        raise
    conn.close()
    return {"store": name, "owner": who, "app_role": app_role, "version": SCHEMA_VERSION, "grants": grants}


# PostgreSQL stores begin at version 5 (the schema as `create_schema` writes it); a migration
# added after 5 goes here as {version: function(conn)} beside its SQLite twin in `_MIGRATIONS`.
_PG_FIRST_VERSION = 5
_PG_MIGRATIONS: dict[int, Callable[[object], None]] = {}
_PG_LOCK = 0x504D4331  # advisory lock id: one process migrates at a time


def migrate_postgres(conn: object, name: str) -> None:
    """Create or upgrade the schema of a PostgreSQL store (inside one transaction)."""
    version = read_version(conn)  # type: ignore[arg-type]
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN")  # type: ignore[attr-defined]
    try:
        conn.execute(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")  # type: ignore[attr-defined]
        version = read_version(conn)  # type: ignore[arg-type]
        if version is None:
            raise StoreError(f"{name} is a PostgreSQL database but not a pmc store; pass another database")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{name} has store schema version {version}, but this pmc only knows up to "
                f"{SCHEMA_VERSION}; upgrade pmc (pip install -U policy-measure-classifier)"
            )
        if version == 0:
            create_schema(conn, _PG_FIRST_VERSION)  # type: ignore[arg-type]
            version = _PG_FIRST_VERSION
        for number in range(version + 1, SCHEMA_VERSION + 1):
            _PG_MIGRATIONS[number](conn)
            set_version(conn, number)  # type: ignore[arg-type]
        conn.execute("COMMIT")  # type: ignore[attr-defined]
    except BaseException:
        conn.execute("ROLLBACK")  # type: ignore[attr-defined]
        raise
