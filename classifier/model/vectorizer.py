"""A TF-IDF vectorizer for word n-grams with the hot path out of per-document Python dicts.

`WordTfidfVectorizer` computes exactly what scikit-learn's
``TfidfVectorizer(tokenizer=..., token_pattern=None, lowercase=False, ngram_range=(1, n),
sublinear_tf=True, min_df=k, norm="l2", smooth_idf=True)`` computes — same vocabulary, same
column order, same values (a test asserts it) — but `transform` looks n-grams up with one
`dict.get` each into a flat index list for the whole batch and leaves counting, sublinear tf,
idf weighting and l2 normalisation to scipy/numpy. scikit-learn's generic path builds a dict
per document and joins every n-gram through `_word_ngrams`, which is where most of its time
went at serving time. Input texts are folded already (`text.normalize.fold`): the tokenizer's
`tokens_folded` is used when it has one, so a paragraph is never normalised twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from ..scoring.featurize import NgramIndex, tfidf_rows, word_ngrams

__all__ = ["WordTfidfVectorizer"]


class WordTfidfVectorizer(BaseEstimator, TransformerMixin):
    """Word 1..n-gram TF-IDF (sublinear tf, smooth idf, l2 norm) over a custom tokenizer."""

    def __init__(self, *, tokenizer: Callable[[str], list[str]] | None = None, max_n: int = 2,
                 min_df: int = 1) -> None:
        self.tokenizer = tokenizer
        self.max_n = max_n
        self.min_df = min_df

    def _grams(self, text: str) -> list[str]:
        return word_ngrams(self._tokenize(text), self.max_n)

    def fit(self, X: Iterable[str], y: object = None) -> WordTfidfVectorizer:
        df: Counter[str] = Counter()
        n_docs = 0
        for text in X:
            df.update(set(self._grams(text)))
            n_docs += 1
        names = sorted(g for g, count in df.items() if count >= self.min_df)
        if not names:
            raise ValueError("empty vocabulary; the documents contain no tokens")
        self.vocabulary_ = {g: i for i, g in enumerate(names)}
        counts = np.fromiter((df[g] for g in names), dtype=np.float64, count=len(names))
        self.idf_ = np.log((1 + n_docs) / (1 + counts)) + 1.0
        return self

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        if getattr(self, "_index", None) is None or self._index.vocabulary is not self.vocabulary_:
            self._index = NgramIndex(self.vocabulary_, self.max_n)
        return tfidf_rows(X, tokenizer=self._tokenize, index=self._index, idf=self.idf_)

    def _tokenize(self, text: str) -> list[str]:
        if self.tokenizer is None:
            return text.split()
        tokens_folded = getattr(self.tokenizer, "tokens_folded", None)
        return tokens_folded(text) if tokens_folded is not None else self.tokenizer(text)

    def fit_transform(self, X: Sequence[str], y: object = None) -> sp.csr_matrix:
        texts = list(X)
        return self.fit(texts).transform(texts)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        return np.asarray(names, dtype=object)
