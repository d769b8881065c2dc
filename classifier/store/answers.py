"""Annotator answers: append-only rows, each with who, when, what and the suggestion shown.

Answering again appends a new row (the Back button): the latest answer of each annotator is
the one that counts. Nothing here updates or deletes an answer (triggers refuse it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import LabelDataError, StaleAnswerError
from .connection import NO_LIMIT, Store, _json, _now, _read, _select_for_ids, _write, retrying
from .documents import _require_paragraph
from .users import _authorize
from .records import (
    _ANSWER_COLUMNS, _GOLD_COLUMNS, ANSWERS, Answer, GoldDecision, _answer, _check_name, _gold, _labels,
)

__all__ = ["record_answer", "import_answers", "all_answers", "answers_by", "last_answer", "annotations_for",
           "history", "latest_answers", "answer_count"]


@retrying
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
    source: str = "app",
    token: str | None = None,
) -> int:
    """Append one answer (committed before returning) and release the annotator's claim on it.

    With `token` (the Label page always gives one), the answer is saved only if it is the
    token of the annotator's current claim on this paragraph, checked in the same write
    transaction: a repeated Enter, a stale tab or a replaced claim raises `StaleAnswerError`
    and writes nothing.

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
        _authorize(conn, annotator, "label")
        # Ending the claim and checking its token are one statement: two saves racing with the
        # same token cannot both see it (the second finds no row on either backend).
        ended = conn.execute(
            "DELETE FROM claims WHERE paragraph_id = ? AND annotator = ?"
            + (" RETURNING 1" if token is None else " AND token = ? RETURNING 1"),
            (paragraph_id, annotator) if token is None else (paragraph_id, annotator, token),
        ).fetchall()
        if not ended:  # a claim exists only on a stored paragraph; without one, check it is known
            _require_paragraph(conn, store, paragraph_id)
            if token is not None:
                _stale(conn, paragraph_id, annotator)
        new_id = conn.execute(
            """INSERT INTO annotations
                (paragraph_id, annotator, answer, labels, model_version, scores, note, created_at, source)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
            (paragraph_id, annotator, answer, _json(list(checked)), model_version, scores_json,
             note or "", _now(), source or "app"),
        ).fetchall()[0][0]
    return int(new_id)


def _stale(conn: Any, paragraph_id: str, annotator: str) -> None:
    """Say why an answer's token no longer holds (the transaction then rolls back)."""
    held = conn.execute(
        "SELECT paragraph_id, token FROM claims WHERE annotator = ?", (annotator,)
    ).fetchone()
    last = conn.execute(
        "SELECT paragraph_id FROM annotations WHERE annotator = ? ORDER BY id DESC LIMIT 1", (annotator,)
    ).fetchone()
    if last is not None and last[0] == paragraph_id:
        why = "it was just saved (a repeated key or click); it is not saved twice"
    elif held is not None and held[0] != paragraph_id:
        why = (f"{annotator} has opened another paragraph since ({held[0]}), in this or another tab; "
               f"the page shows the current one")
    elif held is not None:
        why = "this paragraph was opened again (another tab or a reload) after this page showed it"
    else:
        why = "the claim on it expired or was released; reload to get it again"
    raise StaleAnswerError(f"answer on paragraph {paragraph_id} not saved: {why}")


def import_answers(
    store: Store,
    answers: Sequence[tuple[str, str, Sequence[str], str]],
    *,
    annotator: str,
    source: str,
) -> int:
    """Append answers made outside pmc, `(paragraph_id, answer, labels, note)`, in one transaction.

    Each is validated like `record_answer` (known paragraph, answer kind, codebook labels) before
    anything is written, and recorded with `source` (e.g. ``import:answers_A.jsonl``) and no
    model suggestion. Returns the number of rows added.
    """
    annotator = _check_name(annotator, what="annotator")
    rows = []
    for pid, answer, labels, note in answers:
        if answer not in ANSWERS:
            raise LabelDataError(f"answer kind is {answer!r} on paragraph {pid}; expected one of {', '.join(ANSWERS)}")
        checked = _labels(store, list(labels), where=f"answer by {annotator!r} on paragraph {pid}")
        rows.append((pid, annotator, answer, _json(list(checked)), None, None, note or "", source))
    with _write(store) as conn:
        for pid, *_ in rows:
            _require_paragraph(conn, store, pid)
        now = _now()
        conn.executemany(
            """INSERT INTO annotations
                (paragraph_id, annotator, answer, labels, model_version, scores, note, source, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(*row, now) for row in rows],
        )
    return len(rows)


def all_answers(store: Store) -> list[tuple[Answer, str, int]]:
    """Every answer ever recorded, oldest first, with the document and position of its paragraph."""
    with _read(store) as conn:
        rows = conn.execute(
            f"""SELECT {', '.join('a.' + c for c in _ANSWER_COLUMNS.split(', '))},
                COALESCE(pos.doc_id, ''), COALESCE(pos.position, 0)
            FROM annotations a LEFT JOIN positions pos ON pos.rowid = (
                SELECT MIN(rowid) FROM positions WHERE paragraph_id = a.paragraph_id)
            ORDER BY a.id"""
        ).fetchall()
    return [(_answer(row[:10]), row[10], row[11]) for row in rows]


def answers_by(store: Store, annotator: str, *, limit: int | None = None) -> list[Answer]:
    """The annotator's latest answer per paragraph, most recent first (the Back trail)."""
    with _read(store) as conn:
        rows = conn.execute(
            f"""SELECT {_ANSWER_COLUMNS} FROM annotations WHERE id IN (
                SELECT MAX(id) FROM annotations WHERE annotator = ? GROUP BY paragraph_id)
            ORDER BY id DESC LIMIT ?""",
            (annotator, NO_LIMIT if limit is None else limit),
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


def _latest_answers(conn: Any, ids: list[str] | None) -> dict[str, dict[str, Answer]]:
    query = f"""SELECT {_ANSWER_COLUMNS} FROM annotations WHERE id IN (
        SELECT MAX(id) FROM annotations {{where}} GROUP BY paragraph_id, annotator) ORDER BY id"""
    rows = _select_for_ids(conn, query, ids)
    out: dict[str, dict[str, Answer]] = defaultdict(dict)
    for row in rows:
        answer = _answer(row)
        out[answer.paragraph_id][answer.annotator] = answer
    return dict(out)


def answer_count(store: Store, annotator: str) -> int:
    """How many answers (rows) an annotator has given."""
    with _read(store, snapshot=False) as conn:
        return conn.execute("SELECT COUNT(*) FROM annotations WHERE annotator = ?", (annotator,)).fetchone()[0]
