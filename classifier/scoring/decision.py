"""The decision rule, in one place: calibrated probabilities, thresholds, labels from scores.

A label is on when its calibrated probability reaches its threshold. Probabilities are the
Platt sigmoid of the linear score, ``1 / (1 + exp(-(a * score + b)))`` with one ``(a, b)`` per
label; thresholds are per label, optionally scaled (``--threshold-scale``) and always capped
below 1 (`THRESHOLD_CAP`), so that no label becomes impossible. No label on means "none".
The estimator, the serving form, explanations, the score cache and every page call these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import LabelDataError

__all__ = [
    "THRESHOLD_CAP",
    "DEFAULT_THRESHOLD",
    "calibrated",
    "effective_thresholds",
    "effective_threshold",
    "decide",
    "is_on",
    "labels_from_scores",
    "uncertainty",
    "as_label_scores",
]

THRESHOLD_CAP = 0.999
DEFAULT_THRESHOLD = 0.5


def calibrated(scores: np.ndarray, calibration: np.ndarray) -> np.ndarray:
    """Platt-calibrated probabilities of linear scores; `calibration` is (n_labels, 2) of (a, b)."""
    a, b = calibration[:, 0], calibration[:, 1]
    return 1.0 / (1.0 + np.exp(-(scores * a + b)))


def effective_thresholds(thresholds: np.ndarray | Sequence[float], threshold_scale: float = 1.0) -> np.ndarray:
    """The thresholds actually applied: scaled, capped below 1."""
    return np.minimum(np.asarray(thresholds, dtype=np.float64) * threshold_scale, THRESHOLD_CAP)


def effective_threshold(threshold: float, threshold_scale: float = 1.0) -> float:
    """`effective_thresholds` for one label."""
    return float(min(threshold * threshold_scale, THRESHOLD_CAP))


def decide(probabilities: np.ndarray, thresholds: np.ndarray | Sequence[float], *,
           threshold_scale: float = 1.0) -> np.ndarray:
    """0/1 per label (rows of `probabilities`); an all-zero row means "none of the labels"."""
    return (probabilities >= effective_thresholds(thresholds, threshold_scale)).astype(np.int64)


def is_on(probability: float, threshold: float) -> bool:
    """One label's decision, for a probability and an (already effective) threshold."""
    return probability >= threshold


def as_label_scores(row: Mapping[str, float] | Sequence[float], label_ids: Sequence[str]) -> dict[str, float]:
    """A score row as `{label: p}`: a mapping as it is, or probabilities in codebook order."""
    if isinstance(row, Mapping):
        return {str(k): float(v) for k, v in row.items()}
    values = list(row)
    if len(values) != len(label_ids):
        raise LabelDataError(
            f"a score row has {len(values)} values but the codebook has {len(label_ids)} labels "
            f"({', '.join(label_ids)}); give one probability per label, in codebook order"
        )
    return {label: float(p) for label, p in zip(label_ids, values)}


def uncertainty(probabilities: Mapping[str, float], thresholds: Mapping[str, float] | None = None) -> float:
    """Distance to the nearest decision: min over labels of |p − threshold| (1.0 if no labels)."""
    thresholds = thresholds or {}
    nearest = 1.0
    for label, p in probabilities.items():
        distance = abs(p - thresholds.get(label, DEFAULT_THRESHOLD))
        if distance < nearest:
            nearest = distance
    return float(nearest)


def labels_from_scores(labels: Sequence[str], scores: Mapping[str, float],
                       thresholds: Mapping[str, float]) -> list[str]:
    """The labels whose probability reaches their (effective) threshold, in codebook order."""
    return [label for label in labels
            if is_on(scores[label], thresholds.get(label, DEFAULT_THRESHOLD))]
