"""Review: what a reviewer does on the Review page, as plain functions.

`review_queues()` gives the queues (annotators disagree, an answer differs from gold, the model
confidently contradicts gold, flagged); `paragraph_review()` everything about one paragraph side by side (answers,
history, gold, derived label, model scores); `answers_table()` every answered paragraph with
one column per annotator; `adjudicate()` records the final label with a note; `agreement()` the
inter-annotator agreement report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import store as db
from ..workspace import Workspace
from .agreement import agreement_report, differs_from_gold, disagreements, flagged, likely_label_errors
from .session import answer_dict

__all__ = ["review_queues", "paragraph_review", "answers_table", "describe_answer", "adjudicate", "agreement"]


def review_queues(ws: Workspace, *, margin: float = 0.4) -> dict[str, list[dict[str, Any]]]:
    """The review queues, one item per paragraph: `disagreements` (annotators differ),
    `differs_from_gold` (an answer against the gold label), `model_vs_gold` (the model confidently
    contradicts gold; each item's `conflicts` lists every label in question, most confident
    first) and `flagged`."""
    saved = ws.model
    errors: dict[str, dict[str, Any]] = {}
    if saved is not None:
        ids = [row.id for row in db.gold_rows(ws.store)]
        for item in likely_label_errors(ws.store, ws.scores(ids, saved), thresholds=saved.thresholds(), margin=margin):
            entry = errors.setdefault(item["paragraph_id"], {**item, "conflicts": []})
            entry["conflicts"].append({"label": item["label"], "p": item["p"], "gold_has_label": item["gold_has_label"]})
    return {"disagreements": disagreements(ws.store), "differs_from_gold": differs_from_gold(ws.store),
            "model_vs_gold": list(errors.values()), "flagged": flagged(ws.store)}


def paragraph_review(ws: Workspace, paragraph_id: str) -> dict[str, Any]:
    """Everything a reviewer needs on one paragraph: text, every annotator's latest answer side
    by side, the full history, the current gold and derived label, and the model's scores."""
    store = ws.store
    paragraph = db.get_paragraph(store, paragraph_id)
    latest = db.latest_answers(store, [paragraph_id]).get(paragraph_id, {})
    gold = db.latest_gold(store, [paragraph_id]).get(paragraph_id)
    current = db.current_labels(store, [paragraph_id])[paragraph_id]
    saved = ws.model
    scores = ws.scores([paragraph_id], saved).get(paragraph_id, {}) if saved else {}
    events = []
    for event in db.history(store, paragraph_id):
        if isinstance(event, db.GoldDecision):
            events.append({"when": event.created_at, "who": event.reviewer, "what": f"gold ({event.source})",
                           "labels": list(event.labels), "note": event.note})
        else:
            events.append({"when": event.created_at, "who": event.annotator, "what": event.answer,
                           "labels": list(event.labels), "note": event.note})
    return {
        "paragraph_id": paragraph_id, "text": paragraph.text, "doc": paragraph.doc, "index": paragraph.index,
        "title": paragraph.title, "lang": paragraph.lang,
        "answers": [answer_dict(a) for _, a in sorted(latest.items())],
        "history": events,
        "gold": None if gold is None else {
            "labels": list(gold.labels), "reviewer": gold.reviewer, "source": gold.source,
            "note": gold.note, "created_at": gold.created_at,
        },
        "current": {"labels": list(current.labels), "status": current.status,
                    "disputed_labels": list(current.disputed_labels)},
        "scores": scores,
        "thresholds": saved.thresholds() if saved else {},
        "model_version": saved.version if saved else None,
    }


def answers_table(ws: Workspace, *, limit: int | None = 1000) -> list[dict[str, Any]]:
    """Every answered paragraph with each annotator's latest answer in its own column.

    Rows: `paragraph_id`, `text`, `status`, `current`, `gold`, then one key per annotator
    (`labels`, `none`, `skip` or `flag: ...`); most recently answered first.
    """
    store = ws.store
    latest = db.latest_answers(store)
    order = sorted(latest, key=lambda pid: -max(a.id for a in latest[pid].values()))
    if limit is not None:
        order = order[:limit]
    current = db.current_labels(store, order)
    gold = db.latest_gold(store, order)
    texts = db.get_paragraphs(store, order)
    annotators = sorted({name for pid in order for name in latest[pid]})
    rows = []
    for pid in order:
        row: dict[str, Any] = {
            "paragraph_id": pid, "text": texts[pid].text, "status": current[pid].status,
            "current": ", ".join(current[pid].labels) or "—",
            "gold": (", ".join(gold[pid].labels) or "none") if pid in gold else "",
        }
        for name in annotators:
            answer = latest[pid].get(name)
            row[name] = "" if answer is None else describe_answer(answer.answer, answer.labels)
        rows.append(row)
    return rows


def describe_answer(kind: str, labels: Sequence[str]) -> str:
    """An answer in one short phrase: `enforcement, border_patrol`, `none`, `skip`, `flag: ...`."""
    if kind == "accept":
        return ", ".join(labels) or "none"
    return f"{kind}: {', '.join(labels)}" if labels else kind


def adjudicate(
    ws: Workspace, paragraph_id: str, labels: Sequence[str], *, reviewer: str, note: str = ""
) -> int:
    """Set the final (gold) labels of a paragraph as a reviewer; returns the gold row id."""
    return db.set_gold(ws.store, paragraph_id, labels=list(labels), reviewer=reviewer, note=note, source="review")


def agreement(ws: Workspace) -> dict[str, Any]:
    """Inter-annotator agreement per label, overall and per annotator (`agreement_report`)."""
    return agreement_report(ws.store)
