"""The serving model: a fitted classifier as plain arrays and JSON, scored without scikit-learn.

`ServingModel.from_classifier()` takes a fitted `MeasureClassifier` apart into its feature
blocks (word/character TF-IDF vocabularies and idf, concept lexicon), its weight matrix,
calibration and thresholds. `save()` writes `serving.npz` (numbers and, from format 2 on, each
block's grams as UTF-8 lines and its lookup arrays; loaded with `allow_pickle=False`) and
`serving.json` (settings and the concept lexicon): no code is unpickled when serving. Format 1
(grams in the JSON, no lookup arrays) still loads; vocabularies are built on first use. scipy.sparse is imported only when sparse feature rows are asked for
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
from .featurize import NgramIndex, char_ngrams, concept_rows, lookup_arrays, subword_ngrams, tfidf_rows

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["ServingModel", "SERVING_FILES"]

SERVING_FILES = ("serving.json", "serving.npz")
# 1: grams in the JSON; weights, calibration, thresholds in the npz. 2: each TF-IDF block's grams
# as UTF-8 lines in the npz (`grams_I`; no JSON of 156,000 strings to parse) and its lookup
# arrays (`index_I_NAME`, `featurize.lookup_arrays`), so that loading builds no dictionary and
# splits no gram. Both load.
FORMAT = 2
_INDEX_PREFIX = "index_"
_GRAMS_PREFIX = "grams_"


class _TfidfBlock:
    """A TF-IDF block: its grams in column order, idf, tokenizer settings and lookup arrays.

    `vocabulary` (gram -> column) is built on first use from `grams`: the batch path with the
    compiled inner loops never needs it, so a cold `pmc classify` does not build a dictionary of
    every gram. `index_arrays()` are the arrays the batch path looks grams up with; a model
    saved in format 2 stores them, an older one computes them when first asked.
    """

    def __init__(self, kind: str, vocabulary: dict[str, int] | None, idf: np.ndarray, max_n: int,
                 terms: tuple[str, ...] = (), stem: bool = False, weight: float = 1.0, *,
                 grams: list[str] | None = None, grams_text: bytes | None = None,
                 index_arrays: dict[str, np.ndarray] | None = None) -> None:
        if vocabulary is None and grams is None and grams_text is None:
            raise ValueError("a TF-IDF block needs its vocabulary or its grams")
        self.kind = kind  # blocks.WORDS, blocks.CHARS or blocks.SUBWORDS
        self._vocabulary = vocabulary
        self._grams = grams
        self.grams_text = grams_text  # the grams in column order as UTF-8 lines, as format 2 stores them
        self.idf = idf
        self.max_n = max_n
        self.terms = terms
        self.stem = stem
        self.weight = weight  # the FeatureUnion's transformer weight for this block
        self._index_arrays = index_arrays
        self._ngram_index: NgramIndex | None = None
        self._tokenize = (Tokenizer(self.terms, stem=self.stem).tokens_folded if self.kind == B.WORDS
                          else subword_ngrams if self.kind == B.SUBWORDS else char_ngrams)

    @property
    def vocabulary(self) -> dict[str, int]:
        if self._vocabulary is None:
            grams = self.grams
            self._vocabulary = dict(zip(grams, range(len(grams))))
        return self._vocabulary

    @property
    def grams(self) -> list[str]:
        """Every gram, in column order."""
        if self._grams is None:
            if self.grams_text is not None:
                self._grams = self.grams_text.decode("utf-8").split("\n") if self.grams_text else []
            else:
                self._grams = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return self._grams

    @property
    def _index(self) -> NgramIndex:
        if self._ngram_index is None:
            arrays = self._index_arrays
            pairs = (arrays["pair_keys"], arrays["pair_columns"]) if arrays else None
            self._ngram_index = NgramIndex(self.vocabulary, self.max_n, pairs=pairs)
        return self._ngram_index

    def index_arrays(self) -> dict[str, np.ndarray]:
        """`featurize.lookup_arrays` of this block (stored with the model from format 2 on)."""
        if self._index_arrays is None:
            self._index_arrays = lookup_arrays(self.grams, self._index.pair_arrays())
        return self._index_arrays

    def rows(self, folded: list[str]) -> sp.csr_matrix:
        matrix = tfidf_rows(folded, tokenizer=self._tokenize, index=self._index, idf=self.idf)
        if self.weight != 1.0:
            matrix.data *= self.weight
        return matrix

    @property
    def width(self) -> int:
        return len(self.idf)  # one idf per column

    def names(self) -> list[str]:
        return list(self.grams)


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
        meta: dict[str, Any] = {"format": FORMAT, "labels": list(self.labels), "blocks": []}
        for i, block in enumerate(self.blocks):
            if isinstance(block, _TfidfBlock):
                arrays[f"idf_{i}"] = block.idf
                for name, values in block.index_arrays().items():
                    arrays[f"{_INDEX_PREFIX}{i}_{name}"] = values
                entry = {"kind": block.kind, "max_n": block.max_n, "terms": list(block.terms), "stem": block.stem,
                         "weight": block.weight}
                grams = block.grams
                if all(g and "\n" not in g for g in grams):  # (scikit-learn makes no empty gram)
                    arrays[f"{_GRAMS_PREFIX}{i}"] = np.frombuffer("\n".join(grams).encode("utf-8"), dtype=np.uint8)
                else:
                    entry["grams"] = grams
                meta["blocks"].append(entry)
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
                # Format 1 (before issue 12's cold start work) has no lookup arrays: the block
                # computes them when first asked, as it always did at load.
                prefix = f"{_INDEX_PREFIX}{i}_"
                index = {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)} or None
                text = data[f"{_GRAMS_PREFIX}{i}"].tobytes() if "grams" not in block else None
                blocks.append(_TfidfBlock(block["kind"], None, data[f"idf_{i}"], int(block["max_n"]),
                                          tuple(block["terms"]), bool(block["stem"]), float(block.get("weight", 1.0)),
                                          grams=block.get("grams"), grams_text=text, index_arrays=index))
        return cls(labels=tuple(meta["labels"]), blocks=blocks, coef=data["coef"], intercept=data["intercept"],
                   calibration=data["calibration"], thresholds=data["thresholds"])
