"""Documents and their paragraphs: storing segmented paragraphs, reading them back in order.

Paragraph ids are content hashes, so the same text is stored once however many documents
contain it; `positions` place it in each document. Ingest takes paragraphs that the text floor
already segmented — the store never segments. Each paragraph also stores its `search_key`
(`text.normalize.search_key`), so keyword search can pre-filter in SQL.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import StoreError
from ..text.language import detect_language
from ..text.normalize import search_key
from ..text.paragraph import Paragraph, paragraph_id
from ..text.reader import Document
from .connection import Store, _chunks, _json, _marks, _now, _read, _write

__all__ = [
    "ingest_document", "ingest_paragraphs", "get_paragraph", "get_paragraphs", "positions_of",
    "is_empty", "document_rows", "document_window", "list_documents", "document_meta", "edit_document_meta",
    "EDITABLE_META",
]


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


def _require_paragraph(conn: Any, store: Store, pid: str) -> None:
    if conn.execute("SELECT 1 FROM paragraphs WHERE paragraph_id = ?", (pid,)).fetchone() is None:
        raise StoreError(
            f"{store.path}: unknown paragraph id {pid!r}; ingest its document first"
        )


def ingest_document(store: Store, document: Document, paragraphs: Sequence[Paragraph], *,
                    meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Store a document and its paragraphs (`text.segmenter.segment(document)`); re-ingesting
    replaces its positions, never its answers.

    Returns `{"doc", "paragraphs", "new", "existing"}`: positions stored, texts stored for the
    first time, and positions whose text was already in the store (from any document).
    """
    with _write(store) as conn:
        _upsert_document(
            conn, document.id, title=document.title, source=document.source, fmt=document.format
        )
        if meta:
            _merge_meta(conn, document.id, meta)
        conn.execute("DELETE FROM positions WHERE doc_id = ?", (document.id,))
        new = _insert_paragraphs(conn, store, paragraphs, doc_id=document.id, title=None)
    return {"doc": document.id, "paragraphs": len(paragraphs), "new": new, "existing": len(paragraphs) - new}


def ingest_paragraphs(
    store: Store,
    paragraphs: Iterable[Paragraph],
    *,
    doc_id: str | None = None,
    title: str | None = None,
    meta: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Store paragraphs (e.g. from a JSONL file) under their own `doc`/`index`, or under `doc_id`.

    A position (document, index) already stored is overwritten; texts are never duplicated.
    `meta` gives documents their metadata (`{doc: {"source_url": ..., "date": ...}}`), merged
    into what is stored. Returns `{"documents", "paragraphs", "new", "existing"}`.
    """
    paragraphs = list(paragraphs)
    docs: dict[str, str] = {}
    for p in paragraphs:
        docs.setdefault(doc_id or p.doc, title if title is not None else p.title)
    with _write(store) as conn:
        for doc, doc_title in docs.items():
            _upsert_document(conn, doc, title=doc_title, source="", fmt="")
            if meta and meta.get(doc):
                _merge_meta(conn, doc, meta[doc])
        new = _insert_paragraphs(conn, store, paragraphs, doc_id=doc_id, title=title)
    return {"documents": len(docs), "paragraphs": len(paragraphs), "new": new, "existing": len(paragraphs) - new}


def _upsert_document(conn: Any, doc_id: str, *, title: str, source: str, fmt: str) -> None:
    if not doc_id:
        raise StoreError("a paragraph has an empty document id; give every paragraph its `doc`")
    conn.execute(
        """INSERT INTO documents (doc_id, title, source, format, added_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (doc_id) DO UPDATE SET
            title = CASE WHEN excluded.title != '' THEN excluded.title ELSE documents.title END,
            source = CASE WHEN excluded.source != '' THEN excluded.source ELSE documents.source END,
            format = CASE WHEN excluded.format != '' THEN excluded.format ELSE documents.format END""",
        (doc_id, title or "", source or "", fmt or "", _now()),
    )


def _merge_meta(conn: Any, doc_id: str, meta: Mapping[str, Any]) -> None:
    row = conn.execute("SELECT meta FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
    merged = {**json.loads(row[0] if row else "{}"), **{k: v for k, v in meta.items() if v not in (None, "")}}
    conn.execute("UPDATE documents SET meta = ? WHERE doc_id = ?", (_json(merged), doc_id))


EDITABLE_META = ("date", "publisher", "campaign", "title", "source_url")


def edit_document_meta(store: Store, doc_id: str, changes: Mapping[str, str]) -> dict[str, Any]:
    """Set (or, with an empty value, remove) editable metadata fields of a stored document.

    Fields are `EDITABLE_META`; a date must be `YYYY`, `YYYY-MM` or `YYYY-MM-DD`. An edited field
    is no longer marked as extracted. Returns the document's metadata after the change.
    """
    unknown = sorted(set(changes) - set(EDITABLE_META))
    if unknown:
        raise StoreError(f"cannot edit {', '.join(unknown)} of {doc_id}; editable fields: {', '.join(EDITABLE_META)}")
    date = changes.get("date")
    if date and not re.fullmatch(r"(?:19|20)\d\d(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01]))?)?", date):
        raise StoreError(f"date {date!r} of {doc_id} is not YYYY, YYYY-MM or YYYY-MM-DD; give e.g. 2024-07-05")
    with _write(store) as conn:
        row = conn.execute("SELECT meta FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise StoreError(f"{store.path}: no document {doc_id!r}; see `pmc documents` or the Documents page")
        meta = json.loads(row[0])
        for key, value in changes.items():
            if value:
                meta[key] = value
            else:
                meta.pop(key, None)
            if key == "date":
                meta.pop("date_inferred", None)
            if key == "campaign":
                meta["campaigns"] = [{"id": value, "year": None}] if value else []
        meta["extracted"] = [k for k in meta.get("extracted", []) if k not in changes and k + "s" not in changes]
        meta["edited"] = sorted(set(meta.get("edited", [])) | set(changes))
        conn.execute("UPDATE documents SET meta = ? WHERE doc_id = ?", (_json(meta), doc_id))
    return meta


def document_meta(store: Store, doc_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Stored metadata of documents (all when `doc_ids` is None): `{doc: {...}}`."""
    with _read(store) as conn:
        if doc_ids is None:
            rows = conn.execute("SELECT doc_id, meta FROM documents").fetchall()
        else:
            rows = []
            ids = list(dict.fromkeys(doc_ids))
            for chunk in _chunks(ids):
                rows += conn.execute(
                    f"SELECT doc_id, meta FROM documents WHERE doc_id IN ({_marks(len(chunk))})", chunk
                ).fetchall()
    return {doc: json.loads(meta) for doc, meta in rows}


_INSERT_PARAGRAPH = (
    "INSERT INTO paragraphs (paragraph_id, text, lang, overlap_key, shuffle_key, added_at, search_key) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def _insert_paragraph(conn: Any, pid: str, text: str, lang: str, now: str) -> bool:
    cursor = conn.execute(_INSERT_PARAGRAPH, (pid, text, lang, *_hash_keys(pid), now, search_key(text)))
    return cursor.rowcount == 1


def _insert_paragraphs(
    conn: Any,
    store: Store,
    paragraphs: Sequence[Paragraph],
    *,
    doc_id: str | None,
    title: str | None,
) -> int:
    """Store texts (once each) and positions in batched statements (pipelined on PostgreSQL);
    returns how many texts were new to the store."""
    now = _now()
    texts: dict[str, tuple] = {}
    positions = []
    for p in paragraphs:
        doc = doc_id or p.doc
        if not p.text.strip():
            raise StoreError(f"paragraph {doc}:{p.index} has empty text; drop it before storing")
        expected = paragraph_id(p.text)
        if p.id != expected:
            raise StoreError(
                f"paragraph {doc}:{p.index} has id {p.id!r} but its text hashes to {expected!r}; "
                f"ids must come from classifier.text.paragraph.paragraph_id (re-run the segmenter)"
            )
        if p.id not in texts:
            texts[p.id] = (p.id, p.text, p.lang or detect_language(p.text), *_hash_keys(p.id), now, search_key(p.text))
        positions.append((doc, p.index, p.id, title if title is not None else p.title, p.section, p.speaker))
    ids = list(texts)
    known: set[str] = set()
    for chunk in _chunks(ids):
        known.update(r[0] for r in conn.execute(
            f"SELECT paragraph_id FROM paragraphs WHERE paragraph_id IN ({_marks(len(chunk))})", chunk))
    if len(known) < len(ids):
        conn.executemany(_INSERT_PARAGRAPH, [row for pid, row in texts.items() if pid not in known])
    if positions:
        conn.executemany(
            """INSERT INTO positions (doc_id, position, paragraph_id, title, section, speaker)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (doc_id, position) DO UPDATE SET paragraph_id = excluded.paragraph_id,
                title = excluded.title, section = excluded.section, speaker = excluded.speaker""",
            positions,
        )
    return len(ids) - len(known)


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
    with _read(store, snapshot=False) as conn:
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
            GROUP BY d.seq, d.doc_id, d.title, d.format, d.added_at ORDER BY d.seq"""
        ).fetchall()
