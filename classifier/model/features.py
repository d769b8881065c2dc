"""Feature extraction as scikit-learn transformers: words, concepts, character n-grams.

`build_vectorizer()` assembles the union the model uses: word 1..n-gram TF-IDF over the
jieba-compatible tokenizer (`vectorizer.WordTfidfVectorizer`), bilingual codebook concept and
category indicators (`ConceptFeaturizer`, over `text.concepts.ConceptMatcher`) and, optionally,
Han character uni/bigrams. The transformers are thin scikit-learn wrappers over
`scoring.featurize`, the one implementation of the features, which the serving model uses
without scikit-learn. Every block takes folded text (`text.normalize.fold`); the estimator folds
each paragraph once before the union sees it. Block names come from `scoring.blocks`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from ..scoring import blocks as B
from ..scoring.featurize import char_ngrams, concept_rows, subword_ngrams
from ..text.concepts import ConceptMatcher, Lexicon
from ..text.normalize import fold
from ..text.tokenize import Tokenizer
from .vectorizer import WordTfidfVectorizer

__all__ = [
    "ConceptFeaturizer",
    "fold_batch",
    "char_ngrams",
    "build_vectorizer",
]

_LATIN = re.compile(r"[a-z0-9]")


def fold_batch(texts: Iterable[str]) -> list[str]:
    """`text.normalize.fold` over a batch (module-level so pipelines pickle)."""
    return [fold(t) for t in texts]


class ConceptFeaturizer(BaseEstimator, TransformerMixin):
    """Concept and category indicator features from the codebook's bilingual terms.

    Input: folded texts. Output columns: one per concept (``concept:<category>/<id>``) and
    one per category (``category:<id>``, any of its concepts present), valued `weight` when
    present (``binary=True``) or `weight * log1p(count)`.
    """

    def __init__(self, lexicon: Lexicon = (), *, weight: float = 1.0, binary: bool = False,
                 categories: bool = True) -> None:
        self.lexicon = lexicon
        self.weight = weight
        self.binary = binary
        self.categories = categories

    def fit(self, X: Sequence[str], y: object = None) -> ConceptFeaturizer:
        self.matcher_ = ConceptMatcher(self.lexicon)
        cats = list(dict.fromkeys(key.split("/")[0] for key in self.matcher_.keys))
        self.category_names_ = cats if self.categories else []
        self._concept_category = np.array(
            [cats.index(key.split("/")[0]) for key in self.matcher_.keys], dtype=np.int64
        )
        return self

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        return concept_rows(
            X, matcher=self.matcher_, concept_category=self._concept_category,
            n_categories=len(self.category_names_), weight=self.weight, binary=self.binary,
        )

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = [f"concept:{key}" for key in self.matcher_.keys]
        names += [f"category:{c}" for c in self.category_names_]
        return np.asarray(names, dtype=object)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if "matcher_" in state:  # the compiled regex is rebuilt lazily after unpickling
            state["matcher_"] = ConceptMatcher(self.lexicon)
        return state


def build_vectorizer(
    lexicon: Lexicon,
    *,
    use_words: bool = True,
    word_ngrams: tuple[int, int] = (1, 2),
    stem: bool = False,
    term_dictionary: bool = True,
    word_weight: float = 1.0,
    use_concepts: bool = True,
    concept_weight: float = 1.0,
    use_chars: bool = False,
    use_subwords: bool = False,
    min_df: int = 1,
) -> FeatureUnion:
    """The union of the enabled feature blocks, over folded text.

    The word tokenizer carries the codebook's Chinese terms as its jieba user dictionary, so a
    pickled model tokenises exactly as it did when trained, whatever the codebook says later.
    """
    blocks: list[tuple[str, object]] = []
    if use_words:
        terms = tuple(dict.fromkeys(t for _key, ts in lexicon for t in ts if not _LATIN.match(t[:1])))
        terms = terms if term_dictionary else ()
        if word_ngrams[0] != 1:
            raise ValueError(f"word n-grams start at 1, got {word_ngrams}")
        blocks.append((B.WORDS, WordTfidfVectorizer(
            tokenizer=Tokenizer(terms, stem=stem), max_n=int(word_ngrams[1]), min_df=min_df,
        )))
    if use_chars:
        blocks.append((B.CHARS, TfidfVectorizer(
            analyzer=char_ngrams, lowercase=False, sublinear_tf=True, min_df=min_df,
        )))
    if use_subwords:
        blocks.append((B.SUBWORDS, TfidfVectorizer(
            analyzer=subword_ngrams, lowercase=False, sublinear_tf=True, min_df=max(min_df, 2),
        )))
    if use_concepts:
        blocks.append((B.CONCEPTS, ConceptFeaturizer(lexicon, weight=concept_weight)))
    if not blocks:
        raise ValueError("at least one feature block must be enabled")
    weights = {B.WORDS: word_weight} if use_words and word_weight != 1.0 else None
    return FeatureUnion(blocks, transformer_weights=weights)
