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

GROUPINGS = ("doc", "campaign", "year", "publisher", "lang")
NO_GROUP = "(none)"


def group_keys(record: Mapping[str, Any], meta: Mapping[str, Any], by: str) -> list[str]:
    """The groups a paragraph counts in under `by`."""
    if by == "doc":
        return [str(record["doc"])]
    if by == "lang":
        return [str(record.get("lang") or NO_GROUP)]
    if by == "year":
        date = str(meta.get("date") or "")
        return [date[:4] if date[:4].isdigit() else NO_GROUP]
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
