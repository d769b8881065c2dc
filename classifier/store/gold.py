"""Gold adjudications: append-only final labels, imported from or exported to the gold file.

`set_gold()` records a reviewer's decision; `import_gold()`/`export_gold()` round-trip the gold
JSONL file (`labels.gold`) exactly; `gold_rows()` is the current training data — gold plus
annotator labels nobody disputes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import LabelDataError
from ..labels.gold import SOURCES, LabelledParagraph
from ..text.language import detect_language
from ..text.paragraph import paragraph_id
from .answers import _latest_answers
from .connection import Store, _chunks, _json, _marks, _now, _read, _select_for_ids, _write, retrying
from .documents import _FIRST_POSITION, _insert_paragraph, _paragraph, _require_paragraph
from .users import _authorize
from .records import _GOLD_COLUMNS, _GOLD_INSERT, GoldDecision, _check_name, derive, _gold, _labels

__all__ = ["set_gold", "latest_gold", "import_gold", "export_gold", "gold_rows"]


@retrying
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
        _authorize(conn, reviewer, "review")
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
        new_id = conn.execute(
            _GOLD_INSERT + " RETURNING id",
            (paragraph_id, _json(list(checked)), reviewer, annotator if annotator is not None else reviewer,
             source, note or "", group, doc, index, lang, _json(extra), _now()),
        ).fetchall()[0][0]
    return int(new_id)


def _check_source(source: str, *, where: str) -> None:
    if source not in SOURCES:
        raise LabelDataError(f"{where}: source is {source!r}; expected one of {', '.join(SOURCES)}")


def latest_gold(store: Store, paragraph_ids: Iterable[str] | None = None) -> dict[str, GoldDecision]:
    """The latest gold decision per paragraph that has one."""
    with _read(store) as conn:
        return _latest_gold(conn, None if paragraph_ids is None else list(paragraph_ids))


def _latest_gold(conn: Any, ids: list[str] | None) -> dict[str, GoldDecision]:
    query = f"""SELECT {_GOLD_COLUMNS} FROM gold WHERE id IN (
        SELECT MAX(id) FROM gold {{where}} GROUP BY paragraph_id)"""
    return {row[1]: _gold(row) for row in _select_for_ids(conn, query, ids)}


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
                    "INSERT INTO documents (doc_id, title, source, format, added_at) "
                    "VALUES (?, ?, '', '', ?) ON CONFLICT DO NOTHING",
                    (row.doc, title, now),
                )
                conn.execute(
                    "INSERT INTO positions (doc_id, position, paragraph_id, title) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
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


def _labelled_rows(store: Store, conn: Any) -> list[LabelledParagraph]:
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
        current = derive(store, p.id, latest[p.id], None)
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
