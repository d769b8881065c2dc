"""The multi-label measure classifier: features, one linear model per label, calibration, thresholds.

`MeasureClassifier` is a scikit-learn estimator (parameters in `__init__`, learned attributes
ending in `_`, clone-able and picklable). `fit(texts, Y, groups=...)`:

1. builds the feature pipeline (`features.build_vectorizer`) and fits it on the texts;
2. runs a grouped inner cross-validation to collect out-of-fold decision scores per label, fits
   a Platt sigmoid per label on them (calibrated probabilities), and picks each label's
   threshold where its out-of-fold F1 is highest (ties broken towards 0.5);
3. fits one class-balanced LogisticRegression per label on all the data. With ``nb_scale`` = α > 0
   each label's fit sees the features scaled by their naive-Bayes log-count ratios (presence in
   positives vs negatives, α-smoothed; Wang & Manning's NBSVM, with logistic loss): the penalty
   then spares the features that separate that label. The weights are scaled back, so the model
   is still ``features @ coef_.T + intercept_`` over the same features and serves unchanged.

`predict_proba` returns calibrated per-label probabilities; `predict` applies the thresholds
(optionally scaled), and a row where no label clears its threshold means "none" — both through
`scoring.decision`, the one decision rule. Texts are folded once (`text.normalize.fold`) before
the feature union sees them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from ..labels.splits import grouped_kfold
from ..progress import Step
from ..scoring import blocks as B
from ..scoring.decision import calibrated, decide
from ..scoring.featurize import gram_counts, tfidf_from_counts
from ..text.concepts import Lexicon
from .features import build_vectorizer, fold_batch

__all__ = ["MeasureClassifier"]

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[a-z]{3}")
_THRESHOLD_GRID = np.round(np.arange(0.10, 0.91, 0.05), 2)


class MeasureClassifier(BaseEstimator, ClassifierMixin):
    """Bilingual TF-IDF + concept-feature one-vs-rest logistic regression with calibration."""

    def __init__(
        self,
        *,
        labels: tuple[str, ...] = (),
        lexicon: Lexicon = (),
        use_words: bool = True,
        word_ngrams: tuple[int, int] = (1, 2),
        stem: bool = False,
        term_dictionary: bool = True,
        min_df: int = 1,
        word_weight: float = 1.0,
        use_concepts: bool = True,
        concept_weight: float = 1.0,
        use_chars: bool = False,
        use_subwords: bool = False,
        C: float = 4.0,
        calibrate: bool = True,
        tune_thresholds: bool = True,
        inner_folds: int = 5,
        random_state: int = 0,
        nb_scale: float = 0.0,
        source_weights: tuple[tuple[str, float], ...] = (),
        calibrate_sources: tuple[str, ...] = (),
    ) -> None:
        self.labels = labels
        self.lexicon = lexicon
        self.use_words = use_words
        self.word_ngrams = word_ngrams
        self.stem = stem
        self.term_dictionary = term_dictionary
        self.min_df = min_df
        self.word_weight = word_weight
        self.use_concepts = use_concepts
        self.concept_weight = concept_weight
        self.use_chars = use_chars
        self.use_subwords = use_subwords
        self.C = C
        self.calibrate = calibrate
        self.tune_thresholds = tune_thresholds
        self.inner_folds = inner_folds
        self.random_state = random_state
        self.nb_scale = nb_scale
        self.source_weights = source_weights
        self.calibrate_sources = calibrate_sources

    # -- fitting -------------------------------------------------------------------------
    def _vectorizer(self, texts: Sequence[str]):  # noqa: ANN202 - a sklearn FeatureUnion
        # Han character n-grams need Han text to learn from (an all-English training set has none).
        chars = self.use_chars and any(_HAN.search(t) for t in texts)
        subwords = self.use_subwords and any(_LATIN.search(t) for t in texts)
        return build_vectorizer(
            self.lexicon, use_words=self.use_words, word_ngrams=self.word_ngrams, stem=self.stem,
            term_dictionary=self.term_dictionary, min_df=self.min_df, word_weight=self.word_weight,
            use_concepts=self.use_concepts, concept_weight=self.concept_weight,
            use_chars=chars, use_subwords=subwords,
        )

    def _fit_linear(self, X: sp.spmatrix, Y: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        n_labels = Y.shape[1]
        coef = np.zeros((n_labels, X.shape[1]))
        intercept = np.full(n_labels, -10.0)  # a label never seen positive is never predicted
        present = (X != 0).astype(np.float64).tocsr() if self.nb_scale else None
        for j in range(n_labels):
            y = Y[:, j]
            if 0 < y.sum() < len(y):
                scale = _nb_ratios(present, y, self.nb_scale) if present is not None else None
                lr = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000,
                                        solver="liblinear")
                lr.fit(X if scale is None else X @ sp.diags(scale), y, sample_weight=weight)
                coef[j], intercept[j] = lr.coef_[0] * (1.0 if scale is None else scale), lr.intercept_[0]
            elif y.sum() == len(y):
                intercept[j] = 10.0
        return coef, intercept

    def fit(self, X: Sequence[str], Y: np.ndarray, groups: Sequence[str] | None = None,
            sources: Sequence[str] | None = None, progress: Callable[[str], None] | None = None) -> MeasureClassifier:
        """Fit on texts and a 0/1 label matrix; `groups` keep near-duplicates on one side of the
        inner folds. `sources` (the gold file's `source` per row) let `source_weights` weigh rows
        (e.g. codebook examples at 0.5) and `calibrate_sources` choose the rows whose
        out-of-fold scores fit the calibration and thresholds (e.g. only real text). `progress`
        hears a `Step` per calibration fold (stage `calibrate`) and before the final fit (`fit`)."""
        texts = fold_batch(X)
        Y = np.asarray(Y, dtype=np.int64)
        if Y.ndim != 2 or Y.shape[0] != len(texts):
            raise ValueError(f"Y must have shape (n_texts, n_labels); got {Y.shape} for {len(texts)} texts")
        if self.labels and Y.shape[1] != len(self.labels):
            raise ValueError(f"Y has {Y.shape[1]} columns but {len(self.labels)} labels were given")
        self.classes_ = np.asarray(self.labels or [f"label_{i}" for i in range(Y.shape[1])], dtype=object)
        groups = list(groups) if groups is not None else [str(i) for i in range(len(texts))]
        sources = list(sources) if sources is not None else [""] * len(texts)
        weights = dict(self.source_weights)
        weight = np.array([weights.get(s, 1.0) for s in sources]) if weights else None
        calibrating = (np.array([s in self.calibrate_sources for s in sources]) if self.calibrate_sources
                       else np.ones(len(texts), dtype=bool))

        n_labels = Y.shape[1]
        self.calibration_ = np.tile([1.0, 0.0], (n_labels, 1))  # identity on the logistic scale
        self.thresholds_ = np.full(n_labels, 0.5)
        if (self.calibrate or self.tune_thresholds) and len(set(groups)) >= 3:
            scores = self._out_of_fold_scores(texts, Y, groups, weight, progress)[calibrating]
            truth = Y[calibrating]
            if self.calibrate:
                self.calibration_ = np.array([_platt(scores[:, j], truth[:, j]) for j in range(n_labels)])
            if self.tune_thresholds:
                probs = self._calibrated(scores)
                self.thresholds_ = np.array([_best_threshold(probs[:, j], truth[:, j]) for j in range(n_labels)])

        if progress is not None:
            progress(Step("fitting the final model on every row", "fit"))
        self.vectorizer_ = self._vectorizer(texts).fit(texts)
        features = self.vectorizer_.transform(texts)
        self.coef_, self.intercept_ = self._fit_linear(features, Y, weight)
        self.n_features_ = features.shape[1]
        return self

    def _out_of_fold_scores(self, texts: list[str], Y: np.ndarray, groups: list[str],
                            weight: np.ndarray | None = None,
                            progress: Callable[[str], None] | None = None) -> np.ndarray:
        """Decision scores of each row from a model fitted without its group.

        Texts are tokenised once: every fold's features come from the same raw counts
        (`featurize.tfidf_from_counts`), equal to refitting the vectorizer on the fold.
        """
        blocks = self._count_blocks(texts)
        scores = np.zeros(Y.shape, dtype=np.float64)
        folds = list(grouped_kfold(groups, n_splits=min(self.inner_folds, len(set(groups))), seed=self.random_state))
        for k, (train, test) in enumerate(folds, start=1):
            if progress is not None:
                progress(Step(f"calibration: out-of-fold scores, fold {k} of {len(folds)}", "calibrate",
                              k - 1, len(folds)))
            coef, intercept = self._fit_linear(_fold_features(blocks, train, train), Y[train],
                                               None if weight is None else weight[train])
            scores[test] = _fold_features(blocks, train, test) @ coef.T + intercept
        return scores

    def _count_blocks(self, texts: list[str]) -> list[tuple[str, Any, int, float]]:
        blocks: list[tuple[str, Any, int, float]] = []
        union = self._vectorizer(texts)
        weights = union.transformer_weights or {}
        for name, transformer in union.transformer_list:
            if name == B.CONCEPTS:  # fold-independent: the codebook, not the data, defines it
                blocks.append(("fixed", transformer.fit(texts).transform(texts).tocsr(), 0, weights.get(name, 1.0)))
            else:
                analyzer = transformer._grams if name == B.WORDS else transformer.build_analyzer()
                blocks.append(("counts", gram_counts(texts, analyzer), int(transformer.min_df), weights.get(name, 1.0)))
        return blocks

    # -- prediction ----------------------------------------------------------------------
    def decision_function(self, X: Sequence[str]) -> np.ndarray:
        features = self.vectorizer_.transform(fold_batch(X))
        return np.asarray(features @ self.coef_.T) + self.intercept_

    def _calibrated(self, scores: np.ndarray) -> np.ndarray:
        return calibrated(scores, self.calibration_)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Calibrated probability per label, shape (n_texts, n_labels)."""
        return self._calibrated(self.decision_function(X))

    def predict(self, X: Sequence[str], *, threshold_scale: float = 1.0) -> np.ndarray:
        """0/1 per label; an all-zero row means "none of the labels"."""
        return self.decide(self.predict_proba(X), threshold_scale=threshold_scale)

    def decide(self, probabilities: np.ndarray, *, threshold_scale: float = 1.0) -> np.ndarray:
        """Apply the per-label thresholds (times `threshold_scale`, capped below 1)."""
        return decide(probabilities, self.thresholds_, threshold_scale=threshold_scale)

    def feature_names(self) -> np.ndarray:
        return self.vectorizer_.get_feature_names_out()


def _fold_features(blocks: list[tuple[str, Any, int, float]], train: np.ndarray, rows: np.ndarray) -> sp.csr_matrix:
    parts = [
        (matrix[rows] if kind == "fixed" else tfidf_from_counts(matrix, train, rows, min_df=min_df)) * weight
        for kind, matrix, min_df, weight in blocks
    ]
    return sp.hstack(parts, format="csr")


def _nb_ratios(present: sp.csr_matrix, y: np.ndarray, alpha: float) -> np.ndarray:
    """Naive-Bayes log-count ratios per feature (Wang & Manning 2012), as absolute values: the
    logistic regression is fitted on features scaled by them, so its penalty spares the features
    that separate the classes; the fitted weights are scaled back, and the model stays linear in
    the original features."""
    pos = np.asarray(present[y == 1].sum(axis=0)).ravel() + alpha
    neg = np.asarray(present[y == 0].sum(axis=0)).ravel() + alpha
    return np.abs(np.log((pos / pos.sum()) / (neg / neg.sum())))


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Sigmoid calibration (a, b) of decision scores; identity when a class is missing."""
    if y.min() == y.max():
        return 1.0, 0.0
    lr = LogisticRegression(C=1.0, solver="lbfgs")
    lr.fit(scores.reshape(-1, 1), y)
    a = float(lr.coef_[0, 0])
    if a <= 0:  # scores that do not rank positives higher carry no information to calibrate
        return 1.0, 0.0
    return a, float(lr.intercept_[0])


def _best_threshold(probs: np.ndarray, y: np.ndarray) -> float:
    if y.sum() == 0:
        return 0.5
    best, best_f1 = 0.5, -1.0
    for t in sorted(_THRESHOLD_GRID, key=lambda v: abs(v - 0.5)):
        pred = decide(probs[:, None], [t])[:, 0].astype(bool)
        tp = float(np.sum(pred & (y == 1)))
        f1 = 2 * tp / (pred.sum() + y.sum()) if (pred.sum() + y.sum()) else 0.0
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(t), f1
    return best
