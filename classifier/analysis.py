"""What analysts ask of a corpus: which measures a document, campaign, year, publisher or language
emphasises, how many paragraphs stand behind each number, and what each measure reported.

`profile_groups(records, metas, by=...)` turns classified paragraph records (`pmc classify`
records: `doc`, `lang`, `labels`, plus `source` = `gold` or `model`) and each document's
metadata (`metadata.extract_metadata`) into one row per group: the share of its paragraphs per
measure (and `none`), the counts behind the shares, and how many labels came from people (gold)
rather than the model. A document naming two campaigns counts in both; one with no date, no
campaign or no publisher is grouped under `(none)`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["GROUPINGS", "NO_GROUP", "group_keys", "profile_groups"]

GROUPINGS = ("doc", "campaign", "year", "month", "publisher", "lang")
NO_GROUP = "(none)"


def group_keys(record: Mapping[str, Any], meta: Mapping[str, Any], by: str) -> list[str]:
    """The groups a paragraph counts in under `by`."""
    if by == "doc":
        return [str(record["doc"])]
    if by == "lang":
        return [str(record.get("lang") or NO_GROUP)]
    if by in ("year", "month"):
        date = str(meta.get("date") or "")
        if not date[:4].isdigit():
            return [NO_GROUP]
        return [date[:4] if by == "year" else (date[:7] if len(date) >= 7 else f"{date[:4]} (month unknown)")]
    if by == "publisher":
        return [str(meta.get("publisher") or NO_GROUP)]
    if by == "campaign":
        campaigns = meta.get("campaigns") or []
        names = [c["id"] + (f"-{c['year']}" if c.get("year") else "") for c in campaigns if isinstance(c, Mapping)]
        return list(dict.fromkeys(names)) or [NO_GROUP]
    raise ValueError(f"unknown grouping {by!r}; expected one of {', '.join(GROUPINGS)}")


def profile_groups(
    records: Iterable[Mapping[str, Any]],
    metas: Mapping[str, Mapping[str, Any]],
    labels: Sequence[str],
    *,
    by: str = "doc",
) -> list[dict[str, Any]]:
    """One row per group, largest first: `{group, paragraphs, documents, from_gold, counts, shares}`.

    `counts`/`shares` are per measure and `none`; a paragraph with two measures counts for both,
    so shares can add up to more than 1.
    """
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}; expected one of {', '.join(GROUPINGS)}")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {label: 0 for label in [*labels, "none"]})
    totals: dict[str, int] = defaultdict(int)
    gold: dict[str, int] = defaultdict(int)
    docs: dict[str, set[str]] = defaultdict(set)
    for record in records:
        for key in group_keys(record, metas.get(str(record["doc"]), {}), by):
            totals[key] += 1
            docs[key].add(str(record["doc"]))
            gold[key] += record.get("source") == "gold"
            for label in record["labels"] or ["none"]:
                counts[key][label] += 1
    rows = []
    for key in sorted(totals, key=lambda k: (-totals[k], k)):
        n = totals[key]
        rows.append({"group": key, "paragraphs": n, "documents": len(docs[key]), "from_gold": gold[key],
                     "counts": dict(counts[key]), "shares": {label: c / n for label, c in counts[key].items()}})
    return rows


def store_view(ws: Any, *, human_only: bool = False) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Every real paragraph of the store as a profile record, and every document's metadata.

    A paragraph's labels are its current human label (gold, or undisputed annotators' answers:
    `source` "gold"), else the active model's (`source` "model"); with `human_only`, paragraphs
    without a human label are left out. Codebook examples are never included. A document's
    metadata is what was stored at ingest, else what its gold rows carry (source_url, publisher,
    date), over what its text says (`metadata.extract_metadata`).
    """
    from . import store as db
    from .metadata import extract_metadata, merge_metadata
    from .scoring.decision import labels_from_scores

    store = ws.store
    docs = [row[0] for row in db.list_documents(store)]
    rows = [r for r in db.document_rows(store, docs) if not str(r[0]).startswith("codebook/")]
    ids = [r[2] for r in rows]
    current = db.current_labels(store, ids)
    gold = db.latest_gold(store, ids)
    saved = ws.model
    scores = {} if human_only or saved is None else ws.scores(ids, saved)
    thresholds = saved.thresholds() if saved is not None else {}
    records: list[dict[str, Any]] = []
    for doc, index, pid, text, lang, title, _section in rows:
        label = current.get(pid)
        if label is not None and label.status in ("gold", "labelled"):
            chosen, source = list(label.labels), "gold"
        elif pid in scores:
            chosen, source = labels_from_scores(store.taxonomy.label_ids, scores[pid], thresholds), "model"
        else:
            continue
        records.append({"id": pid, "doc": doc, "index": index, "lang": lang, "text": text, "title": title,
                        "labels": chosen, "source": source})
    stored = db.document_meta(store, docs)
    metas: dict[str, dict[str, Any]] = {}
    by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_doc[record["doc"]].append(record)
    for doc, members in by_doc.items():
        given = dict(stored.get(doc) or {})
        for member in members:
            extra = gold[member["id"]].extra if member["id"] in gold else {}
            for key in ("date", "publisher", "source_url", "campaign"):
                if extra.get(key) and not given.get(key):
                    given[key] = extra[key]
        extracted = extract_metadata([members[0]["title"], *(m["text"] for m in members)],
                                     langs=[m["lang"] for m in members])
        metas[doc] = merge_metadata(extracted, given)
    return records, metas
