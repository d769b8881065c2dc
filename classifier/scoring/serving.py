"""The serving model: a fitted classifier as plain arrays and JSON, scored without scikit-learn.

`ServingModel.from_classifier()` takes a fitted `MeasureClassifier` apart into its feature
blocks (word/character TF-IDF vocabularies and idf, concept lexicon), its weight matrix,
calibration and thresholds. `save()` writes `serving.npz` (numbers, loaded with
`allow_pickle=False`) and `serving.json` (vocabularies and settings): no code is unpickled
when serving. scipy.sparse is imported only when sparse feature rows are asked for
(`features`, the app and explanations); `pmc classify` scores through `batch.BatchScorer`, which
needs only numpy. Scores are
identical to the estimator's (`featurize` is the one implementation of the features,
`decision` the one decision rule; a test asserts equality). Texts are folded once
(`predict_proba`), or come folded (`predict_proba_folded`, for callers that also need the
folded text for language detection).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..text.concepts import ConceptMatcher
from ..text.normalize import fold
from ..text.tokenize import Tokenizer
from . import blocks as B
from .decision import calibrated, decide, effective_thresholds
from .featurize import NgramIndex, char_ngrams, concept_rows, subword_ngrams, tfidf_rows

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["ServingModel", "SERVING_FILES"]

SERVING_FILES = ("serving.json", "serving.npz")


@dataclass
class _TfidfBlock:
    kind: str  # blocks.WORDS or blocks.CHARS
    vocabulary: dict[str, int]
    idf: np.ndarray
    max_n: int
    terms: tuple[str, ...] = ()
    stem: bool = False
    weight: float = 1.0  # the FeatureUnion's transformer weight for this block

    def __post_init__(self) -> None:
        self._tokenize = (Tokenizer(self.terms, stem=self.stem).tokens_folded if self.kind == B.WORDS
                          else subword_ngrams if self.kind == B.SUBWORDS else char_ngrams)
        self._index = NgramIndex(self.vocabulary, self.max_n)

    def rows(self, folded: list[str]) -> sp.csr_matrix:
        matrix = tfidf_rows(folded, tokenizer=self._tokenize, index=self._index, idf=self.idf)
        if self.weight != 1.0:
            matrix.data *= self.weight
        return matrix

    @property
    def width(self) -> int:
        return len(self.vocabulary)

    def names(self) -> list[str]:
        return sorted(self.vocabulary, key=self.vocabulary.__getitem__)


@dataclass
class _ConceptBlock:
    lexicon: tuple[tuple[str, tuple[str, ...]], ...]
    weight: float
    binary: bool
    categories: list[str]

    def __post_init__(self) -> None:
        self._matcher = ConceptMatcher(self.lexicon)
        self._concept_category = np.array(
            [self.categories.index(k.split("/")[0]) if self.categories else 0 for k in self._matcher.keys],
            dtype=np.int64,
        )

    @property
    def matcher(self) -> ConceptMatcher:
        return self._matcher

    def names(self) -> list[str]:
        return [f"concept:{key}" for key in self._matcher.keys] + [f"category:{c}" for c in self.categories]

    def rows(self, folded: list[str]) -> sp.csr_matrix:
        return concept_rows(folded, matcher=self._matcher, concept_category=self._concept_category,
                            n_categories=len(self.categories), weight=self.weight, binary=self.binary)

    @property
    def width(self) -> int:
        return len(self._matcher.keys) + len(self.categories)


class ServingModel:
    """Per-label calibrated probabilities and thresholded decisions, from arrays."""

    def __init__(self, *, labels: tuple[str, ...], blocks: list[Any], coef: np.ndarray, intercept: np.ndarray,
                 calibration: np.ndarray, thresholds: np.ndarray) -> None:
        self.labels = labels
        self.blocks = blocks
        self.coef = np.ascontiguousarray(coef.T)  # (n_features, n_labels) for sparse @ dense
        self.intercept = intercept
        self.calibration = calibration
        self.thresholds = thresholds
        self._names: list[str] | None = None
        width = sum(b.width for b in blocks)
        if width != self.coef.shape[0]:
            raise ValueError(f"feature blocks have {width} columns but the weights {self.coef.shape[0]}")

    # -- scoring --------------------------------------------------------------------------
    def features(self, folded: list[str]) -> sp.csr_matrix:
        """The feature rows of folded texts (all blocks side by side)."""
        import scipy.sparse as sp

        return sp.hstack([block.rows(folded) for block in self.blocks], format="csr")

    def feature_names(self) -> list[str]:
        """``block__feature`` per column, as the scikit-learn union names them."""
        if self._names is None:
            self._names = [B.feature_name(self._block_name(b), n) for b in self.blocks for n in b.names()]
        return self._names

    @staticmethod
    def _block_name(block: Any) -> str:
        return block.kind if isinstance(block, _TfidfBlock) else B.CONCEPTS

    def concept_matcher(self) -> ConceptMatcher | None:
        """The concept block's matcher (None when the model has no concept features)."""
        return next((b.matcher for b in self.blocks if isinstance(b, _ConceptBlock)), None)

    def scores_of(self, features: sp.csr_matrix) -> np.ndarray:
        """Linear decision scores of feature rows."""
        return np.asarray(features @ self.coef) + self.intercept

    def probabilities_of(self, features: sp.csr_matrix) -> np.ndarray:
        """Calibrated probabilities of feature rows."""
        return calibrated(self.scores_of(features), self.calibration)

    def decision_function(self, texts: list[str]) -> np.ndarray:
        return self.scores_of(self.features([fold(t) for t in texts]))

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.predict_proba_folded([fold(t) for t in texts])

    def predict_proba_folded(self, folded: list[str]) -> np.ndarray:
        """`predict_proba` of texts already folded by `text.normalize.fold`."""
        return self.probabilities_of(self.features(folded))

    def effective_thresholds(self, *, threshold_scale: float = 1.0) -> np.ndarray:
        return effective_thresholds(self.thresholds, threshold_scale)

    def decide(self, probabilities: np.ndarray, *, threshold_scale: float = 1.0) -> np.ndarray:
        return decide(probabilities, self.thresholds, threshold_scale=threshold_scale)

    def predict(self, texts: list[str], *, threshold_scale: float = 1.0) -> np.ndarray:
        return self.decide(self.predict_proba(texts), threshold_scale=threshold_scale)

    # -- conversion and persistence ---------------------------------------------------------
    @classmethod
    def from_classifier(cls, model: Any) -> ServingModel:
        """Take a fitted `MeasureClassifier` apart (words, chars and concept blocks supported)."""
        blocks: list[Any] = []
        weights = model.vectorizer_.transformer_weights or {}
        for name, transformer in model.vectorizer_.transformer_list:
            if name == B.WORDS:
                tokenizer = transformer.tokenizer
                blocks.append(_TfidfBlock(B.WORDS, dict(transformer.vocabulary_), np.asarray(transformer.idf_),
                                          int(transformer.max_n), tuple(tokenizer.terms), bool(tokenizer.stem),
                                          float(weights.get(name, 1.0))))
            elif name in (B.CHARS, B.SUBWORDS):
                blocks.append(_TfidfBlock(name, {k: int(v) for k, v in transformer.vocabulary_.items()},
                                          np.asarray(transformer.idf_), 1, weight=float(weights.get(name, 1.0))))
            elif name == B.CONCEPTS:
                if weights.get(name, 1.0) != 1.0:
                    raise ValueError("a transformer weight on the concept block has no serving form")
                blocks.append(_ConceptBlock(tuple((k, tuple(t)) for k, t in transformer.lexicon),
                                            float(transformer.weight), bool(transformer.binary),
                                            list(transformer.category_names_)))
            else:
                raise ValueError(f"no serving form for feature block {name!r}")
        return cls(labels=tuple(str(c) for c in model.classes_), blocks=blocks, coef=np.asarray(model.coef_),
                   intercept=np.asarray(model.intercept_), calibration=np.asarray(model.calibration_),
                   thresholds=np.asarray(model.thresholds_))

    def save(self, folder: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "coef": self.coef.T, "intercept": self.intercept, "calibration": self.calibration,
            "thresholds": self.thresholds,
        }
        meta: dict[str, Any] = {"format": 1, "labels": list(self.labels), "blocks": []}
        for i, block in enumerate(self.blocks):
            if isinstance(block, _TfidfBlock):
                arrays[f"idf_{i}"] = block.idf
                grams = sorted(block.vocabulary, key=block.vocabulary.__getitem__)
                meta["blocks"].append({"kind": block.kind, "grams": grams, "max_n": block.max_n,
                                       "terms": list(block.terms), "stem": block.stem, "weight": block.weight})
            else:
                meta["blocks"].append({"kind": B.CONCEPTS, "lexicon": [[k, list(t)] for k, t in block.lexicon],
                                       "weight": block.weight, "binary": block.binary, "categories": block.categories})
        np.savez(folder / "serving.npz", **arrays)
        (folder / "serving.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ServingModel:
        meta = json.loads((folder / "serving.json").read_text(encoding="utf-8"))
        with np.load(folder / "serving.npz", allow_pickle=False) as arrays:
            data = {k: arrays[k] for k in arrays.files}
        blocks: list[Any] = []
        for i, block in enumerate(meta["blocks"]):
            if block["kind"] == B.CONCEPTS:
                blocks.append(_ConceptBlock(tuple((k, tuple(t)) for k, t in block["lexicon"]), float(block["weight"]),
                                            bool(block["binary"]), list(block["categories"])))
            else:
                vocabulary = dict(zip(block["grams"], range(len(block["grams"]))))
                blocks.append(_TfidfBlock(block["kind"], vocabulary, data[f"idf_{i}"], int(block["max_n"]),
                                          tuple(block["terms"]), bool(block["stem"]), float(block.get("weight", 1.0))))
        return cls(labels=tuple(meta["labels"]), blocks=blocks, coef=data["coef"], intercept=data["intercept"],
                   calibration=data["calibration"], thresholds=data["thresholds"])
