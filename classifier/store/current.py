"""The derived state of the store: current labels, progress counts, a change token.

Nothing here is stored: `current_labels()` applies `records.derive` to the latest answers and
gold; `progress()` counts statuses and labels for the progress bar; `data_version()` changes
whenever answers, gold or documents change (the app's cache key).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from .answers import _latest_answers
from .connection import Store, _chunks, _marks, _read
from .gold import _latest_gold
from .records import ANSWERS, STATUSES, CurrentLabel, derive

__all__ = ["current_labels", "progress", "data_version"]


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
            out[pid] = derive(store, pid, latest.get(pid, {}), gold.get(pid))
    return out


def progress(store: Store) -> dict[str, Any]:
    """Counts for the progress bar and the stats page.

    Codebook examples (training material, not real text: `codebook`) are left out of
    `paragraphs`, `labelled` and `share`. `labelled` counts paragraphs whose status is
    `labelled` or `gold`; `labels` counts those paragraphs per current label (`none` for an
    empty set); `annotators` counts each annotator's answers by kind and the distinct
    paragraphs they answered.
    """
    with _read(store) as conn:
        codebook = {r[0] for r in conn.execute("SELECT DISTINCT paragraph_id FROM gold WHERE source = 'codebook'")}
        total = conn.execute("SELECT COUNT(*) FROM paragraphs").fetchone()[0] - len(codebook)
        documents = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        answered = [r[0] for r in conn.execute("SELECT DISTINCT paragraph_id FROM annotations")]
        latest, gold = _latest_answers(conn, answered), _latest_gold(conn, answered)
        # Gold paragraphs nobody answered are `gold` with their gold labels: counted in SQL by
        # label set (a few dozen distinct sets), so a save does not decode every gold row.
        unanswered_gold = conn.execute(
            """SELECT g.labels, COUNT(*) FROM gold g
            WHERE g.id IN (SELECT MAX(id) FROM gold GROUP BY paragraph_id)
              AND g.paragraph_id NOT IN (SELECT paragraph_id FROM annotations)
              AND g.paragraph_id NOT IN (SELECT paragraph_id FROM gold WHERE source = 'codebook')
            GROUP BY g.labels"""
        ).fetchall()
        per_annotator = conn.execute(
            """SELECT annotator, answer, COUNT(*), COUNT(DISTINCT paragraph_id), MAX(created_at)
            FROM annotations GROUP BY annotator, answer ORDER BY annotator"""
        ).fetchall()
        distinct = dict(
            conn.execute(
                "SELECT annotator, COUNT(DISTINCT paragraph_id) FROM annotations GROUP BY annotator"
            ).fetchall()
        )
    touched = (set(latest) | set(gold)) - codebook
    by_status: Counter[str] = Counter()
    labels: Counter[str] = Counter()
    for pid in touched:
        current = derive(store, pid, latest.get(pid, {}), gold.get(pid))
        by_status[current.status] += 1
        if current.status in ("labelled", "gold"):
            labels.update(current.labels or ("none",))
    for labels_json, count in unanswered_gold:
        by_status["gold"] += count
        for label in json.loads(labels_json) or ["none"]:
            labels[label] += count
    touched_count = len(touched) + sum(count for _, count in unanswered_gold)
    by_status["unlabelled"] += total - touched_count
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
        "codebook": len(codebook),
        "documents": documents,
        "labelled": done,
        "share": done / total if total else 0.0,
        "status": {status: by_status[status] for status in STATUSES},
        "labels": {label: labels[label] for label in [*store.taxonomy.label_ids, "none"]},
        "annotators": annotators,
    }


def data_version(store: Store) -> tuple[int, int, int]:
    """Changes whenever answers, gold or documents change (a cache key)."""
    with _read(store) as conn:
        row = conn.execute(
            """SELECT (SELECT COALESCE(MAX(id), 0) FROM annotations), (SELECT COALESCE(MAX(id), 0) FROM gold),
            (SELECT COUNT(*) FROM positions)"""
        ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])
