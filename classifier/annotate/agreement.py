"""Inter-annotator agreement, and the review queues built on the same answers.

Agreement is measured on each annotator's latest `accept` answer per paragraph (a skip or a
flag is not a label). Every label is a binary decision per paragraph, so per label we report
Krippendorff's alpha (nominal, any number of annotators, missing answers allowed) and, when
exactly two annotators answered, Cohen's kappa; `overall` pools every (paragraph, label)
decision. Each annotator also gets their observed agreement and kappa with the others (pooled
over every other annotator on shared paragraphs) and with adjudicated gold. Values are None
where a coefficient is undefined (no shared paragraphs, or no variation at all).

The review queues return plain dicts, oldest first: `disagreements()` (annotators' latest
answers differ), `flagged()` (status `flagged`) and `likely_label_errors()` (the model
confidently contradicts the current gold).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from fractions import Fraction
from itertools import combinations
from typing import Any

from ..store import (
    Answer,
    Store,
    current_labels,
    get_paragraphs,
    gold_rows,
    latest_answers,
    latest_gold,
)

__all__ = [
    "cohen_kappa",
    "krippendorff_alpha",
    "agreement_report",
    "differs_from_gold",
    "disagreements",
    "flagged",
    "likely_label_errors",
]


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two annotators' paired decisions; None if undefined (no items, or both
    annotators always gave one and the same value, so chance agreement is 1)."""
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa needs paired decisions; got {len(a)} and {len(b)}")
    n = len(a)
    if n == 0:
        return None
    observed = Fraction(sum(x == y for x, y in zip(a, b)), n)
    count_a, count_b = Counter(a), Counter(b)
    expected = Fraction(sum(count_a[c] * count_b[c] for c in count_a), n * n)
    if expected == 1:
        return None
    return float((observed - expected) / (1 - expected))


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def krippendorff_alpha(units: Iterable[Sequence[Hashable | None]]) -> float | None:
    """Krippendorff's alpha for nominal data; one sequence of values per unit, None = missing.

    Units with fewer than two values are not pairable and are ignored. Computed exactly from
    the coincidence matrix: alpha = 1 − (n − 1) · Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k. None when
    undefined (no pairable values, or a single value throughout).
    """
    coincidences: dict[tuple[Hashable, Hashable], Fraction] = defaultdict(Fraction)
    for unit in units:
        values = [v for v in unit if not _missing(v)]
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                if pairs:
                    coincidences[c, k] += Fraction(pairs, m - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _), value in coincidences.items():
        totals[c] += value
    n = sum(totals.values())
    disagreement = sum(v for (c, k), v in coincidences.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if n == 0 or expected == 0:
        return None
    return float(1 - (n - 1) * disagreement / expected)


def _accepts(latest: Mapping[str, Mapping[str, Answer]]) -> dict[str, dict[str, frozenset[str]]]:
    out: dict[str, dict[str, frozenset[str]]] = {}
    for pid, by_annotator in latest.items():
        accepted = {a: frozenset(x.labels) for a, x in by_annotator.items() if x.answer == "accept"}
        if accepted:
            out[pid] = accepted
    return out


def _pooled(pairs: list[tuple[bool, bool]]) -> dict[str, Any]:
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    return {
        "decisions": len(pairs),
        "agreement": (sum(x == y for x, y in pairs) / len(pairs)) if pairs else None,
        "kappa": cohen_kappa(a, b),
    }


def agreement_report(store: Store, *, labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Agreement between annotators, per label and overall, and of each annotator.

    Returns `{"annotators", "paragraphs" (answered by two or more), "labels": {label: {"alpha",
    "kappa", "positives"}}, "overall": {"alpha", "kappa", "exact_match"}, "pairs": [{"annotators",
    "paragraphs", "agreement", "kappa", "labels": {label: kappa}}], "per_annotator": {name:
    {"paragraphs", "others": {"decisions", "agreement", "kappa"}, "gold": {...}}}}`.
    """
    label_ids = tuple(labels or store.taxonomy.label_ids)
    accepts = _accepts(latest_answers(store))
    gold = {pid: frozenset(g.labels) for pid, g in latest_gold(store).items()}
    annotators = sorted({a for by in accepts.values() for a in by})
    shared = {pid: by for pid, by in accepts.items() if len(by) >= 2}

    def units(label: str) -> list[list[bool | None]]:
        return [[(label in by[a]) if a in by else None for a in annotators] for by in shared.values()]

    two = len(annotators) == 2
    per_label: dict[str, dict[str, Any]] = {}
    for label in label_ids:
        pairs = [(label in by[annotators[0]], label in by[annotators[1]]) for by in shared.values()] if two else []
        per_label[label] = {
            "alpha": krippendorff_alpha(units(label)),
            "kappa": cohen_kappa([x for x, _ in pairs], [y for _, y in pairs]) if two else None,
            "positives": sum(label in labels_ for by in shared.values() for labels_ in by.values()),
        }
    pooled_units = [u for label in label_ids for u in units(label)]
    pooled_pairs = (
        [(label in by[annotators[0]], label in by[annotators[1]]) for by in shared.values() for label in label_ids]
        if two
        else []
    )
    overall = {
        "alpha": krippendorff_alpha(pooled_units),
        "kappa": _pooled(pooled_pairs)["kappa"] if two else None,
        "exact_match": (
            sum(len(set(by.values())) == 1 for by in shared.values()) / len(shared) if shared else None
        ),
    }

    pair_reports = []
    for x, y in combinations(annotators, 2):
        both = [by for by in accepts.values() if x in by and y in by]
        decisions = [(label in by[x], label in by[y]) for by in both for label in label_ids]
        report = _pooled(decisions)
        pair_reports.append(
            {
                "annotators": [x, y],
                "paragraphs": len(both),
                "agreement": report["agreement"],
                "kappa": report["kappa"],
                "labels": {
                    label: cohen_kappa([label in by[x] for by in both], [label in by[y] for by in both])
                    for label in label_ids
                },
            }
        )

    per_annotator: dict[str, dict[str, Any]] = {}
    for x in annotators:
        with_others = [
            (label in by[x], label in by[y])
            for by in shared.values() if x in by
            for y in by if y != x
            for label in label_ids
        ]
        with_gold = [
            (label in by[x], label in gold[pid])
            for pid, by in accepts.items() if x in by and pid in gold
            for label in label_ids
        ]
        per_annotator[x] = {
            "paragraphs": sum(x in by for by in accepts.values()),
            "others": _pooled(with_others),
            "gold": _pooled(with_gold),
        }
    return {
        "annotators": annotators,
        "paragraphs": len(shared),
        "labels": per_label,
        "overall": overall,
        "pairs": pair_reports,
        "per_annotator": per_annotator,
    }


def disagreements(store: Store) -> list[dict[str, Any]]:
    """Paragraphs whose annotators' latest accepted label sets differ, until a reviewer decides.

    A disagreement counts as soon as two annotators differ, on any paragraph — one with older
    gold too (an imported label does not settle what two annotators dispute); a gold decision
    made after the latest of those answers settles it. Each item: `paragraph_id`, `text`,
    `answers` {annotator: labels}, `labels` (the majority), `status` (`disputed` on a tie, else
    `labelled`, `gold` or `flagged`), `disputed_labels` and `differing_labels` (chosen by some
    but not all). Disputed first, then oldest first.
    """
    latest = latest_answers(store)
    gold = latest_gold(store, list(latest))
    items = []
    for pid, by in latest.items():
        accepted = {a: x.labels for a, x in sorted(by.items()) if x.answer == "accept"}
        if len(accepted) < 2 or len(set(accepted.values())) == 1:
            continue
        last_answer = max(x.created_at for x in by.values())
        if pid in gold and gold[pid].created_at > last_answer:
            continue
        chosen = Counter(label for labels in accepted.values() for label in labels)
        items.append((max(x.id for x in by.values()), pid, accepted, chosen))
    current = current_labels(store, [pid for _, pid, _, _ in items])
    texts = get_paragraphs(store, [pid for _, pid, _, _ in items])
    out = []
    for _, pid, accepted, chosen in sorted(items, key=lambda item: item[0]):
        label = current[pid]
        out.append(
            {
                "paragraph_id": pid,
                "text": texts[pid].text,
                "answers": {a: list(labels) for a, labels in accepted.items()},
                "labels": list(label.labels),
                "status": label.status,
                "disputed_labels": list(label.disputed_labels),
                "differing_labels": _differing(store, chosen, len(accepted)),
            }
        )
    out.sort(key=lambda item: item["status"] != "disputed")  # stable: oldest first within each
    return out


def differs_from_gold(store: Store) -> list[dict[str, Any]]:
    """Annotators' latest accepted answers that differ from the paragraph's gold label.

    What "agreement with gold" counts, one item per paragraph: `paragraph_id`, `text`,
    `gold_labels`, `answers` {annotator: labels} (only those that differ), `differing_labels`
    (in the gold or an answer but not both), `gold_source`. Most recent answer first.
    """
    latest = latest_answers(store)
    gold = latest_gold(store, list(latest))
    items = []
    for pid, decision in gold.items():
        wanted = frozenset(decision.labels)
        differ = {a: x for a, x in sorted(latest[pid].items()) if x.answer == "accept" and frozenset(x.labels) != wanted}
        if differ:
            split = set().union(*(wanted ^ frozenset(x.labels) for x in differ.values()))
            items.append((max(x.id for x in differ.values()), pid, decision, differ, split))
    texts = get_paragraphs(store, [pid for _, pid, *_ in items])
    return [
        {
            "paragraph_id": pid, "text": texts[pid].text, "gold_labels": list(decision.labels),
            "gold_source": decision.source, "answers": {a: list(x.labels) for a, x in differ.items()},
            "differing_labels": [x for x in store.taxonomy.label_ids if x in split],
        }
        for _, pid, decision, differ, split in sorted(items, key=lambda item: -item[0])
    ]


def _differing(store: Store, chosen: Counter[str], n: int) -> list[str]:
    split = {x for x, votes in chosen.items() if votes < n}
    known = [x for x in store.taxonomy.label_ids if x in split]
    return known + sorted(split - set(known))


def flagged(store: Store) -> list[dict[str, Any]]:
    """Paragraphs whose status is `flagged`, oldest flag first.

    Each item: `paragraph_id`, `text`, `flags` [{annotator, note, created_at}], `labels`
    (current), `gold` (whether an older gold decision exists).
    """
    latest = latest_answers(store)
    flags = {
        pid: [x for _, x in sorted(by.items()) if x.answer == "flag"]
        for pid, by in latest.items()
        if any(x.answer == "flag" for x in by.values())
    }
    current = current_labels(store, list(flags))
    gold = latest_gold(store, list(flags))
    texts = get_paragraphs(store, list(flags))
    out = []
    for pid in sorted(flags, key=lambda p: min(x.id for x in flags[p])):
        if current[pid].status != "flagged":
            continue
        out.append(
            {
                "paragraph_id": pid,
                "text": texts[pid].text,
                "flags": [{"annotator": x.annotator, "note": x.note, "created_at": x.created_at} for x in flags[pid]],
                "labels": list(current[pid].labels),
                "gold": pid in gold,
            }
        )
    return out


def likely_label_errors(
    store: Store,
    scores: Mapping[str, Mapping[str, float]],
    *,
    thresholds: Mapping[str, float] | None = None,
    margin: float = 0.4,
) -> list[dict[str, Any]]:
    """Gold labels the model confidently contradicts, most confident first.

    Checked against `gold_rows()` (adjudicated gold and undisputed annotator labels): the model
    gives p > threshold + margin for a label the gold lacks, or p < threshold − margin for one
    it has. With the default threshold 0.5 and margin 0.4 that is p > 0.9 or p < 0.1. Each item:
    `paragraph_id`, `text`, `label`, `p`, `gold_has_label`, `gold_labels`, `source`, `annotator`.
    """
    thresholds = thresholds or {}
    out = []
    for row in gold_rows(store):
        probabilities = scores.get(row.id)
        if probabilities is None:
            continue
        for label, p in probabilities.items():
            t = float(thresholds.get(label, 0.5))
            has = label in row.labels
            if (not has and p > t + margin) or (has and p < t - margin):
                out.append(
                    {
                        "paragraph_id": row.id,
                        "text": row.text,
                        "label": label,
                        "p": float(p),
                        "gold_has_label": has,
                        "gold_labels": list(row.labels),
                        "source": row.source,
                        "annotator": row.annotator,
                        "_distance": abs(float(p) - t),
                    }
                )
    out.sort(key=lambda item: -item["_distance"])
    for item in out:
        del item["_distance"]
    return out
