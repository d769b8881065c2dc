"""What the store returns, and the rule that derives a paragraph's current label.

`Answer` and `GoldDecision` are rows as stored; `CurrentLabel` is derived (`derive`):

* the latest gold adjudication, if there is one, is the label (status `gold`);
* otherwise every annotator's latest answer counts once. Only `accept` answers carry labels; a
  label is in the current set when a strict majority of those annotators chose it. A label chosen
  by exactly half of them is unresolved: status `disputed` (it appears in `disputed_labels`, not
  in `labels`). With one annotator, or a majority on every label, the status is `labelled`;
* if some annotator's latest answer is `flag` (newer than the latest gold, if any), the status is
  `flagged` whatever else holds — the paragraph waits for a reviewer; labels are as above;
* no gold and no `accept` answer: `unlabelled`.

`Pool` says which paragraphs an annotator may be given. Name and label validation live here.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import LabelDataError, StoreError

__all__ = ["ANSWERS", "STATUSES", "Answer", "GoldDecision", "CurrentLabel", "Claim", "Pool", "derive"]


ANSWERS = ("accept", "skip", "flag")


STATUSES = ("unlabelled", "labelled", "disputed", "gold", "flagged")


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
    source: str = "app"  # "app" (the Label page) or "import:<file>" (`pmc answers import`)


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
class Claim:
    """An annotator's claim on the paragraph they are shown; `token` identifies that rendering."""

    paragraph_id: str
    annotator: str
    token: str
    expires_at: str


@dataclass(frozen=True)
class Pool:
    """Which paragraphs an annotator may be given next.

    A paragraph is in the pool when the annotator has not answered it, it has no gold (unless
    `include_gold`) and is not a codebook example (unless `include_codebook`: those are training
    material written for the codebook, not real text), no other annotator holds an unexpired
    claim on it, and it is not taken:
    other annotators' non-skip answers count, and a paragraph is taken after one of them —
    or after `overlap_annotators` of them when it is among the `overlap` share chosen for
    double annotation (a stable hash of its id, so the same paragraphs are always chosen).
    """

    annotator: str
    overlap: float = 0.0
    overlap_annotators: int = 2
    include_gold: bool = False
    include_codebook: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "annotator", _check_name(self.annotator, what="annotator"))
        if not 0.0 <= self.overlap <= 1.0:
            raise StoreError(f"overlap is {self.overlap!r}; give a share between 0 and 1")
        if self.overlap_annotators < 1:
            raise StoreError(
                f"overlap_annotators is {self.overlap_annotators!r}; give 2 or more (1 turns overlap off)"
            )


def _check_name(value: Any, *, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise LabelDataError(f"{what} is {value!r}; give a non-empty name (who is answering)")
    return value.strip()


def _labels(store: Any, labels: Any, *, where: str) -> tuple[str, ...]:
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


def _ordered(store: Any, labels: Iterable[str]) -> tuple[str, ...]:
    """Codebook order; labels the codebook no longer has (renamed since) go last, sorted."""
    labels = set(labels)
    known = [x for x in store.taxonomy.label_ids if x in labels]
    return tuple(known + sorted(labels - set(known)))


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
        source=row[9],
    )


_ANSWER_COLUMNS = "id, paragraph_id, annotator, answer, labels, model_version, scores, note, created_at, source"


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


def derive(
    store: Any, pid: str, latest: Mapping[str, Answer], gold: GoldDecision | None
) -> CurrentLabel:
    """The current label of one paragraph from its annotators' latest answers and latest gold."""
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
