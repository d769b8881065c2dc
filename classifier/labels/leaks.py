"""Leaks between labelled data and a held-out set: same page, same story, or a near-copy.

A training row leaks a held-out set when it comes from one of its pages (same `source_url`),
tells one of its stories (its document shares two or more *distinctive figures* with a held-out
document, in any language: ``1,461`` and ``1461``, ``1.67万`` and ``16,700`` are the same
figure), or is a near-copy of one of its paragraphs (most of its character 5-grams, after
folding, occur in it). `find_leaks()` reports each such row with the reason; `story_groups()`
joins labelled documents that tell the same story, so cross-validation keeps a story on one
side of a split.

A distinctive figure is a number that is unlikely to repeat by chance: a percentage, or a
value of at least 100 with two or more significant digits (``735``, ``1,461``, ``1.67万``) that
is not a year. Ages, days, counts like 20 or 30 and round numbers (300, 8,000, 0.8万) are not
distinctive.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..text.normalize import fold

__all__ = ["Leak", "figures", "find_leaks", "story_groups", "NEAR_COPY_SHARE"]

NEAR_COPY_SHARE = 0.6  # share of the shorter text's character 5-grams found in the other
_MIN_COPY_CHARS = 40  # shorter texts are not compared for copying (a shared phrase is no copy)
_GRAM = 5
_MULTIPLIERS = {"万": 1e4, "亿": 1e8, "million": 1e6, "billion": 1e9, "thousand": 1e3}
# Digit runs with thousands separators or decimals, then an optional multiplier or percent sign.
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s?(万|亿|million|billion|thousand|%)?")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Leak:
    """One labelled row that collides with the reference set, and why."""

    row: int  # index of the row in the checked rows
    id: str
    reason: str  # "same source_url", "same story", "near-copy"
    detail: str  # what matched (the url, the shared figures, the reference id)

    def __str__(self) -> str:
        return f"row {self.row + 1} ({self.id}): {self.reason} — {self.detail}"


def figures(text: str) -> frozenset[str]:
    """The distinctive figures of a text, as canonical strings (``n:1461``, ``pct:12.5``)."""
    out = set()
    for match in _NUMBER.finditer(fold(text)):
        whole, decimals, unit = match.group(1), match.group(2), match.group(3)
        value = float(whole.replace(",", "") + (f".{decimals}" if decimals else ""))
        if unit == "%":
            out.add(f"pct:{value:g}")
            continue
        if unit:
            value *= _MULTIPLIERS[unit]
        elif decimals is None and "," not in whole and 1900 <= value <= 2099:
            continue  # a year
        if value < 100 or len(f"{value:.6g}".replace(".", "").strip("0")) < 2:
            continue  # small or round
        out.add(f"n:{value:.6g}")
    return frozenset(out)


def _grams(text: str) -> set[str]:
    folded = _SPACE.sub("", fold(text))
    return {folded[i : i + _GRAM] for i in range(len(folded) - _GRAM + 1)}


def _near_copy(a: set[str], b: set[str]) -> bool:
    shorter = min(len(a), len(b))
    return shorter >= _MIN_COPY_CHARS - _GRAM + 1 and len(a & b) >= NEAR_COPY_SHARE * shorter


def _documents(rows: Sequence[Mapping]) -> dict[str, list[int]]:
    """Rows grouped by page: `source_url` when present, else `doc`."""
    by_doc: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_doc[str(row.get("source_url") or row.get("doc") or f"row:{i}")].append(i)
    return by_doc


def find_leaks(rows: Sequence[Mapping], reference: Sequence[Mapping]) -> list[Leak]:
    """Rows (dicts with `text`, optional `id`, `doc`, `source_url`) that leak `reference`.

    A row is reported once, with the first reason found in the order: same source_url, same
    story (its page shares two or more distinctive figures with a reference page), near-copy.
    """
    ref_urls = {str(r["source_url"]) for r in reference if r.get("source_url")}
    ref_docs = _documents(reference)
    ref_figures = {doc: frozenset().union(*(figures(reference[i]["text"]) for i in idx)) for doc, idx in ref_docs.items()}
    by_figure: dict[str, set[str]] = defaultdict(set)
    for doc, found in ref_figures.items():
        for figure in found:
            by_figure[figure].add(doc)
    ref_grams = [(str(r.get("id", "")), _grams(r["text"])) for r in reference]
    leaks: list[Leak] = []
    for page, idx in _documents(rows).items():
        page_figures = frozenset().union(*(figures(rows[i]["text"]) for i in idx))
        shared: dict[str, set[str]] = defaultdict(set)
        for figure in page_figures:
            for doc in by_figure.get(figure, ()):
                shared[doc].add(figure)
        story = next(((doc, found) for doc, found in shared.items() if len(found) >= 2), None)
        for i in idx:
            row = rows[i]
            rid = str(row.get("id", ""))
            url = str(row.get("source_url") or "")
            if url and url in ref_urls:
                leaks.append(Leak(i, rid, "same source_url", url))
            elif story is not None:
                leaks.append(Leak(i, rid, "same story",
                                  f"shares {', '.join(sorted(_show(f) for f in story[1]))} with {story[0]}"))
            else:
                grams = _grams(row["text"])
                copied = next((ref_id for ref_id, other in ref_grams if _near_copy(grams, other)), None)
                if copied is not None:
                    leaks.append(Leak(i, rid, "near-copy", f"of reference paragraph {copied or '?'}"))
    return sorted(leaks, key=lambda leak: leak.row)


def _show(figure: str) -> str:
    kind, _, value = figure.partition(":")
    return f"{value}%" if kind == "pct" else value


def story_groups(rows: Sequence[Mapping]) -> list[str]:
    """A story id per row: pages sharing two or more distinctive figures are one story.

    Rows of one page (`source_url`, else `doc`) always share a story. Pages are joined
    transitively (union-find), so a story told by three outlets is one group.
    """
    pages = _documents(rows)
    names = list(pages)
    parent = {name: name for name in names}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    page_figures = {name: frozenset().union(*(figures(rows[i]["text"]) for i in pages[name])) for name in names}
    owners: dict[str, list[str]] = defaultdict(list)
    for name in names:
        for figure in page_figures[name]:
            owners[figure].append(name)
    pair_counts: dict[tuple[str, str], int] = defaultdict(int)
    for holders in owners.values():
        if len(holders) > 50:  # a figure on fifty pages is a constant, not a story
            continue
        for a_i, a in enumerate(holders):
            for b in holders[a_i + 1 :]:
                pair_counts[(a, b)] += 1
    for (a, b), count in pair_counts.items():
        if count >= 2:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[rb] = ra
    out = [""] * len(rows)
    for name, idx in pages.items():
        for i in idx:
            out[i] = "story:" + find(name)
    return out
