"""Explanations: which features pushed each label up or down, mapped back to text spans.

For a linear model the contribution of a feature to a label's score is its value times its
weight, so the explanation is exact, not an approximation. `explain_text()` works on the
serving form (no unpickling): it folds the paragraph once, computes its feature row once, and
returns per label the calibrated probability (from that same row), the effective threshold, the
decision and the strongest evidence — words and word pairs, Han character n-grams and codebook
concepts — each with its weight and the character spans of the ORIGINAL text where it occurs.
`highlight_spans()` picks non-overlapping spans to highlight.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..text.normalize import fold_with_offsets
from . import blocks as B
from .decision import effective_thresholds, is_on
from .serving import ServingModel

__all__ = ["Evidence", "LabelExplanation", "explain_text", "highlight_spans"]


@dataclass(frozen=True)
class Evidence:
    feature: str  # as shown to people: the word, n-gram or concept
    kind: str  # "word", "chars", "concept" or "category"
    weight: float  # contribution to the label's score (value x coefficient)
    spans: tuple[tuple[int, int], ...]  # character spans in the original text


@dataclass(frozen=True)
class LabelExplanation:
    label: str
    probability: float
    threshold: float
    predicted: bool
    bias: float
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain_text(model: ServingModel, text: str, *, top: int = 8,
                 threshold_scale: float = 1.0) -> list[LabelExplanation]:
    """Per-label explanation of `model`'s decision on one text, strongest evidence first."""
    folded, offsets = fold_with_offsets(text)
    vector = model.features([folded]).tocsr()
    probabilities = model.probabilities_of(vector)[0]
    thresholds = effective_thresholds(model.thresholds, threshold_scale)
    names = model.feature_names()
    matcher = model.concept_matcher()
    concept_spans: dict[str, list[tuple[int, int]]] = {}
    for match in matcher.find(text, folded=(folded, offsets)) if matcher is not None else []:
        concept_spans.setdefault(match.concept, []).append((match.start, match.end))

    explanations = []
    for j, label in enumerate(model.labels):
        contributions = vector.data * model.coef[vector.indices, j]
        order = np.argsort(-np.abs(contributions))[:top]
        evidence = []
        for k in order:
            if contributions[k] == 0:
                continue
            kind, shown, spans = _describe(names[vector.indices[k]], folded, offsets, concept_spans)
            evidence.append(Evidence(shown, kind, round(float(contributions[k]), 4), spans))
        explanations.append(LabelExplanation(
            label=str(label),
            probability=round(float(probabilities[j]), 4),
            threshold=round(float(thresholds[j]), 4),
            predicted=is_on(float(probabilities[j]), float(thresholds[j])),
            bias=round(float(model.intercept[j]), 4),
            evidence=tuple(evidence),
        ))
    return explanations


def _describe(
    name: str, folded: str, offsets: Sequence[int], concept_spans: dict[str, list[tuple[int, int]]]
) -> tuple[str, str, tuple[tuple[int, int], ...]]:
    block, _, feature = name.partition("__")
    if block == B.CONCEPTS:
        kind, _, key = feature.partition(":")
        if kind == "category":
            spans = [s for concept, found in concept_spans.items() if concept.startswith(key + "/") for s in found]
        else:
            spans = concept_spans.get(key, [])
        return kind, feature, tuple(sorted(set(spans)))
    pattern = _token_pattern(feature)
    spans = []
    for match in pattern.finditer(folded):
        if match.end() > match.start():
            spans.append((offsets[match.start()], offsets[match.end() - 1] + 1))
    return ("chars" if block in (B.CHARS, B.SUBWORDS) else "word"), feature, tuple(spans)


def _token_pattern(feature: str) -> re.Pattern[str]:
    parts = []
    for token in feature.split(" "):
        if token == "<num>":
            parts.append(r"\d[\d,.]*%?")
        elif token == "<year>":
            parts.append(r"(?:19|20)\d\d")
        else:
            piece = re.escape(token)
            if re.match(r"[a-z0-9]", token):
                piece = r"(?<![a-z0-9])" + piece + r"[a-z]{0,4}(?![a-z0-9])"
            parts.append(piece)
    return re.compile(r"[^\w\u4e00-\u9fff]*".join(parts))


def highlight_spans(explanations: list[LabelExplanation], *, label: str | None = None,
                    positive_only: bool = True) -> list[tuple[int, int, str, float]]:
    """Non-overlapping (start, end, label, weight) spans to highlight, strongest first wins."""
    candidates = []
    for explanation in explanations:
        if label is not None and explanation.label != label:
            continue
        for item in explanation.evidence:
            if positive_only and item.weight <= 0:
                continue
            for start, end in item.spans:
                candidates.append((start, end, explanation.label, item.weight))
    candidates.sort(key=lambda c: -abs(c[3]))
    chosen: list[tuple[int, int, str, float]] = []
    for start, end, lab, weight in candidates:
        if all(end <= s or start >= e for s, e, _, _ in chosen):
            chosen.append((start, end, lab, weight))
    return sorted(chosen)
