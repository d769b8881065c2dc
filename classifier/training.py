"""Training: from gold rows to a fitted model, its cross-validated metrics and a saved version.

`make_model()` is the one place that fixes the shipped configuration (chosen by the ablation in
docs/evaluation.md). `train()` fits it on every labelled row, runs the grouped cross-validation
with both baselines on the same folds, optionally scores a held-out set, and saves a new
registry version with its card. It returns data; the CLI and the app print or draw it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .labels.gold import LabelledParagraph, data_fingerprint
from .labels.taxonomy import Taxonomy, load_taxonomy
from .model.estimator import MeasureClassifier
from .model.evaluation import (
    CharNgramBaseline, KeywordBaseline, ModelFactory, cross_validate, cv_components, evaluate_rows, fit_model, label_matrix,
)
from .errors import ModelError
from .paths import PROJECT_ROOT
from .progress import Step
from .scoring.registry import save_model
from .text.concepts import ConceptMatcher, Lexicon
from .text.normalize import fold

__all__ = ["SHIPPED_PARAMS", "make_model", "fold_supported", "baseline_factories", "TrainResult", "train", "data_fingerprint"]

# The configuration `pmc train` ships, chosen on the grouped CV over real text (docs/evaluation.md,
# the ablation table): the words carry the signal, so they weigh three times the concept block,
# regularisation is light and Han character n-grams are added; n-grams seen in one paragraph only
# are dropped (min_df 2), and each label's logistic regression is fitted on naive-Bayes-scaled
# features (nb_scale, NBSVM-style), which lifted the real CV most of all on English. The concepts'
# en_real terms (English phrasings found in real text) are in the lexicon (real_en_terms).
SHIPPED_PARAMS: dict[str, Any] = {
    "use_words": True,
    "word_ngrams": (1, 2),
    "min_df": 2,
    "word_weight": 3.0,
    "use_concepts": True,
    "concept_weight": 1.0,
    "use_chars": True,
    "C": 8.0,
    "nb_scale": 1.0,
    "calibrate": True,
    "tune_thresholds": True,
    "real_en_terms": True,  # the concepts' en_real terms (labels/taxonomy.toml); make_model's, not the estimator's
}


def make_model(taxonomy: Taxonomy | None = None, *, training_rows: Sequence[LabelledParagraph] | None = None,
               **overrides: Any) -> MeasureClassifier:
    """The shipped model configuration (with optional overrides, for ablations).

    ``real_en_terms=False`` leaves the concepts' English terms found in real text (``en_real``)
    out of the lexicon. `training_rows`, in cross-validation, are the fold's training rows: the
    terms harvested by reading labelled rows are then kept only where those rows support them
    (`fold_supported`), so a fold is not credited with a term chosen from the rows it scores.
    The model that ships (no `training_rows`) keeps every term.
    """
    taxonomy = taxonomy or load_taxonomy()
    params = {**SHIPPED_PARAMS, **overrides}
    lexicon = taxonomy.lexicon_of(real_en=params.pop("real_en_terms", True))
    if training_rows is not None:
        lexicon = fold_supported(taxonomy, lexicon, training_rows)
    return MeasureClassifier(labels=taxonomy.label_ids, lexicon=lexicon, **params)


def fold_supported(taxonomy: Taxonomy, lexicon: Lexicon, rows: Sequence[LabelledParagraph]) -> Lexicon:
    """The lexicon a curator reading only `rows` could have written.

    A concept's ``en_real`` term (harvested from labelled real text) stays only if one of `rows`
    labelled with the concept's category contains it; terms written with the codebook (``zh``,
    ``en``) always stay. A concept left with no term keeps its (then silent) column.
    """
    harvested = {c.key: set(c.en_real) for c in taxonomy.concepts if c.en_real}
    items = sorted(set().union(*harvested.values()))
    if not items:
        return lexicon
    matcher = ConceptMatcher(tuple((t, (t,)) for t in items))
    seen_in: set[tuple[str, str]] = set()  # (term, category of a row that contains it)
    for row in rows:
        found = {matcher.keys[i] for i in matcher.concept_ids(fold(row.text))}
        seen_in |= {(t, label) for t in found for label in row.labels}
    return tuple((key, tuple(t for t in terms
                             if t not in harvested.get(key, ()) or (t, key.split("/")[0]) in seen_in))
                 for key, terms in lexicon)


def baseline_factories(taxonomy: Taxonomy) -> dict[str, ModelFactory]:
    """The two baselines as cross-validation factories; the keyword baseline keeps only the
    harvested terms a fold's training rows support (as `make_model` does)."""
    def keywords(training_rows: Sequence[LabelledParagraph] | None = None) -> KeywordBaseline:
        lexicon = taxonomy.lexicon
        if training_rows is not None:
            lexicon = fold_supported(taxonomy, lexicon, training_rows)
        return KeywordBaseline(labels=taxonomy.label_ids, lexicon=lexicon)

    return {
        "keywords": keywords,
        "char_wb_logreg": lambda _rows=None: CharNgramBaseline(labels=taxonomy.label_ids),
    }


MIN_ROWS = 20


def check_trainable(rows: Sequence[LabelledParagraph], labels: Sequence[str], *, cv_folds: int = 0) -> None:
    """Refuse training data that can only give a useless model, with what to do instead."""
    if len(rows) < MIN_ROWS:
        raise ModelError(f"only {len(rows)} labelled paragraphs; label at least {MIN_ROWS} before training")
    present = {label for r in rows for label in r.labels}
    if not present:
        raise ModelError(f"none of the {len(rows)} labelled paragraphs has a label (all are 'none'); a model "
                         f"trained on them would never predict anything — label some positives first")
    if cv_folds:
        groups = len(set(cv_components(rows)))
        if groups < cv_folds:
            raise ModelError(f"the {len(rows)} labelled paragraphs come from {groups} document group(s), too few "
                             f"for {cv_folds}-fold grouped cross-validation; train with --repeats 0, or label "
                             f"paragraphs of more documents")


def is_real(row: LabelledParagraph) -> bool:
    """Real text (seed, real corpus, store annotations), as opposed to codebook examples."""
    return row.source != "codebook"


def real_rows_to_score(rows: Sequence[LabelledParagraph], n_splits: int = 5) -> Callable[[LabelledParagraph], bool] | None:
    """`is_real` when the real rows fill `n_splits` folds (cross-validation then scores real text
    only, the codebook examples training in every fold); None (score every row) otherwise."""
    real = [r for r in rows if is_real(r)]
    return is_real if real and len(set(cv_components(real))) >= n_splits else None


def _latest_ablation(taxonomy: Taxonomy) -> list[dict[str, Any]] | None:
    """The ablation table of docs/evaluation.json (written by `pmc report`) for this codebook."""
    path = PROJECT_ROOT / "docs" / "evaluation.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if report.get("taxonomy_hash") != taxonomy.hash:
        return None
    return report.get("ablation")


@dataclass
class TrainResult:
    model: MeasureClassifier
    card: dict[str, Any]
    path: Path | None


def train(
    rows: Sequence[LabelledParagraph],
    *,
    taxonomy: Taxonomy | None = None,
    cv_repeats: int = 3,
    cv_folds: int = 5,
    heldout: Sequence[LabelledParagraph] | None = None,
    heldout_name: str = "heldout",
    save: bool = True,
    registry: Path | None = None,
    activate: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Fit the shipped model on `rows`, cross-validate it against the baselines, save a version."""
    taxonomy = taxonomy or load_taxonomy()
    labels = taxonomy.label_ids
    say = progress or (lambda _message: None)
    check_trainable(rows, labels, cv_folds=cv_folds if cv_repeats > 0 else 0)
    cv: dict[str, Any] | None = None
    if cv_repeats > 0:
        say(f"cross-validating ({cv_folds} grouped folds x {cv_repeats} repeats, model and 2 baselines)")
        cv = cross_validate(
            rows, {"model": lambda fold_rows: make_model(taxonomy, training_rows=fold_rows),
                   **baseline_factories(taxonomy)}, labels,
            n_splits=cv_folds, repeats=cv_repeats, evaluate=real_rows_to_score(rows, cv_folds), progress=progress,
        )
        cv["scored"] = "real" if real_rows_to_score(rows, cv_folds) else "all"
    say(Step(f"fitting on all {len(rows)} labelled paragraphs (with out-of-fold calibration and thresholds)", "fit"))
    model = fit_model(make_model(taxonomy), rows, labels, cv_components(rows), progress=progress)

    Y = label_matrix(rows, labels)
    card: dict[str, Any] = {
        "labels": list(labels),
        "taxonomy_hash": taxonomy.hash,
        "taxonomy_version": taxonomy.version,
        "training_data": {
            "hash": data_fingerprint(rows),
            "size": len(rows),
            "label_counts": {label: int(Y[:, j].sum()) for j, label in enumerate(labels)},
            "none_count": int((Y.sum(axis=1) == 0).sum()),
            "by_lang": dict(Counter(r.lang for r in rows)),
            "by_source": dict(Counter(r.source for r in rows)),
            "real": {"size": sum(map(is_real, rows)), "hash": data_fingerprint([r for r in rows if is_real(r)])},
        },
        "params": json.loads(json.dumps(SHIPPED_PARAMS)),
        "thresholds": {label: float(t) for label, t in zip(labels, model.thresholds_)},
        "n_features": int(model.n_features_),
        "cv": cv,
    }
    ablation = _latest_ablation(taxonomy)
    if ablation is not None:
        card["ablation"] = ablation
    if heldout:
        say(f"scoring the {len(heldout)}-paragraph held-out set {heldout_name!r}")
        card["heldout"] = {"name": heldout_name, **evaluate_rows(model, heldout, labels)}
    path = None
    if save:
        say(Step("saving the model version", "save"))
        path = save_model(model, card, registry=registry, activate=activate)
    return TrainResult(model=model, card=card, path=path)
