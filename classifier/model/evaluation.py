"""Evaluation that cannot flatter: grouped repeated cross-validation, baselines, transfer, held-out sets.

Everything here returns plain dicts (JSON-ready) and prints nothing.

- `multilabel_metrics()` — per-label precision/recall/F1, micro and macro F1, subset accuracy,
  and the same by language.
- `cross_validate()` — folds by document and near-duplicate group (never the same or
  near-same text on both sides), repeated with several seeds, mean ± sd; the model and both
  baselines run on the same folds. A model factory is called with the fold's training rows
  (`training.make_model(training_rows=...)` uses them to leave out terms harvested from rows the
  fold scores).
- `cross_language_transfer()` — train on one language, test on the other, dropping test rows
  that share a duplicate group (a translation) with the training side.
- `evaluate_rows()` — score a fitted model on any labelled rows (e.g. the development set).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from ..text.concepts import ConceptMatcher, Lexicon
from ..text.normalize import fold
from ..labels.gold import LabelledParagraph
from ..labels.leaks import story_groups
from ..labels.splits import grouped_kfold, split_components
from ..progress import Step

__all__ = [
    "MultiLabelModel",
    "ModelFactory",
    "KeywordBaseline",
    "CharNgramBaseline",
    "label_matrix",
    "multilabel_metrics",
    "cross_validate",
    "cv_components",
    "fit_model",
    "cross_language_transfer",
    "evaluate_rows",
    "LANG_GROUPS",
]

LANG_GROUPS = {"zh": ("zh",), "zh-Hant": ("zh-Hant",), "en": ("en",), "mixed": ("mixed",)}


class MultiLabelModel(Protocol):
    def fit(self, X: Sequence[str], Y: np.ndarray, groups: Sequence[str] | None = ...) -> Any: ...
    def predict(self, X: Sequence[str]) -> np.ndarray: ...


class KeywordBaseline(BaseEstimator, ClassifierMixin):
    """Baseline (a): a label is predicted when any of its codebook terms occurs. Learns nothing."""

    def __init__(self, *, labels: tuple[str, ...] = (), lexicon: Lexicon = ()) -> None:
        self.labels = labels
        self.lexicon = lexicon

    def fit(self, X: Sequence[str], Y: np.ndarray | None = None, groups: object = None) -> KeywordBaseline:
        self.matcher_ = ConceptMatcher(self.lexicon)
        self.concept_label_ = np.array(
            [self.labels.index(key.split("/")[0]) for key in self.matcher_.keys], dtype=np.int64
        )
        return self

    def predict(self, X: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(X), len(self.labels)), dtype=np.int64)
        for row, text in enumerate(map(fold, X)):
            for index in self.matcher_.concept_ids(text):
                out[row, self.concept_label_[index]] = 1
        return out


class CharNgramBaseline(BaseEstimator, ClassifierMixin):
    """Baseline (b): TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)) + LogisticRegression per label."""

    def __init__(self, *, labels: tuple[str, ...] = ()) -> None:
        self.labels = labels

    def fit(self, X: Sequence[str], Y: np.ndarray, groups: object = None) -> CharNgramBaseline:
        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3))
        features = self.vectorizer_.fit_transform(list(X))
        self.models_ = []
        for j in range(Y.shape[1]):
            y = Y[:, j]
            self.models_.append(LogisticRegression(max_iter=1000).fit(features, y) if 0 < y.sum() < len(y) else int(y.max()))
        return self

    def predict(self, X: Sequence[str]) -> np.ndarray:
        features = self.vectorizer_.transform(list(X))
        columns = [
            m.predict(features) if hasattr(m, "predict") else np.full(features.shape[0], m)
            for m in self.models_
        ]
        return np.column_stack(columns).astype(np.int64)


def label_matrix(rows: Sequence[LabelledParagraph], labels: Sequence[str]) -> np.ndarray:
    """0/1 matrix (n_rows, n_labels) of gold labels."""
    Y = np.zeros((len(rows), len(labels)), dtype=np.int64)
    for i, row in enumerate(rows):
        for label in row.labels:
            Y[i, labels.index(label)] = 1
    return Y


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return precision, recall, f1


def multilabel_metrics(
    Y_true: np.ndarray, Y_pred: np.ndarray, labels: Sequence[str], langs: Sequence[str] | None = None
) -> dict[str, Any]:
    """Per-label P/R/F1 with support, micro/macro F1, subset accuracy; `by_lang` when langs given.

    Macro F1 averages the labels that occur in the truth or the predictions of this subset (a
    label absent from both says nothing about the model there).
    """
    Y_true = np.asarray(Y_true, dtype=bool)
    Y_pred = np.asarray(Y_pred, dtype=bool)
    per_label: dict[str, dict[str, float]] = {}
    f1s = []
    for j, label in enumerate(labels):
        tp = float(np.sum(Y_true[:, j] & Y_pred[:, j]))
        fp = float(np.sum(~Y_true[:, j] & Y_pred[:, j]))
        fn = float(np.sum(Y_true[:, j] & ~Y_pred[:, j]))
        p, r, f = _prf(tp, fp, fn)
        per_label[label] = {"precision": p, "recall": r, "f1": f, "support": int(Y_true[:, j].sum())}
        if tp + fp + fn:
            f1s.append(f)
    tp = float(np.sum(Y_true & Y_pred))
    fp = float(np.sum(~Y_true & Y_pred))
    fn = float(np.sum(Y_true & ~Y_pred))
    result: dict[str, Any] = {
        "n": int(len(Y_true)),
        "per_label": per_label,
        "micro_f1": _prf(tp, fp, fn)[2],
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
        "subset_accuracy": float(np.mean(np.all(Y_true == Y_pred, axis=1))) if len(Y_true) else 0.0,
    }
    if langs is not None:
        langs_arr = np.asarray(langs)
        by_lang = {}
        for name, members in LANG_GROUPS.items():
            mask = np.isin(langs_arr, members)
            if mask.any():
                by_lang[name] = multilabel_metrics(Y_true[mask], Y_pred[mask], labels)
        result["by_lang"] = by_lang
    return result


def _mean_sd(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0}


def _summarise(runs: list[dict[str, Any]], labels: Sequence[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        key: _mean_sd([r[key] for r in runs]) for key in ("micro_f1", "macro_f1", "subset_accuracy")
    }
    summary["per_label"] = {
        label: {m: _mean_sd([r["per_label"][label][m] for r in runs]) for m in ("precision", "recall", "f1")}
        for label in labels
    }
    langs = sorted({lang for r in runs for lang in r.get("by_lang", {})})
    summary["by_lang"] = {
        lang: {
            "n": runs[0]["by_lang"][lang]["n"],
            "macro_f1": _mean_sd([r["by_lang"][lang]["macro_f1"] for r in runs if lang in r["by_lang"]]),
            "micro_f1": _mean_sd([r["by_lang"][lang]["micro_f1"] for r in runs if lang in r["by_lang"]]),
        }
        for lang in langs
    }
    return summary


def fit_model(model: Any, rows: Sequence[LabelledParagraph], labels: Sequence[str],
              groups: Sequence[str] | None = None, progress: Callable[[str], None] | None = None) -> Any:
    """`model.fit` on labelled rows, passing each row's `source` (and `progress`) when the model takes it."""
    kwargs: dict[str, Any] = {"groups": groups}
    accepted = inspect.signature(model.fit).parameters
    if "sources" in accepted:
        kwargs["sources"] = [r.source for r in rows]
    if progress is not None and "progress" in accepted:
        kwargs["progress"] = progress
    return model.fit([r.text for r in rows], label_matrix(rows, labels), **kwargs)


# A fresh, unfitted model for a fold, given that fold's training rows.
ModelFactory = Callable[[Sequence[LabelledParagraph]], MultiLabelModel]


def cv_components(rows: Sequence[LabelledParagraph]) -> list[str]:
    """What cross-validation keeps on one side: a document, a duplicate group, a story."""
    return split_components([r.doc for r in rows], [r.group for r in rows],
                            story_groups([r.to_record() for r in rows]))


def cross_validate(
    rows: Sequence[LabelledParagraph],
    models: dict[str, ModelFactory],
    labels: Sequence[str],
    *,
    n_splits: int = 5,
    repeats: int = 3,
    seed: int = 0,
    evaluate: Callable[[LabelledParagraph], bool] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Grouped, repeated CV of several models on the same folds; mean ± sd per metric.

    `progress` hears a `Step` (stage `cv`) before each fold.

    Folds keep every document, duplicate group and story (`cv_components`) on one side. With
    `evaluate`, only the rows it accepts are folded and scored (e.g. real text); the others
    (e.g. codebook examples) are in every training fold. Returns ``{"models": {name: summary},
    "leak_free": True, ...}``; the folds are asserted to share no component.
    """
    langs = [r.lang for r in rows]
    Y = label_matrix(rows, labels)
    components = cv_components(rows)
    scored = np.array([evaluate is None or evaluate(r) for r in rows])
    pool = np.flatnonzero(scored)
    always = np.flatnonzero(~scored)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in models}
    for repeat in range(repeats):
        folds = [(np.concatenate([pool[train], always]), pool[test])
                 for train, test in grouped_kfold([components[i] for i in pool], n_splits=n_splits, seed=seed + repeat)]
        for train, test in folds:
            assert not set(components[i] for i in train) & set(components[i] for i in test)
        predictions = {name: np.zeros_like(Y) for name in models}
        for k, (train, test) in enumerate(folds, start=1):
            if progress is not None:
                done = repeat * len(folds) + k - 1
                progress(Step(f"cross-validation: repeat {repeat + 1} of {repeats}, fold {k} of {len(folds)}",
                              "cv", done, repeats * len(folds)))
            train_rows = [rows[i] for i in train]
            test_texts = [rows[i].text for i in test]
            train_groups = [components[i] for i in train]
            for name, make in models.items():
                model = fit_model(make(train_rows), train_rows, labels, train_groups)
                predictions[name][test] = model.predict(test_texts)
        for name in models:
            runs[name].append(multilabel_metrics(Y[pool], predictions[name][pool], labels, [langs[i] for i in pool]))
    return {
        "n": int(len(pool)),
        "n_train_only": int(len(always)),
        "n_splits": n_splits,
        "repeats": repeats,
        "n_components": len({components[i] for i in pool}),
        "leak_free": True,
        "models": {name: _summarise(r, labels) for name, r in runs.items()},
    }


def cross_language_transfer(
    rows: Sequence[LabelledParagraph],
    make_model: ModelFactory,
    labels: Sequence[str],
) -> dict[str, Any]:
    """Train on English, test on Chinese (zh + zh-Hant), and the reverse.

    Test rows that share a duplicate group with a training row (translations of each other)
    are dropped, so the figure measures transfer, not recall of a translated twin.
    """
    components = split_components([r.doc for r in rows], [r.group for r in rows])
    result = {}
    for name, train_langs, test_langs in (
        ("en->zh", ("en",), ("zh", "zh-Hant")),
        ("zh->en", ("zh", "zh-Hant"), ("en",)),
    ):
        train = [i for i, r in enumerate(rows) if r.lang in train_langs]
        train_groups = {rows[i].group for i in train if rows[i].group}
        test = [i for i, r in enumerate(rows) if r.lang in test_langs and not (r.group and r.group in train_groups)]
        model = make_model([rows[i] for i in train])
        Y = label_matrix(rows, labels)
        model.fit([rows[i].text for i in train], Y[train], groups=[components[i] for i in train])
        pred = model.predict([rows[i].text for i in test])
        metrics = multilabel_metrics(Y[test], pred, labels)
        metrics["n_train"] = len(train)
        result[name] = metrics
    return result


def evaluate_rows(model: MultiLabelModel, rows: Sequence[LabelledParagraph], labels: Sequence[str]) -> dict[str, Any]:
    """Metrics of a fitted model on labelled rows (overall, per label, by language)."""
    Y = label_matrix(rows, labels)
    pred = model.predict([r.text for r in rows])
    return multilabel_metrics(Y, pred, labels, [r.lang for r in rows])
