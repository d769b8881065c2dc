"""The annotation store: the one module that owns SQLite.

One file (`--db`, else `PMC_DB`, else `data/pmc.sqlite`) holds the documents and their
paragraphs (content-hash ids, so the same text is stored once however many documents contain
it), every annotator answer, every gold adjudication, the registered model versions, cached model
scores and the short-lived claims that keep two annotators off the same paragraph. Answers and
gold decisions are append-only (triggers refuse UPDATE and DELETE); the current label of a
paragraph is derived from them, never stored:

* the latest gold adjudication, if there is one, is the label (status `gold`);
* otherwise every annotator's latest answer counts once. Only `accept` answers carry labels; a
  label is in the current set when a strict majority of those annotators chose it. A label chosen
  by exactly half of them is unresolved: status `disputed` (it appears in `disputed_labels`, not
  in `labels`). With one annotator, or a majority on every label, the status is `labelled`;
* if some annotator's latest answer is `flag` (newer than the latest gold, if any), the status is
  `flagged` whatever else holds — the paragraph waits for a reviewer; labels are as above;
* no gold and no `accept` answer: `unlabelled`.

Writes are short transactions, one per answer, opened with `BEGIN IMMEDIATE` so several
processes can write at once (WAL journal, `busy_timeout`) and a killed process loses nothing
it saved. A `Store` can be shared between threads (Streamlit's `cache_resource`): calls are
serialised by a lock. The schema is versioned with `PRAGMA user_version` and migrated in order by
the functions in `_MIGRATIONS`. Functions return plain data and raise `StoreError` (or
`LabelDataError` for labels and records) with a one-line message saying what, where and how to fix.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .errors import LabelDataError, StoreError
from .labelled_data import SOURCES, LabelledParagraph
from .language import detect_language
from .paragraph import Paragraph, paragraph_id
from .paths import default_db_path
from .reader import Document
from .taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "ANSWERS",
    "STATUSES",
    "SCHEMA_VERSION",
    "DEFAULT_CLAIM_SECONDS",
    "Store",
    "Answer",
    "GoldDecision",
    "CurrentLabel",
    "Pool",
    "open_store",
    "is_empty",
    "document_rows",
    "document_window",
    "list_documents",
    "unscored_paragraphs",
    "data_version",
    "ingest_document",
    "ingest_paragraphs",
    "get_paragraph",
    "get_paragraphs",
    "positions_of",
    "record_answer",
    "last_answer",
    "answers_by",
    "annotations_for",
    "history",
    "latest_answers",
    "set_gold",
    "latest_gold",
    "import_gold",
    "export_gold",
    "gold_rows",
    "current_labels",
    "progress",
    "register_model",
    "set_active_model",
    "active_model",
    "list_model_versions",
    "write_scores",
    "read_scores",
    "clear_scores",
    "pool_count",
    "pool_ids",
    "pool_filter",
    "claim_paragraph",
    "release_claims",
    "active_claims",
    "answer_count",
]

ANSWERS = ("accept", "skip", "flag")
STATUSES = ("unlabelled", "labelled", "disputed", "gold", "flagged")
DEFAULT_CLAIM_SECONDS = 600.0
_APPLICATION_ID = 0x504D4331  # "PMC1" in the SQLite header: marks a file as a pmc store
_CHUNK = 500  # ids per `IN (...)` query


# --------------------------------------------------------------------------------------------
# Schema and migrations


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
_MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migration_1]
SCHEMA_VERSION = len(_MIGRATIONS)


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class Answer:
    """One annotator answer, as stored (labels in codebook order)."""

    id: int
    paragraph_id: str
    annotator: str
    answer: str
    labels: tuple[str, ...]
    model_version: str | None
    scores: dict[str, Any] | None
    note: str
    created_at: str


@dataclass(frozen=True)
class GoldDecision:
    """One gold adjudication; `doc`, `index`, `lang`, `group`, `extra` keep the gold-file record."""

    id: int
    paragraph_id: str
    labels: tuple[str, ...]
    reviewer: str
    annotator: str
    source: str
    note: str
    group: str
    doc: str
    index: int
    lang: str
    extra: dict[str, Any]
    created_at: str


@dataclass(frozen=True)
class CurrentLabel:
    """The derived label of a paragraph (see the module docstring for the rule)."""

    paragraph_id: str
    labels: tuple[str, ...]
    status: str
    n_annotators: int
    disputed_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pool:
    """Which paragraphs an annotator may be given next.

    A paragraph is in the pool when the annotator has not answered it, it has no gold (unless
    `include_gold`), no other annotator holds an unexpired claim on it, and it is not taken:
    other annotators' non-skip answers count, and a paragraph is taken after one of them —
    or after `overlap_annotators` of them when it is among the `overlap` share chosen for
    double annotation (a stable hash of its id, so the same paragraphs are always chosen).
    """

    annotator: str
    overlap: float = 0.0
    overlap_annotators: int = 2
    include_gold: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotator", _check_name(self.annotator, what="annotator"))
        if not 0.0 <= self.overlap <= 1.0:
            raise StoreError(f"overlap is {self.overlap!r}; give a share between 0 and 1")
        if self.overlap_annotators < 1:
            raise StoreError(
                f"overlap_annotators is {self.overlap_annotators!r}; give 2 or more (1 turns overlap off)"
            )


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


# --------------------------------------------------------------------------------------------
# Opening, transactions, errors


def open_store(
    path: str | Path | None = None, *, taxonomy: Taxonomy | None = None, timeout: float = 30.0
) -> Store:
    """Open (creating and migrating as needed) the store at `path`, default `default_db_path()`.

    `timeout` is how long a write waits for another process's write to finish (busy_timeout).
    """
    path = Path(path) if path is not None else default_db_path()
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
        _check_is_pmc_store(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: an answer that was acknowledged survives a crash of the machine, not only of pmc.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn, path)
    except sqlite3.Error as exc:
        conn.close()
        raise _sqlite_error(path, exc) from None
    except BaseException:
        conn.close()
        raise
    return Store(path, conn, taxonomy or load_taxonomy())


def _check_is_pmc_store(conn: sqlite3.Connection, path: Path) -> None:
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if application_id == _APPLICATION_ID:
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


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
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
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


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
            conn.execute("ROLLBACK")
            raise _sqlite_error(store.path, exc) from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
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


# --------------------------------------------------------------------------------------------
# Small helpers


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _in(seconds: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def _hash_keys(pid: str) -> tuple[float, float]:
    """Two stable, independent numbers in [0, 1) per paragraph, from SHA-256 of its id.

    The first decides whether the paragraph is in the overlap share; the second is its place
    in the fixed shuffled order the random strategy walks.
    """
    digest = hashlib.sha256(pid.encode("utf-8")).digest()
    return (
        int.from_bytes(digest[:8], "big") / 2.0**64,
        int.from_bytes(digest[8:16], "big") / 2.0**64,
    )


def _check_name(value: Any, *, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LabelDataError(f"{what} is {value!r}; give a non-empty name (who is answering)")
    return value.strip()


def _labels(store: Store, labels: Any, *, where: str) -> tuple[str, ...]:
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise LabelDataError(
            f"{where}: labels must be a list of label ids, found {labels!r}; use [] for none of them"
        )
    unknown = [x for x in labels if x not in store.taxonomy.label_ids]
    if unknown:
        raise LabelDataError(
            f"{where}: unknown label {unknown[0]!r}; expected one of "
            f"{', '.join(store.taxonomy.label_ids)}"
        )
    return tuple(x for x in store.taxonomy.label_ids if x in labels)


def _ordered(store: Store, labels: Iterable[str]) -> tuple[str, ...]:
    """Codebook order; labels the codebook no longer has (renamed since) go last, sorted."""
    labels = set(labels)
    known = [x for x in store.taxonomy.label_ids if x in labels]
    return tuple(known + sorted(labels - set(known)))


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


def _answer(row: sqlite3.Row | tuple) -> Answer:
    return Answer(
        id=row[0],
        paragraph_id=row[1],
        annotator=row[2],
        answer=row[3],
        labels=tuple(json.loads(row[4])),
        model_version=row[5],
        scores=json.loads(row[6]) if row[6] is not None else None,
        note=row[7],
        created_at=row[8],
    )


_ANSWER_COLUMNS = "id, paragraph_id, annotator, answer, labels, model_version, scores, note, created_at"
_GOLD_COLUMNS = (
    "id, paragraph_id, labels, reviewer, annotator, source, note, grp, doc_id, position, lang, "
    "extra, created_at"
)
_GOLD_INSERT = (
    "INSERT INTO gold (paragraph_id, labels, reviewer, annotator, source, note, grp, doc_id, "
    "position, lang, extra, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _gold(row: sqlite3.Row | tuple) -> GoldDecision:
    return GoldDecision(
        id=row[0],
        paragraph_id=row[1],
        labels=tuple(json.loads(row[2])),
        reviewer=row[3],
        annotator=row[4],
        source=row[5],
        note=row[6],
        group=row[7],
        doc=row[8],
        index=row[9],
        lang=row[10],
        extra=json.loads(row[11]),
        created_at=row[12],
    )


def _require_paragraph(conn: sqlite3.Connection, store: Store, pid: str) -> None:
    if conn.execute("SELECT 1 FROM paragraphs WHERE paragraph_id = ?", (pid,)).fetchone() is None:
        raise StoreError(
            f"{store.path}: unknown paragraph id {pid!r}; ingest its document first"
        )


# --------------------------------------------------------------------------------------------
# Documents and paragraphs


def ingest_document(store: Store, document: Document) -> dict[str, Any]:
    """Segment a document and store it; re-ingesting replaces its positions, never its answers.

    Returns `{"doc", "paragraphs", "new", "existing"}`: positions stored, texts stored for the
    first time, and positions whose text was already in the store (from any document).
    """
    from .segmenter import segment

    paragraphs = segment(document)
    with _write(store) as conn:
        _upsert_document(
            conn, document.id, title=document.title, source=document.source, fmt=document.format
        )
        conn.execute("DELETE FROM positions WHERE doc_id = ?", (document.id,))
        new = _insert_paragraphs(conn, store, paragraphs, doc_id=document.id, title=None)
    return {"doc": document.id, "paragraphs": len(paragraphs), "new": new, "existing": len(paragraphs) - new}


def ingest_paragraphs(
    store: Store,
    paragraphs: Iterable[Paragraph],
    *,
    doc_id: str | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Store paragraphs (e.g. from a JSONL file) under their own `doc`/`index`, or under `doc_id`.

    A position (document, index) already stored is overwritten; texts are never duplicated.
    Returns `{"documents", "paragraphs", "new", "existing"}`.
    """
    paragraphs = list(paragraphs)
    docs: dict[str, str] = {}
    for p in paragraphs:
        docs.setdefault(doc_id or p.doc, title if title is not None else p.title)
    with _write(store) as conn:
        for doc, doc_title in docs.items():
            _upsert_document(conn, doc, title=doc_title, source="", fmt="")
        new = _insert_paragraphs(conn, store, paragraphs, doc_id=doc_id, title=title)
    return {"documents": len(docs), "paragraphs": len(paragraphs), "new": new, "existing": len(paragraphs) - new}


def _upsert_document(conn: sqlite3.Connection, doc_id: str, *, title: str, source: str, fmt: str) -> None:
    if not doc_id:
        raise StoreError("a paragraph has an empty document id; give every paragraph its `doc`")
    conn.execute(
        """INSERT INTO documents (doc_id, title, source, format, added_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (doc_id) DO UPDATE SET
            title = CASE WHEN excluded.title != '' THEN excluded.title ELSE title END,
            source = CASE WHEN excluded.source != '' THEN excluded.source ELSE source END,
            format = CASE WHEN excluded.format != '' THEN excluded.format ELSE format END""",
        (doc_id, title or "", source or "", fmt or "", _now()),
    )


def _insert_paragraph(conn: sqlite3.Connection, pid: str, text: str, lang: str, now: str) -> bool:
    cursor = conn.execute(
        "INSERT OR IGNORE INTO paragraphs (paragraph_id, text, lang, overlap_key, shuffle_key, added_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (pid, text, lang, *_hash_keys(pid), now),
    )
    return cursor.rowcount == 1


def _insert_paragraphs(
    conn: sqlite3.Connection,
    store: Store,
    paragraphs: Sequence[Paragraph],
    *,
    doc_id: str | None,
    title: str | None,
) -> int:
    now = _now()
    new = 0
    for p in paragraphs:
        doc = doc_id or p.doc
        if not p.text.strip():
            raise StoreError(f"paragraph {doc}:{p.index} has empty text; drop it before storing")
        expected = paragraph_id(p.text)
        if p.id != expected:
            raise StoreError(
                f"paragraph {doc}:{p.index} has id {p.id!r} but its text hashes to {expected!r}; "
                f"ids must come from classifier.paragraph.paragraph_id (re-run the segmenter)"
            )
        new += _insert_paragraph(conn, p.id, p.text, p.lang or detect_language(p.text), now)
        conn.execute(
            """INSERT INTO positions (doc_id, position, paragraph_id, title, section, speaker)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (doc_id, position) DO UPDATE SET paragraph_id = excluded.paragraph_id,
                title = excluded.title, section = excluded.section, speaker = excluded.speaker""",
            (doc, p.index, p.id, title if title is not None else p.title, p.section, p.speaker),
        )
    return new


# A paragraph at its first position; `seq` (last) is its place in document order.
_FIRST_POSITION = """
    SELECT p.paragraph_id, p.text, p.lang, pos.doc_id, pos.position, pos.title, pos.section,
        pos.speaker, p.seq
    FROM paragraphs p LEFT JOIN positions pos ON pos.rowid = (
        SELECT MIN(rowid) FROM positions WHERE paragraph_id = p.paragraph_id)
"""


def _paragraph(row: tuple) -> Paragraph:
    return Paragraph(
        id=row[0], doc=row[3] or "", index=row[4] or 0, text=row[1], lang=row[2],
        title=row[5] or "", section=row[6] or "", speaker=row[7] or "",
    )


def get_paragraph(store: Store, paragraph_id: str) -> Paragraph:
    """A stored paragraph at its first position (the document it was first stored from)."""
    found = get_paragraphs(store, [paragraph_id])
    if paragraph_id not in found:
        raise StoreError(f"{store.path}: unknown paragraph id {paragraph_id!r}; ingest its document first")
    return found[paragraph_id]


def get_paragraphs(store: Store, paragraph_ids: Iterable[str] | None = None) -> dict[str, Paragraph]:
    """Stored paragraphs by id (all of them, in document order, when `paragraph_ids` is None)."""
    with _read(store) as conn:
        if paragraph_ids is None:
            rows = conn.execute(_FIRST_POSITION + " ORDER BY p.seq").fetchall()
        else:
            ids = list(dict.fromkeys(paragraph_ids))
            rows = []
            for chunk in _chunks(ids):
                rows += conn.execute(
                    _FIRST_POSITION + f" WHERE p.paragraph_id IN ({_marks(len(chunk))})", chunk
                ).fetchall()
    return {row[0]: _paragraph(row) for row in rows}


def positions_of(store: Store, paragraph_id: str) -> list[Paragraph]:
    """Every place a paragraph's text occurs: one `Paragraph` per (document, position)."""
    with _read(store) as conn:
        rows = conn.execute(
            """SELECT p.paragraph_id, p.text, p.lang, pos.doc_id, pos.position, pos.title,
                pos.section, pos.speaker
            FROM positions pos JOIN paragraphs p ON p.paragraph_id = pos.paragraph_id
            WHERE pos.paragraph_id = ? ORDER BY pos.rowid""",
            (paragraph_id,),
        ).fetchall()
    return [_paragraph(row) for row in rows]


# --------------------------------------------------------------------------------------------
# Answers


def record_answer(
    store: Store,
    paragraph_id: str,
    *,
    annotator: str,
    answer: str,
    labels: Sequence[str],
    model_version: str | None = None,
    scores: Mapping[str, Any] | None = None,
    note: str = "",
) -> int:
    """Append one answer (committed before returning) and release the annotator's claim on it.

    `answer` is `accept` (the labels, [] meaning none of them), `skip` or `flag`; labels given
    with a skip or flag are kept but do not count. `model_version` and `scores` record the
    suggestion that was shown. Returns the new row id. Answering again appends a new row (the
    Back button): the latest answer of each annotator is the one that counts.
    """
    annotator = _check_name(annotator, what="annotator")
    if answer not in ANSWERS:
        raise LabelDataError(
            f"answer kind is {answer!r}; expected one of {', '.join(ANSWERS)}"
        )
    checked = _labels(store, labels, where=f"answer by {annotator!r} on paragraph {paragraph_id}")
    scores_json = _json(dict(scores)) if scores is not None else None
    with _write(store) as conn:
        _require_paragraph(conn, store, paragraph_id)
        cursor = conn.execute(
            """INSERT INTO annotations
                (paragraph_id, annotator, answer, labels, model_version, scores, note, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (paragraph_id, annotator, answer, _json(list(checked)), model_version, scores_json,
             note or "", _now()),
        )
        conn.execute(
            "DELETE FROM claims WHERE paragraph_id = ? AND annotator = ?", (paragraph_id, annotator)
        )
    return int(cursor.lastrowid)


def answers_by(store: Store, annotator: str, *, limit: int | None = None) -> list[Answer]:
    """The annotator's latest answer per paragraph, most recent first (the Back trail)."""
    with _read(store) as conn:
        rows = conn.execute(
            f"""SELECT {_ANSWER_COLUMNS} FROM annotations WHERE id IN (
                SELECT MAX(id) FROM annotations WHERE annotator = ? GROUP BY paragraph_id)
            ORDER BY id DESC LIMIT ?""",
            (annotator, -1 if limit is None else limit),
        ).fetchall()
    return [_answer(row) for row in rows]


def last_answer(store: Store, annotator: str) -> Answer | None:
    """The annotator's most recent answer, to go Back and change it (None before the first)."""
    with _read(store) as conn:
        row = conn.execute(
            f"SELECT {_ANSWER_COLUMNS} FROM annotations WHERE annotator = ? ORDER BY id DESC LIMIT 1",
            (annotator,),
        ).fetchone()
    return _answer(row) if row else None


def annotations_for(store: Store, paragraph_id: str) -> list[Answer]:
    """Every answer ever given on a paragraph, oldest first."""
    with _read(store) as conn:
        rows = conn.execute(
            f"SELECT {_ANSWER_COLUMNS} FROM annotations WHERE paragraph_id = ? ORDER BY id",
            (paragraph_id,),
        ).fetchall()
    return [_answer(row) for row in rows]


def history(store: Store, paragraph_id: str) -> list[Answer | GoldDecision]:
    """Answers and gold decisions on a paragraph in the order they were made."""
    with _read(store) as conn:
        answers = [
            _answer(row)
            for row in conn.execute(
                f"SELECT {_ANSWER_COLUMNS} FROM annotations WHERE paragraph_id = ? ORDER BY id",
                (paragraph_id,),
            )
        ]
        golds = [
            _gold(row)
            for row in conn.execute(
                f"SELECT {_GOLD_COLUMNS} FROM gold WHERE paragraph_id = ? ORDER BY id", (paragraph_id,)
            )
        ]
    events: list[Answer | GoldDecision] = [*answers, *golds]
    # Stable sort: same-time events keep answers before the gold that settled them.
    return sorted(events, key=lambda e: e.created_at)


def latest_answers(
    store: Store, paragraph_ids: Iterable[str] | None = None
) -> dict[str, dict[str, Answer]]:
    """Each annotator's latest answer per paragraph: `{paragraph_id: {annotator: Answer}}`."""
    with _read(store) as conn:
        return _latest_answers(conn, None if paragraph_ids is None else list(paragraph_ids))


def _latest_answers(conn: sqlite3.Connection, ids: list[str] | None) -> dict[str, dict[str, Answer]]:
    query = f"""SELECT {_ANSWER_COLUMNS} FROM annotations WHERE id IN (
        SELECT MAX(id) FROM annotations {{where}} GROUP BY paragraph_id, annotator) ORDER BY id"""
    rows = _select_for_ids(conn, query, ids)
    out: dict[str, dict[str, Answer]] = defaultdict(dict)
    for row in rows:
        answer = _answer(row)
        out[answer.paragraph_id][answer.annotator] = answer
    return dict(out)


# --------------------------------------------------------------------------------------------
# Gold


def set_gold(
    store: Store,
    paragraph_id: str,
    *,
    labels: Sequence[str],
    reviewer: str,
    note: str = "",
    source: str = "annotation",
    annotator: str | None = None,
) -> int:
    """Append a gold adjudication for a paragraph; it becomes the paragraph's current label.

    `source` is one of `labelled_data.SOURCES` (the gold file's vocabulary; `annotation` for a
    decision taken in the app). `annotator` is whose answer it was (default: the reviewer).
    Group, document position, language and extra fields carry over from the previous gold
    record of the paragraph, so a review never drops what an import brought.
    """
    reviewer = _check_name(reviewer, what="reviewer")
    checked = _labels(store, labels, where=f"gold by {reviewer!r} on paragraph {paragraph_id}")
    _check_source(source, where=f"gold by {reviewer!r} on paragraph {paragraph_id}")
    with _write(store) as conn:
        _require_paragraph(conn, store, paragraph_id)
        previous = conn.execute(
            f"SELECT {_GOLD_COLUMNS} FROM gold WHERE paragraph_id = ? ORDER BY id DESC LIMIT 1",
            (paragraph_id,),
        ).fetchone()
        if previous is not None:
            before = _gold(previous)
            doc, index, lang, group, extra = before.doc, before.index, before.lang, before.group, before.extra
        else:
            first = conn.execute(_FIRST_POSITION + " WHERE p.paragraph_id = ?", (paragraph_id,)).fetchone()
            doc, index, lang, group, extra = first[3] or "", first[4] or 0, first[2], "", {}
        cursor = conn.execute(
            _GOLD_INSERT,
            (paragraph_id, _json(list(checked)), reviewer, annotator if annotator is not None else reviewer,
             source, note or "", group, doc, index, lang, _json(extra), _now()),
        )
    return int(cursor.lastrowid)


def _check_source(source: str, *, where: str) -> None:
    if source not in SOURCES:
        raise LabelDataError(f"{where}: source is {source!r}; expected one of {', '.join(SOURCES)}")


def latest_gold(store: Store, paragraph_ids: Iterable[str] | None = None) -> dict[str, GoldDecision]:
    """The latest gold decision per paragraph that has one."""
    with _read(store) as conn:
        return _latest_gold(conn, None if paragraph_ids is None else list(paragraph_ids))


def _latest_gold(conn: sqlite3.Connection, ids: list[str] | None) -> dict[str, GoldDecision]:
    query = f"""SELECT {_GOLD_COLUMNS} FROM gold WHERE id IN (
        SELECT MAX(id) FROM gold {{where}} GROUP BY paragraph_id)"""
    return {row[1]: _gold(row) for row in _select_for_ids(conn, query, ids)}


def _select_for_ids(conn: sqlite3.Connection, query: str, ids: list[str] | None) -> list[tuple]:
    """Run `query` (with a `{where}` slot) for every paragraph, or for `ids` in chunks."""
    if ids is None:
        return conn.execute(query.format(where="")).fetchall()
    rows: list[tuple] = []
    for chunk in _chunks(ids):
        rows += conn.execute(query.format(where=f"WHERE paragraph_id IN ({_marks(len(chunk))})"), chunk).fetchall()
    return rows


def _gold_identity(
    labels: Sequence[str], annotator: str, source: str, note: str, group: str, doc: str,
    index: int, lang: str, extra: Mapping[str, Any],
) -> tuple:
    return (tuple(labels), annotator, source, note, group, doc, index, lang, dict(extra))


def import_gold(
    store: Store, rows: Iterable[LabelledParagraph], *, reviewer: str = "import"
) -> dict[str, int]:
    """Add gold records (e.g. `load_labelled("labels/gold.jsonl")`) in one transaction.

    Paragraphs, documents and positions missing from the store are created. A record identical
    to the paragraph's current gold (labels, annotator, source, note, group, doc, index, lang,
    extra) adds nothing, so importing the same file twice is a no-op. Returns
    `{"rows", "added", "unchanged", "new_paragraphs"}`.
    """
    reviewer = _check_name(reviewer, what="reviewer")
    rows = list(rows)
    checked: list[tuple[LabelledParagraph, tuple[str, ...]]] = []
    for number, row in enumerate(rows, start=1):
        where = f"gold record {number} ({row.doc}:{row.index}, id {row.id})"
        labels = _labels(store, list(row.labels), where=where)
        _check_source(row.source, where=where)
        if not row.text.strip():
            raise LabelDataError(f"{where}: empty text; every gold record needs its paragraph text")
        if row.id != paragraph_id(row.text):
            raise LabelDataError(
                f"{where}: id is not the hash of its text ({paragraph_id(row.text)!r}); the text "
                f"was edited — run `pmc labels check` and fix the record"
            )
        checked.append((row, labels))
    added = unchanged = new_paragraphs = 0
    with _write(store) as conn:
        current = {
            pid: _gold_identity(g.labels, g.annotator, g.source, g.note, g.group, g.doc, g.index, g.lang, g.extra)
            for pid, g in _latest_gold(conn, [row.id for row, _ in checked]).items()
        }
        now = _now()
        for row, labels in checked:
            new_paragraphs += _insert_paragraph(conn, row.id, row.text, row.lang or detect_language(row.text), now)
            if row.doc:
                title = row.extra.get("title") if isinstance(row.extra.get("title"), str) else ""
                conn.execute(
                    "INSERT OR IGNORE INTO documents (doc_id, title, source, format, added_at) "
                    "VALUES (?, ?, '', '', ?)",
                    (row.doc, title, now),
                )
                conn.execute(
                    "INSERT OR IGNORE INTO positions (doc_id, position, paragraph_id, title) VALUES (?, ?, ?, ?)",
                    (row.doc, row.index, row.id, title),
                )
            identity = _gold_identity(
                labels, row.annotator, row.source, row.note, row.group, row.doc, row.index, row.lang, row.extra
            )
            if current.get(row.id) == identity:
                unchanged += 1
                continue
            conn.execute(
                _GOLD_INSERT,
                (row.id, _json(list(labels)), reviewer, row.annotator, row.source, row.note,
                 row.group, row.doc, row.index, row.lang, _json(row.extra), now),
            )
            current[row.id] = identity
            added += 1
    return {"rows": len(rows), "added": added, "unchanged": unchanged, "new_paragraphs": new_paragraphs}


def export_gold(store: Store, *, include_labelled: bool = False) -> list[LabelledParagraph]:
    """The current gold of every adjudicated paragraph, as gold-file records.

    Ordered by when each paragraph first got gold (so an imported file comes back in its own
    order); `import_gold(export_gold(s))` into a fresh store reproduces the same records. With
    `include_labelled`, paragraphs whose derived status is `labelled` follow (see `gold_rows`).
    """
    with _read(store) as conn:
        rows = conn.execute(
            f"""WITH span AS (
                SELECT paragraph_id, MIN(id) AS first, MAX(id) AS last FROM gold GROUP BY paragraph_id)
            SELECT {', '.join('g.' + c for c in _GOLD_COLUMNS.split(', '))}, p.text
            FROM span JOIN gold g ON g.id = span.last
            JOIN paragraphs p ON p.paragraph_id = g.paragraph_id
            ORDER BY span.first"""
        ).fetchall()
        out = [_gold_record(_gold(row[:13]), text=row[13]) for row in rows]
        if include_labelled:
            out += _labelled_rows(store, conn)
    return out


def _gold_record(g: GoldDecision, *, text: str) -> LabelledParagraph:
    return LabelledParagraph(
        id=g.paragraph_id, doc=g.doc, index=g.index, lang=g.lang, text=text, labels=g.labels,
        annotator=g.annotator, source=g.source, note=g.note, group=g.group, extra=g.extra,
    )


def gold_rows(store: Store) -> list[LabelledParagraph]:
    """The current training data: adjudicated gold plus annotator labels nobody disputes.

    Every paragraph with a gold decision contributes its latest one (even when flagged again
    later: it stands until re-adjudicated). Every other paragraph whose derived status is
    `labelled` contributes its majority labels with `source="annotation"` and `annotator` the
    sorted, comma-joined names of the annotators whose accepts counted. `disputed`, `flagged`
    and `unlabelled` paragraphs are left out.
    """
    return export_gold(store, include_labelled=True)


def _labelled_rows(store: Store, conn: sqlite3.Connection) -> list[LabelledParagraph]:
    latest = _latest_answers(conn, None)
    gold = {r[0] for r in conn.execute("SELECT DISTINCT paragraph_id FROM gold")}
    candidates = [pid for pid in latest if pid not in gold]
    rows = []
    for chunk in _chunks(candidates):
        rows += conn.execute(
            _FIRST_POSITION + f" WHERE p.paragraph_id IN ({_marks(len(chunk))})", chunk
        ).fetchall()
    out = []
    for row in sorted(rows, key=lambda r: r[8]):
        p = _paragraph(row)
        current = _derive(store, p.id, latest[p.id], None)
        if current.status != "labelled":
            continue
        names = sorted(a for a, answer in latest[p.id].items() if answer.answer == "accept")
        out.append(
            LabelledParagraph(
                id=p.id, doc=p.doc, index=p.index, lang=p.lang, text=p.text, labels=current.labels,
                annotator=",".join(names), source="annotation",
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# The derived label


def _derive(
    store: Store, pid: str, latest: Mapping[str, Answer], gold: GoldDecision | None
) -> CurrentLabel:
    accepts = [a for a in latest.values() if a.answer == "accept"]
    flags = [a for a in latest.values() if a.answer == "flag"]
    flagged = any(gold is None or a.created_at > gold.created_at for a in flags)
    n = len(accepts)
    if gold is not None:
        return CurrentLabel(pid, gold.labels, "flagged" if flagged else "gold", n)
    votes = Counter(label for a in accepts for label in a.labels)
    majority = _ordered(store, (x for x, v in votes.items() if 2 * v > n))
    tied = _ordered(store, (x for x, v in votes.items() if 2 * v == n))
    if flagged:
        status = "flagged"
    elif n == 0:
        status = "unlabelled"
    else:
        status = "disputed" if tied else "labelled"
    return CurrentLabel(pid, majority, status, n, tied)


def current_labels(
    store: Store, paragraph_ids: Iterable[str] | None = None
) -> dict[str, CurrentLabel]:
    """The derived label of each paragraph (all stored paragraphs when `paragraph_ids` is None).

    See the module docstring for the rule. Unknown ids are left out of the result.
    """
    with _read(store) as conn:
        if paragraph_ids is None:
            ids = [r[0] for r in conn.execute("SELECT paragraph_id FROM paragraphs ORDER BY seq")]
            latest, gold = _latest_answers(conn, None), _latest_gold(conn, None)
        else:
            wanted = list(dict.fromkeys(paragraph_ids))
            known = set()
            for chunk in _chunks(wanted):
                known.update(
                    r[0] for r in conn.execute(
                        f"SELECT paragraph_id FROM paragraphs WHERE paragraph_id IN ({_marks(len(chunk))})",
                        chunk,
                    )
                )
            ids = [pid for pid in wanted if pid in known]
            latest, gold = _latest_answers(conn, ids), _latest_gold(conn, ids)
    out = {pid: CurrentLabel(pid, (), "unlabelled", 0) for pid in ids}
    for pid in set(latest) | set(gold):
        if pid in out:
            out[pid] = _derive(store, pid, latest.get(pid, {}), gold.get(pid))
    return out


def progress(store: Store) -> dict[str, Any]:
    """Counts for the progress bar and the stats page.

    `labelled` counts paragraphs whose status is `labelled` or `gold`; `labels` counts those
    paragraphs per current label (`none` for an empty set); `annotators` counts each
    annotator's answers by kind and the distinct paragraphs they answered.
    """
    with _read(store) as conn:
        total = conn.execute("SELECT COUNT(*) FROM paragraphs").fetchone()[0]
        documents = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        latest, gold = _latest_answers(conn, None), _latest_gold(conn, None)
        per_annotator = conn.execute(
            """SELECT annotator, answer, COUNT(*), COUNT(DISTINCT paragraph_id), MAX(created_at)
            FROM annotations GROUP BY annotator, answer ORDER BY annotator"""
        ).fetchall()
        distinct = dict(
            conn.execute(
                "SELECT annotator, COUNT(DISTINCT paragraph_id) FROM annotations GROUP BY annotator"
            ).fetchall()
        )
    touched = set(latest) | set(gold)
    by_status: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for pid in touched:
        current = _derive(store, pid, latest.get(pid, {}), gold.get(pid))
        by_status[current.status] += 1
        if current.status in ("labelled", "gold"):
            labels.update(current.labels or ("none",))
    by_status["unlabelled"] += total - len(touched)
    annotators: dict[str, dict[str, Any]] = {}
    for name, kind, count, _, last in per_annotator:
        entry = annotators.setdefault(
            name, {"answers": 0, "paragraphs": distinct[name], **{k: 0 for k in ANSWERS}, "last_answer_at": ""}
        )
        entry[kind] = count
        entry["answers"] += count
        entry["last_answer_at"] = max(entry["last_answer_at"], last)
    done = by_status["labelled"] + by_status["gold"]
    return {
        "paragraphs": total,
        "documents": documents,
        "labelled": done,
        "share": done / total if total else 0.0,
        "status": {status: by_status[status] for status in STATUSES},
        "labels": {label: labels[label] for label in [*store.taxonomy.label_ids, "none"]},
        "annotators": annotators,
    }


# --------------------------------------------------------------------------------------------
# Model versions and cached scores


def _model(row: tuple) -> dict[str, Any]:
    return {
        "version": row[0], "path": row[1], "card": json.loads(row[2]), "active": bool(row[3]),
        "registered_at": row[4],
    }


def register_model(
    store: Store, version: str, path: str | Path, card: Mapping[str, Any], *, active: bool = False
) -> dict[str, Any]:
    """Record a trained model version (idempotent for the same path and card).

    With `active=True` it becomes the one active model. A version already registered with a
    different path or card is refused: versions are immutable, save the model under a new one.
    """
    version = _check_name(version, what="model version")
    card_json = _json(dict(card))
    with _write(store) as conn:
        row = conn.execute(
            "SELECT version, path, card, active, registered_at FROM models WHERE version = ?", (version,)
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO models (version, path, card, active, registered_at) VALUES (?, ?, ?, 0, ?)",
                (version, str(path), card_json, _now()),
            )
        elif row[1] != str(path) or json.loads(row[2]) != json.loads(card_json):
            raise StoreError(
                f"{store.path}: model version {version!r} is already registered with another "
                f"path or card ({row[1]}); save the new model under a new version"
            )
        if active:
            conn.execute("UPDATE models SET active = 0 WHERE active = 1")
            conn.execute("UPDATE models SET active = 1 WHERE version = ?", (version,))
        row = conn.execute(
            "SELECT version, path, card, active, registered_at FROM models WHERE version = ?", (version,)
        ).fetchone()
    return _model(row)


def set_active_model(store: Store, version: str | None) -> None:
    """Make `version` the one active model (None: no model is active)."""
    with _write(store) as conn:
        if version is not None:
            known = [r[0] for r in conn.execute("SELECT version FROM models ORDER BY registered_at")]
            if version not in known:
                raise StoreError(
                    f"{store.path}: unknown model version {version!r}; registered: "
                    f"{', '.join(known) or 'none'} (train and register it first)"
                )
        conn.execute("UPDATE models SET active = 0 WHERE active = 1")
        if version is not None:
            conn.execute("UPDATE models SET active = 1 WHERE version = ?", (version,))


def active_model(store: Store) -> dict[str, Any] | None:
    """The active model's record (`version`, `path`, `card`, `active`, `registered_at`), or None."""
    with _read(store) as conn:
        row = conn.execute(
            "SELECT version, path, card, active, registered_at FROM models WHERE active = 1"
        ).fetchone()
    return _model(row) if row else None


def list_model_versions(store: Store) -> list[dict[str, Any]]:
    """Every registered model version, oldest first."""
    with _read(store) as conn:
        rows = conn.execute(
            "SELECT version, path, card, active, registered_at FROM models ORDER BY registered_at, version"
        ).fetchall()
    return [_model(row) for row in rows]


def write_scores(
    store: Store, model_version: str, rows: Iterable[tuple[str, Mapping[str, float], float]]
) -> int:
    """Cache `(paragraph_id, {label: p}, uncertainty)` rows for a model version (replacing).

    Probabilities are kept to 6 significant digits; each must be a number in [0, 1].
    """
    model_version = _check_name(model_version, what="model version")
    data = [
        (model_version, pid, _scores_json(pid, scores), float(u) if math.isfinite(u) else 1.0)
        for pid, scores, u in rows
    ]
    with _write(store) as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO scores (model_version, paragraph_id, scores, uncertainty) "
            "VALUES (?, ?, ?, ?)",
            data,
        )
    return len(data)


_JSON_KEYS: dict[str, str] = {}


def _scores_json(pid: str, scores: Mapping[str, float]) -> str:
    # Hand-rolled: json.dumps with shortest float reprs costs ~1 s per 100,000 rows.
    parts = []
    for label, p in scores.items():
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise LabelDataError(
                f"score of paragraph {pid} for label {label!r} is {p!r}; expected a probability "
                f"between 0 and 1"
            )
        key = _JSON_KEYS.get(label) or _JSON_KEYS.setdefault(label, json.dumps(str(label)))
        parts.append(f"{key}:{p:.6g}")
    return "{" + ",".join(parts) + "}"


def read_scores(
    store: Store, model_version: str, paragraph_ids: Iterable[str] | None = None
) -> dict[str, dict[str, float]]:
    """Cached scores of a model version: `{paragraph_id: {label: p}}`."""
    with _read(store) as conn:
        if paragraph_ids is None:
            rows = conn.execute(
                "SELECT paragraph_id, scores FROM scores WHERE model_version = ?", (model_version,)
            ).fetchall()
        else:
            rows = []
            ids = list(dict.fromkeys(paragraph_ids))
            for chunk in _chunks(ids):
                rows += conn.execute(
                    f"SELECT paragraph_id, scores FROM scores WHERE model_version = ? "
                    f"AND paragraph_id IN ({_marks(len(chunk))})",
                    (model_version, *chunk),
                ).fetchall()
    return {pid: json.loads(scores) for pid, scores in rows}


def clear_scores(store: Store, *, model_version: str | None = None) -> int:
    """Drop cached scores of one model version, or of every version but the active one."""
    with _write(store) as conn:
        if model_version is not None:
            cursor = conn.execute("DELETE FROM scores WHERE model_version = ?", (model_version,))
        else:
            cursor = conn.execute(
                "DELETE FROM scores WHERE model_version NOT IN (SELECT version FROM models WHERE active = 1)"
            )
    return cursor.rowcount


# --------------------------------------------------------------------------------------------
# The pool and claims (what the annotation queue may hand out)

# Correlated subqueries, each an index lookup: a walk in document, uncertainty or shuffled order
# stops at the first eligible rows instead of materialising every answer (~0.5 ms vs ~50 ms at
# 100,000 paragraphs). Only counting the whole pool scans every row.
_ELIGIBLE = """
    NOT EXISTS (SELECT 1 FROM annotations a
        WHERE a.paragraph_id = p.paragraph_id AND a.annotator = :annotator)
    AND (:include_gold OR NOT EXISTS (SELECT 1 FROM gold g WHERE g.paragraph_id = p.paragraph_id))
    AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.paragraph_id = p.paragraph_id
        AND c.annotator != :annotator AND c.expires_at > :now)
    AND (SELECT COUNT(DISTINCT a.annotator) FROM annotations a WHERE a.paragraph_id = p.paragraph_id
        AND a.answer != 'skip' AND a.annotator != :annotator)
        < (CASE WHEN p.overlap_key < :overlap THEN :overlap_annotators ELSE 1 END)
"""


def _pool_params(pool: Pool) -> dict[str, Any]:
    return {
        "annotator": pool.annotator,
        "include_gold": int(pool.include_gold),
        "now": _now(),
        "overlap": pool.overlap,
        "overlap_annotators": pool.overlap_annotators,
    }


@contextmanager
def _eligible(conn: sqlite3.Connection, matches: Callable[[str], bool] | None) -> Iterator[str]:
    """The pool condition, with an optional Python text filter registered as a SQL function.

    The filter sits inside CASE so SQLite calls it only on eligible rows (left to itself, it
    would run the cheap-looking function first, on every row it walks).
    """
    if matches is None:
        yield _ELIGIBLE
        return
    conn.create_function("pmc_matches", 1, lambda text: 1 if matches(text) else 0)
    try:
        yield f"(CASE WHEN {_ELIGIBLE} THEN pmc_matches(p.text) ELSE 0 END)"
    finally:
        conn.create_function("pmc_matches", 1, None)


def pool_count(store: Store, pool: Pool, *, matches: Callable[[str], bool] | None = None) -> int:
    """How many paragraphs are in the pool (only those whose text `matches`, if given)."""
    with _read(store) as conn, _eligible(conn, matches) as eligible:
        return conn.execute(
            f"SELECT COUNT(*) FROM paragraphs p WHERE {eligible}", _pool_params(pool)
        ).fetchone()[0]


def pool_ids(
    store: Store,
    pool: Pool,
    *,
    order: str = "document",
    model_version: str | None = None,
    matches: Callable[[str], bool] | None = None,
    limit: int | None = None,
    offset: int = 0,
    start: float = 0.0,
) -> list[tuple[str, float | None]]:
    """Pool paragraphs as `(paragraph_id, uncertainty)` pairs, in `order`.

    `document`: document order (uncertainty None). `uncertainty`: only paragraphs with cached
    scores of `model_version`, smallest uncertainty first (ties in document order). `shuffled`:
    a fixed pseudo-random order (a hash of the id), starting at `start` in [0, 1) and wrapping
    around — a random `start` gives a random pool paragraph without counting the pool.
    """
    params = {**_pool_params(pool), "limit": -1 if limit is None else limit, "offset": offset}
    with _read(store) as conn, _eligible(conn, matches) as eligible:
        if order == "shuffled":
            query = f"""SELECT p.paragraph_id, NULL FROM paragraphs p
                WHERE p.shuffle_key {{op}} :start AND {eligible}
                ORDER BY p.shuffle_key LIMIT :limit OFFSET :offset"""
            rows = conn.execute(query.format(op=">="), {**params, "start": start}).fetchall()
            if limit is None or len(rows) < limit:
                rest = -1 if limit is None else limit - len(rows)
                rows += conn.execute(
                    query.format(op="<"), {**params, "start": start, "limit": rest, "offset": 0}
                ).fetchall()
        elif order == "document":
            rows = conn.execute(
                f"""SELECT p.paragraph_id, NULL FROM paragraphs p WHERE {eligible}
                ORDER BY p.seq LIMIT :limit OFFSET :offset""",
                params,
            ).fetchall()
        elif order == "uncertainty":
            if model_version is None:
                raise StoreError("order='uncertainty' needs the model_version whose scores to use")
            rows = conn.execute(
                f"""SELECT p.paragraph_id, s.uncertainty FROM scores s
                JOIN paragraphs p ON p.paragraph_id = s.paragraph_id
                WHERE s.model_version = :model_version AND {eligible}
                ORDER BY s.uncertainty, p.seq LIMIT :limit OFFSET :offset""",
                {**params, "model_version": model_version},
            ).fetchall()
        else:
            raise StoreError(f"unknown pool order {order!r}; expected document, uncertainty or shuffled")
    return [(pid, u) for pid, u in rows]


def pool_filter(store: Store, pool: Pool, paragraph_ids: Sequence[str]) -> list[str]:
    """The ids (in the given order) that are in the pool."""
    params = _pool_params(pool)
    keep: set[str] = set()
    with _read(store) as conn:
        for chunk in _chunks(list(paragraph_ids)):
            marks = ",".join(f":id{i}" for i in range(len(chunk)))
            keep.update(
                r[0]
                for r in conn.execute(
                    f"SELECT p.paragraph_id FROM paragraphs p WHERE p.paragraph_id IN ({marks}) AND {_ELIGIBLE}",
                    {**params, **{f"id{i}": pid for i, pid in enumerate(chunk)}},
                )
            )
    return [pid for pid in paragraph_ids if pid in keep]


def claim_paragraph(
    store: Store, pool: Pool, paragraph_id: str, *, seconds: float = DEFAULT_CLAIM_SECONDS
) -> str | None:
    """Atomically claim a pool paragraph for the pool's annotator; returns the expiry or None.

    None means the paragraph is no longer in the pool (another session claimed or answered it
    meanwhile). An annotator holds one claim at a time: claiming releases their previous one.
    Expired claims are swept. The claim ends when the annotator answers the paragraph.
    """
    params = _pool_params(pool)
    with _write(store) as conn:
        conn.execute("DELETE FROM claims WHERE expires_at <= ?", (params["now"],))
        ok = conn.execute(
            f"SELECT 1 FROM paragraphs p WHERE p.paragraph_id = :pid AND {_ELIGIBLE}",
            {**params, "pid": paragraph_id},
        ).fetchone()
        if ok is None:
            return None
        expires = _in(seconds)
        conn.execute("DELETE FROM claims WHERE annotator = ?", (pool.annotator,))
        conn.execute(
            "INSERT OR REPLACE INTO claims (paragraph_id, annotator, expires_at) VALUES (?, ?, ?)",
            (paragraph_id, pool.annotator, expires),
        )
    return expires


def release_claims(store: Store, *, annotator: str, paragraph_id: str | None = None) -> int:
    """Drop an annotator's claims (on one paragraph, or all); returns how many were dropped."""
    with _write(store) as conn:
        if paragraph_id is None:
            cursor = conn.execute("DELETE FROM claims WHERE annotator = ?", (annotator,))
        else:
            cursor = conn.execute(
                "DELETE FROM claims WHERE annotator = ? AND paragraph_id = ?", (annotator, paragraph_id)
            )
    return cursor.rowcount


def active_claims(store: Store) -> dict[str, tuple[str, str]]:
    """Unexpired claims: `{paragraph_id: (annotator, expires_at)}`."""
    with _read(store) as conn:
        rows = conn.execute(
            "SELECT paragraph_id, annotator, expires_at FROM claims WHERE expires_at > ?", (_now(),)
        ).fetchall()
    return {pid: (annotator, expires) for pid, annotator, expires in rows}


def answer_count(store: Store, annotator: str) -> int:
    """How many answers (rows) an annotator has given."""
    with _read(store) as conn:
        return conn.execute("SELECT COUNT(*) FROM annotations WHERE annotator = ?", (annotator,)).fetchone()[0]


# --------------------------------------------------------------------------------------------
# Reads for the app's documents and context views


def is_empty(store: Store) -> bool:
    """True when the store holds no paragraph and no document (a first start)."""
    with _read(store) as conn:
        return conn.execute(
            "SELECT (SELECT COUNT(*) FROM paragraphs) + (SELECT COUNT(*) FROM documents)"
        ).fetchone()[0] == 0


def document_rows(store: Store, doc_ids: Sequence[str]) -> list[tuple]:
    """(doc, position, paragraph_id, text, lang, title, section) of documents, in document order."""
    rows: list[tuple] = []
    with _read(store) as conn:
        for doc in dict.fromkeys(doc_ids):
            rows += conn.execute(
                """SELECT pos.doc_id, pos.position, p.paragraph_id, p.text, p.lang, pos.title, pos.section
                FROM positions pos JOIN paragraphs p ON p.paragraph_id = pos.paragraph_id
                WHERE pos.doc_id = ? ORDER BY pos.position""",
                (doc,),
            ).fetchall()
    return rows


def document_window(store: Store, doc_id: str, first: int, last: int) -> tuple[list[tuple[int, str]], int, str]:
    """Paragraph texts at positions first..last of a document, its length and its title."""
    with _read(store) as conn:
        rows = conn.execute(
            """SELECT pos.position, p.text FROM positions pos JOIN paragraphs p ON p.paragraph_id = pos.paragraph_id
            WHERE pos.doc_id = ? AND pos.position BETWEEN ? AND ? ORDER BY pos.position""",
            (doc_id, first, last),
        ).fetchall()
        length, title = conn.execute(
            "SELECT (SELECT COUNT(*) FROM positions WHERE doc_id = ?), (SELECT title FROM documents WHERE doc_id = ?)",
            (doc_id, doc_id),
        ).fetchone()
    return [(int(p), t) for p, t in rows], int(length), title or ""


def list_documents(store: Store) -> list[tuple]:
    """(doc, title, format, added_at, n_paragraphs, first paragraph's title) in the order added."""
    with _read(store) as conn:
        return conn.execute(
            """SELECT d.doc_id, d.title, d.format, d.added_at, COUNT(pos.position),
                (SELECT title FROM positions WHERE doc_id = d.doc_id ORDER BY position LIMIT 1)
            FROM documents d LEFT JOIN positions pos ON pos.doc_id = d.doc_id
            GROUP BY d.doc_id ORDER BY d.seq"""
        ).fetchall()


def unscored_paragraphs(store: Store, model_version: str, *, after: int = 0, limit: int = 1000) -> list[tuple]:
    """(seq, paragraph_id, text) of paragraphs with no cached score for `model_version`, by seq."""
    with _read(store) as conn:
        return conn.execute(
            """SELECT p.seq, p.paragraph_id, p.text FROM paragraphs p WHERE p.seq > ?
            AND NOT EXISTS (SELECT 1 FROM scores s WHERE s.model_version = ? AND s.paragraph_id = p.paragraph_id)
            ORDER BY p.seq LIMIT ?""",
            (after, model_version, limit),
        ).fetchall()


def data_version(store: Store) -> tuple[int, int, int, str]:
    """Changes whenever answers, gold, documents or the active model change (a cache key)."""
    with _read(store) as conn:
        row = conn.execute(
            """SELECT (SELECT COALESCE(MAX(id), 0) FROM annotations), (SELECT COALESCE(MAX(id), 0) FROM gold),
            (SELECT COUNT(*) FROM positions), (SELECT COALESCE(MAX(version), '') FROM models WHERE active = 1)"""
        ).fetchone()
    return int(row[0]), int(row[1]), int(row[2]), str(row[3])
