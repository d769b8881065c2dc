"""Choosing the next paragraph to annotate: query strategies over the store's pool.

As in small-text, a query strategy takes the pool — the paragraphs one annotator may be given
(`store.Pool`: not answered by them, not gold, not claimed or taken by someone else), seen
through a `store.PoolView` (ordered walks and a membership test: no SQL here) — and returns up
to `n` paragraph ids, best first; a pool with nothing left raises `EmptyPoolError` instead of
returning nothing. Four strategies, selectable by name (`STRATEGIES`):

* `active` — uncertainty sampling: the paragraph whose model probability is nearest a label's
  threshold (smallest min over labels of |p − t|), except that a `random_share` (default 0.2) of
  picks are random pool paragraphs, so the labelled sample stays usable for unbiased
  evaluation. Scores come from the caller (a mapping) or from the store's score cache for a
  model version (`workspace.cache_scores()`, filled once per model: refreshing the queue is
  then one indexed query, not a re-scoring of the pool). Pool paragraphs without scores are reached
  through the random share, and once every scored one is answered.
* `random` — a uniformly random start in a fixed hashed order of the pool, then the next pool
  paragraph in that order (uniform up to the gaps answered paragraphs leave; no pool count).
* `document` — document order, as the documents were added.
* `keyword` — document order among paragraphs containing one of a list of terms, by default the
  codebook terms of one label (`label_matcher()`), to find examples of a rare label. The store
  pre-filters on each paragraph's stored search form; `TermMatcher` then checks whole words.

`next_paragraph()` asks a strategy, claims the first pick atomically (two sessions never get
the same paragraph at once) and returns it with the model suggestion. With a `seed`, picks are
deterministic: the generator is seeded from the seed, the annotator and their answer count.
This module never imports the model or the tokenizer; the caller computes the scores.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import EmptyPoolError, LabelDataError, StoreError
from ..labels.taxonomy import Taxonomy
from ..scoring.decision import as_label_scores, uncertainty
from ..store import (
    DEFAULT_CLAIM_SECONDS,
    Pool,
    PoolView,
    Store,
    answer_count,
    claim_paragraph,
)
from ..text.normalize import search_key

__all__ = [
    "STRATEGIES",
    "DEFAULT_RANDOM_SHARE",
    "Pick",
    "QueueItem",
    "QueryStrategy",
    "UncertaintySampling",
    "RandomSampling",
    "DocumentOrder",
    "KeywordSampling",
    "TermMatcher",
    "make_strategy",
    "next_paragraph",
    "rank_by_uncertainty",
    "label_matcher",
]

STRATEGIES = ("active", "random", "document", "keyword")
SECOND_REASON = "needs a second, independent answer"
DEFAULT_RANDOM_SHARE = 0.2
_BATCH = 4  # picks asked per attempt: the next ones are ready if another session claims the first
_ATTEMPTS = 8

Scores = Mapping[str, Mapping[str, float] | Sequence[float]]


@dataclass(frozen=True)
class Pick:
    """One paragraph a strategy proposes, with why."""

    paragraph_id: str
    reason: str
    uncertainty: float | None = None


@dataclass(frozen=True)
class QueueItem:
    """The paragraph handed to an annotator, claimed for them until `claim_expires_at`.

    `token` identifies this hand-out: only an answer carrying it is saved.
    """

    paragraph_id: str
    strategy: str
    reason: str
    uncertainty: float | None
    claim_expires_at: str
    token: str = ""


class QueryStrategy(Protocol):
    """What `next_paragraph()` needs: a name and `query(pool, n=, rng=) -> [Pick]`."""

    name: str

    def query(self, pool: PoolView, *, n: int, rng: random.Random) -> list[Pick]: ...


# --------------------------------------------------------------------------------------------
# Scores


def rank_by_uncertainty(
    scores: Scores,
    thresholds: Mapping[str, float] | None = None,
    *,
    label_ids: Sequence[str] = (),
) -> list[tuple[str, float]]:
    """`(paragraph_id, uncertainty)` pairs, most uncertain first (ties keep the input order).

    A score row is `{label: p}` or a sequence of probabilities in `label_ids` order.
    """
    ranked = [
        (pid, uncertainty(as_label_scores(row, label_ids), thresholds)) for pid, row in scores.items()
    ]
    return sorted(ranked, key=lambda pair: pair[1])


# --------------------------------------------------------------------------------------------
# Keyword matching


class TermMatcher:
    """`matcher(text)`: does the text contain one of the terms?

    Case- and width-insensitive, Traditional Chinese matched through its Simplified form, and
    ASCII terms match whole words only ("port" does not match "support"; "ports" is its own term).
    """

    def __init__(self, terms: Iterable[str]) -> None:
        folded = sorted({search_key(t).strip() for t in terms if t.strip()}, key=len, reverse=True)
        if not folded:
            raise LabelDataError("no terms to match; give at least one non-empty term")
        self.terms = tuple(folded)
        # A plain substring test first (fast, in C); the word-boundary regex only for a hit.
        self._checks = [
            (t, re.compile(rf"(?<![0-9a-z]){re.escape(t)}(?![0-9a-z])") if t.isascii() else None)
            for t in folded
        ]

    def __call__(self, text: str) -> bool:
        folded = search_key(text)
        return any(
            term in folded and (word is None or word.search(folded) is not None)
            for term, word in self._checks
        )

    def __repr__(self) -> str:
        return f"TermMatcher({len(self.terms)} terms)"


def label_matcher(label: str, *, taxonomy: Taxonomy) -> TermMatcher:
    """A matcher for the codebook concept terms (zh and en) of one label."""
    if label not in taxonomy.label_ids:
        raise LabelDataError(
            f"unknown label {label!r} for the keyword strategy; expected one of "
            f"{', '.join(taxonomy.label_ids)}"
        )
    category = taxonomy.category(label)
    return TermMatcher(category.terms_zh + category.terms_en)


# --------------------------------------------------------------------------------------------
# Strategies


def _exhausted(pool: PoolView, what: str = "") -> EmptyPoolError:
    return EmptyPoolError(
        f"no paragraph left{what} for annotator {pool.annotator!r}; add documents, "
        f"pick another strategy, or review what is there"
    )


class RandomSampling:
    """Random pool paragraphs (the unbiased baseline)."""

    name = "random"

    def __init__(self, *, reason: str = "random") -> None:
        self.reason = reason

    def query(self, pool: PoolView, *, n: int, rng: random.Random) -> list[Pick]:
        rows = pool.walk("shuffled", start=rng.random(), limit=n)
        if not rows:
            raise _exhausted(pool)
        return [Pick(pid, self.reason) for pid, _ in rows]


class DocumentOrder:
    """Pool paragraphs in document order."""

    name = "document"

    def query(self, pool: PoolView, *, n: int, rng: random.Random) -> list[Pick]:
        rows = pool.walk("document", limit=n)
        if not rows:
            raise _exhausted(pool)
        return [Pick(pid, "document order") for pid, _ in rows]


class KeywordSampling:
    """Pool paragraphs containing one of the matcher's terms (whole words), in document order."""

    name = "keyword"
    _WINDOW = 64  # candidates fetched per round from the store's substring pre-filter

    def __init__(self, matcher: TermMatcher, *, label: str = "") -> None:
        self.matcher = matcher
        self.label = label

    def query(self, pool: PoolView, *, n: int, rng: random.Random) -> list[Pick]:
        what = f" matching the terms of {self.label!r}" if self.label else " matching the keywords"
        found: list[str] = []
        offset = 0
        while len(found) < n:
            rows = pool.walk("document", terms=self.matcher.terms, limit=self._WINDOW, offset=offset)
            if not rows:
                break
            texts = pool.texts([pid for pid, _ in rows])
            found += [pid for pid, _ in rows if pid in texts and self.matcher(texts[pid])]
            offset += len(rows)
        if not found:
            raise _exhausted(pool, what)
        return [Pick(pid, what.strip()) for pid in found[:n]]


class UncertaintySampling:
    """Most uncertain pool paragraphs first, with a share of random ones (see module docstring).

    Give `scores` (`{paragraph_id: {label: p}}`, ranked once per instance, fine for small pools)
    or the `model_version` whose cached scores to use (fast at any size).
    """

    name = "active"

    def __init__(
        self,
        *,
        model_version: str | None = None,
        scores: Scores | None = None,
        thresholds: Mapping[str, float] | None = None,
        random_share: float = DEFAULT_RANDOM_SHARE,
        label_ids: Sequence[str] = (),
    ) -> None:
        if not 0.0 <= random_share <= 1.0:
            raise StoreError(f"random_share is {random_share!r}; give a share between 0 and 1")
        self.model_version = model_version
        self.scores = scores
        self.thresholds = thresholds
        self.random_share = random_share
        self.label_ids = tuple(label_ids)
        self._ranked: list[tuple[str, float]] | None = None

    def query(self, pool: PoolView, *, n: int, rng: random.Random) -> list[Pick]:
        coins = [rng.random() < self.random_share for _ in range(n)]
        uncertain = iter(self._uncertain(pool, coins.count(False)))
        randoms: Iterator[Pick] | None = None
        picks: dict[str, Pick] = {}
        for use_random in coins:
            pick = None if use_random else next(uncertain, None)
            if pick is None:
                if randoms is None:
                    reason = "random share (keeps the sample unbiased)"
                    randoms = iter(RandomSampling(reason=reason).query(pool, n=n, rng=rng))
                pick = next(randoms, None)
                if pick is not None and not use_random:
                    pick = Pick(pick.paragraph_id, "random: no model scores left for this pool")
            if pick is not None:
                picks.setdefault(pick.paragraph_id, pick)
        return list(picks.values())

    def _uncertain(self, pool: PoolView, n: int) -> list[Pick]:
        if n == 0:
            return []
        if self.scores is not None:
            if self._ranked is None:
                self._ranked = rank_by_uncertainty(self.scores, self.thresholds, label_ids=self.label_ids)
            found: list[Pick] = []
            step = max(64, 8 * n)
            for start in range(0, len(self._ranked), step):
                chunk = self._ranked[start : start + step]
                eligible = set(pool.keep([pid for pid, _ in chunk]))
                found += [self._pick(pid, u) for pid, u in chunk if pid in eligible]
                if len(found) >= n:
                    break
            return found[:n]
        if self.model_version is not None:
            rows = pool.walk("uncertainty", model_version=self.model_version, limit=n)
            return [self._pick(pid, u) for pid, u in rows]
        return []

    def _pick(self, pid: str, u: float | None) -> Pick:
        return Pick(pid, f"uncertain: {u:.3f} from a threshold", u)


def make_strategy(
    name: str,
    *,
    taxonomy: Taxonomy,
    model_version: str | None = None,
    scores: Scores | None = None,
    thresholds: Mapping[str, float] | None = None,
    random_share: float = DEFAULT_RANDOM_SHARE,
    label: str | None = None,
    terms: Sequence[str] | None = None,
) -> QueryStrategy:
    """A strategy by name (`STRATEGIES`); `keyword` needs `label` or `terms`."""
    if name == "active":
        return UncertaintySampling(
            model_version=model_version, scores=scores, thresholds=thresholds,
            random_share=random_share, label_ids=taxonomy.label_ids,
        )
    if name == "random":
        return RandomSampling()
    if name == "document":
        return DocumentOrder()
    if name == "keyword":
        if not terms and label is None:
            raise LabelDataError(
                "the keyword strategy needs a label whose codebook terms to look for "
                "(or a list of terms); choose a label"
            )
        matcher = TermMatcher(terms) if terms else label_matcher(label or "", taxonomy=taxonomy)
        return KeywordSampling(matcher, label=label or "")
    raise StoreError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


# --------------------------------------------------------------------------------------------
# The next paragraph


def next_paragraph(
    store: Store,
    *,
    annotator: str,
    strategy: str | QueryStrategy = "active",
    scores: Scores | None = None,
    thresholds: Mapping[str, float] | None = None,
    model_version: str | None = None,
    label: str | None = None,
    terms: Sequence[str] | None = None,
    random_share: float = DEFAULT_RANDOM_SHARE,
    overlap: float = 0.0,
    overlap_annotators: int = 2,
    include_gold: bool = False,
    include_codebook: bool = False,
    second_first: bool = True,
    claim_seconds: float = DEFAULT_CLAIM_SECONDS,
    seed: int | None = None,
) -> QueueItem:
    """Pick the annotator's next paragraph with a strategy and claim it for them.

    The paragraph is one the annotator has not answered, without gold (unless `include_gold`),
    not claimed by anyone else and not taken: with `overlap=0` every paragraph goes to one
    annotator; a stable `overlap` share (by id hash) goes to `overlap_annotators` for agreement.
    Codebook examples are left out unless `include_codebook`. With `second_first` (the default),
    paragraphs another annotator answered that still need this one's independent answer come
    before any strategy's pick. The active strategy ranks by `scores`, or by the score cache of
    `model_version`. The claim lasts `claim_seconds` or until the annotator answers, and
    replaces their previous claim. Raises `EmptyPoolError` when nothing is left.
    """
    pool = Pool(annotator, overlap=overlap, overlap_annotators=overlap_annotators, include_gold=include_gold,
                include_codebook=include_codebook)
    view = PoolView(store, pool)
    if isinstance(strategy, str):
        chosen = make_strategy(
            strategy, taxonomy=store.taxonomy, model_version=model_version, scores=scores,
            thresholds=thresholds, random_share=random_share, label=label, terms=terms,
        )
    else:
        chosen = strategy
    rng = (
        random.Random(f"{seed}:{pool.annotator}:{answer_count(store, pool.annotator)}")
        if seed is not None
        else random.Random()
    )
    for attempt in range(_ATTEMPTS):
        seconds = (view.walk("second", limit=2 * _BATCH)
                   if second_first and pool.overlap > 0 and chosen.name in ("active", "random") else [])
        # Among the oldest that need a second answer, each session tries its own order: several
        # annotators then rarely race for the same paragraph (a lost race costs a claim).
        rng.shuffle(seconds)
        picks = [Pick(pid, SECOND_REASON) for pid, _ in seconds]
        if not picks or attempt > 0:  # after a lost race for the second answers, the strategy's too
            picks += chosen.query(view, n=_BATCH, rng=rng)
        for pick in picks:
            claim = claim_paragraph(store, pool, pick.paragraph_id, seconds=claim_seconds)
            if claim is not None:
                return QueueItem(pick.paragraph_id, chosen.name, pick.reason, pick.uncertainty, claim.expires_at,
                                 claim.token)
    raise StoreError(
        f"{store.path}: other sessions claimed every paragraph offered to {pool.annotator!r} "
        f"{_ATTEMPTS} times in a row; try again"
    )
