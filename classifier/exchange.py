"""Annotations in and out of the store: answers made elsewhere, adjudications, exports with provenance.

A team that labels outside the app (another tool, a spreadsheet, an annotation pass run as a
separate process) brings its answers in with `import_answer_file()` — each recorded as an
ordinary append-only answer of the named annotator, tagged `import:<file>`. A reviewer's decisions
come in with `import_adjudication_file()` (gold with a note each). `answer_records()` is every
answer ever recorded, so agreement can be recomputed outside and nothing is hidden in the store;
`gold_with_answers()` is the gold export with every annotator's latest answer and the document's
provenance on each row. Bad lines are reported (file:line, what, how to fix) and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import store as db
from .errors import LabelDataError
from .labels.gold import LabelledParagraph
from .store import Store
from .text.paragraph import paragraph_id
from .text.reader import RecordError, json_lines

__all__ = ["import_answer_file", "import_adjudication_file", "answer_records", "ANSWER_FIELDS", "gold_with_answers"]

ANSWER_FIELDS = ("answer_id", "paragraph_id", "doc", "index", "annotator", "answer", "labels", "note",
                 "model_version", "scores", "source", "created_at")
ErrorSink = Callable[[str], None]


def _lines(path: Path, on_error: ErrorSink) -> Iterator[tuple[int, dict[str, Any]]]:
    for entry in json_lines(path):
        if isinstance(entry, RecordError):
            on_error(str(entry))
            continue
        number, record = entry
        if not isinstance(record, dict):
            on_error(f"{path}:{number}: expected a JSON object, found {type(record).__name__}")
            continue
        yield number, record


def _paragraph_of(record: dict[str, Any]) -> str | None:
    if isinstance(record.get("id"), str) and record["id"]:
        return record["id"]
    if isinstance(record.get("text"), str) and record["text"].strip():
        return paragraph_id(record["text"])
    return None


def _parse(store: Store, path: Path, on_error: ErrorSink, *, kinds: bool) -> list[tuple[str, str, list[str], str]]:
    known = set(db.get_paragraphs(store))
    out = []
    for number, record in _lines(path, on_error):
        where = f"{path}:{number}"
        pid = _paragraph_of(record)
        if pid is None:
            on_error(f"{where}: no paragraph 'id' (or 'text'); give the id of a stored paragraph")
            continue
        if pid not in known:
            on_error(f"{where}: unknown paragraph {pid!r}; ingest its document first (pmc ingest)")
            continue
        labels = record.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            on_error(f"{where}: 'labels' must be a list of label ids ([] for none of them)")
            continue
        unknown = [x for x in labels if x not in store.taxonomy.label_ids]
        if unknown:
            on_error(f"{where}: unknown label {unknown[0]!r}; expected one of {', '.join(store.taxonomy.label_ids)}")
            continue
        answer = str(record.get("answer") or "accept") if kinds else "accept"
        if answer not in db.ANSWERS:
            on_error(f"{where}: answer is {answer!r}; expected one of {', '.join(db.ANSWERS)}")
            continue
        note = record.get("note") if isinstance(record.get("note"), str) else ""
        out.append((pid, answer, labels, note))
    return out


def import_answer_file(store: Store, path: str | Path, *, annotator: str, on_error: ErrorSink) -> dict[str, int]:
    """Record a JSONL file of answers (`id` or `text`, `labels`, optional `answer`, `note`) as
    `annotator`'s, tagged `import:<file name>`. Returns `{"lines", "added", "skipped"}`."""
    path = Path(path)
    skipped: list[str] = []

    def report(message: str) -> None:
        skipped.append(message)
        on_error(message)

    rows = _parse(store, path, report, kinds=True)
    added = db.import_answers(store, rows, annotator=annotator, source=f"import:{path.name}") if rows else 0
    return {"lines": added + len(skipped), "added": added, "skipped": len(skipped)}


def import_adjudication_file(store: Store, path: str | Path, *, reviewer: str, on_error: ErrorSink) -> dict[str, int]:
    """Record a reviewer's decisions (`id`, `labels`, `note`) as gold with source `review`."""
    path = Path(path)
    skipped: list[str] = []

    def report(message: str) -> None:
        skipped.append(message)
        on_error(message)

    added = 0
    for pid, _answer, labels, note in _parse(store, path, report, kinds=False):
        if not note.strip():
            report(f"{path}: decision on {pid} has no note; say why (the reviewer's note is kept with the gold)")
            continue
        db.set_gold(store, pid, labels=labels, reviewer=reviewer, note=note, source="review")
        added += 1
    return {"lines": added + len(skipped), "added": added, "skipped": len(skipped)}


def answer_records(store: Store) -> list[dict[str, Any]]:
    """Every answer ever recorded, oldest first, as flat records (`ANSWER_FIELDS`)."""
    return [
        {"answer_id": a.id, "paragraph_id": a.paragraph_id, "doc": doc, "index": index, "annotator": a.annotator,
         "answer": a.answer, "labels": list(a.labels), "note": a.note, "model_version": a.model_version,
         "scores": a.scores, "source": a.source, "created_at": a.created_at}
        for a, doc, index in db.all_answers(store)
    ]


def gold_with_answers(store: Store, *, include_labelled: bool = True, source: str | None = None,
                      keep_sources: Sequence[str] = ("seed", "codebook")) -> list[LabelledParagraph]:
    """`store.export_gold()` rows with `answers` (each annotator's latest answer), the document's
    metadata (`source_url`, `title`, `publisher`, `date`, ...) and, when `source` is given, that
    source on every row decided in the store (the decision kind moves to `decision`)."""
    rows = db.export_gold(store, include_labelled=include_labelled)
    latest = db.latest_answers(store, [r.id for r in rows])
    meta = db.document_meta(store, {r.doc for r in rows})
    out = []
    for row in rows:
        extra = dict(row.extra)
        for key, value in meta.get(row.doc, {}).items():
            extra.setdefault(key, value)
        answers = latest.get(row.id, {})
        if answers:
            extra["answers"] = {name: list(a.labels) if a.answer == "accept" else a.answer
                                for name, a in sorted(answers.items())}
        if source is not None and row.source not in keep_sources:
            extra["decision"] = "agreement" if row.source == "annotation" else row.source
            row = replace(row, source=source)
        out.append(replace(row, extra=extra))
    if source is not None and source not in ("real", *keep_sources, "annotation", "review", "import"):
        raise LabelDataError(f"export source {source!r} is not a gold-file source; use real")
    return out
