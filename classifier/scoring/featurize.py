"""Feature rows without scikit-learn: word n-gram TF-IDF and concept counts as CSR matrices.

These functions are the single implementation of the model's features. The training-time
transformers (`model.vectorizer.WordTfidfVectorizer`, `model.features.ConceptFeaturizer`) call
them, and so does the serving model (`serving.ServingModel`), which therefore scores exactly like
the fitted scikit-learn estimator without importing scikit-learn. The arithmetic on values
(`sublinear_tfidf`, `l2_normalize_values`, `concept_values`) works on plain arrays and is shared
with the batch path (`scoring.batch`), which never builds a sparse matrix: scipy.sparse is
imported only by the functions here that return one, so a cold `pmc classify` pays for neither
scikit-learn nor scipy. Every function here takes text already folded by `text.normalize.fold`:
a paragraph is folded once, before its features are computed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import repeat

from typing import TYPE_CHECKING

import numpy as np

from ..text.concepts import ConceptMatcher

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["NgramIndex", "HAN_CODE_RANGES", "lookup_arrays", "word_ngrams", "char_ngrams", "subword_ngrams", "tfidf_rows", "concept_rows", "l2_normalize_rows",
           "gram_counts", "tfidf_from_counts", "sublinear_tfidf", "l2_normalize_values", "concept_values"]

_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
HAN_CODE_RANGES = ((0x3400, 0x9FFF), (0xF900, 0xFAFF))  # = _HAN_RUN, for arrays of code points


def word_ngrams(tokens: list[str], max_n: int) -> list[str]:
    """Tokens followed by their 2..max_n-grams joined by spaces (scikit-learn's convention)."""
    grams = list(tokens)
    for n in range(2, max_n + 1):
        if n == 2:
            grams.extend([f"{a} {b}" for a, b in zip(tokens, tokens[1:])])
        else:
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


_LATIN_WORD = re.compile(r"[a-z]{3,}")


def subword_ngrams(folded: str) -> list[str]:
    """Character 3- to 5-grams of Latin-script words, with word boundaries marked (``<pat``, ``rol>``)."""
    out: list[str] = []
    for word in _LATIN_WORD.findall(folded):
        marked = f"<{word}>"
        for n in (3, 4, 5):
            out.extend(marked[i : i + n] for i in range(len(marked) - n + 1))
    return out


def char_ngrams(folded: str) -> list[str]:
    """Han character unigrams and bigrams of folded text (jieba-independent)."""
    out: list[str] = []
    for run in _HAN_RUN.findall(folded):
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def l2_normalize_values(data: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Scale the values of every non-empty row (CSR layout: `indptr`) to unit l2 norm, in place."""
    if len(data):
        lengths = np.diff(indptr)
        squares = np.add.reduceat(data**2, indptr[:-1][lengths > 0])
        norms = np.ones(len(lengths))
        norms[lengths > 0] = np.sqrt(squares)
        data /= np.repeat(norms, lengths)
    return data


def l2_normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Scale every non-empty row to unit l2 norm, in place (as sklearn.preprocessing.normalize)."""
    if matrix.nnz:
        l2_normalize_values(matrix.data, matrix.indptr)
    return matrix


def sublinear_tfidf(counts: np.ndarray, columns: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """``(1 + log(count)) * idf[column]`` per stored value, in place on the float array `counts`."""
    np.log(counts, out=counts)
    counts += 1.0
    counts *= idf[columns]
    return counts


def concept_values(counts: np.ndarray, *, weight: float, binary: bool) -> np.ndarray:
    """A concept or category column's value from its count, in place: `weight` when `binary`,
    else ``weight * log1p(count)``."""
    if binary:
        counts[:] = 1.0
    else:
        np.log1p(counts, out=counts)
    counts *= weight
    return counts


class NgramIndex:
    """Column ids of a text's known 1..n-grams, as scikit-learn's analyzer + vocabulary would give.

    For n <= 2 the bigrams are looked up by the integer pair of their unigram columns instead
    of by a joined string: a bigram can only be in the vocabulary if both its words are (each
    occurs in every document the bigram occurs in), so no known bigram is missed, and no
    string is built per bigram on the hot path.
    """

    def __init__(self, vocabulary: dict[str, int], max_n: int, *,
                 pairs: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.vocabulary = vocabulary
        self.max_n = max_n
        self._width = len(vocabulary)
        self._pair_dict: dict[int, int] | None = None
        self._pair_arrays = pairs  # `pair_arrays()` saved with the model, or None: computed here

    def pair_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The known bigrams as sorted codes ``first_column * width + second_column`` and their
        columns (empty unless max_n == 2): the one definition of a pair, for both paths."""
        if self._pair_arrays is None:
            # Grams with exactly one space, split at it. This runs at every model load, so the
            # splitting is one join and one split in C; a gram with two spaces (none when tokens
            # hold no space) sends all of them through partition instead.
            items = [(g, c) for g, c in self.vocabulary.items() if " " in g] if self.max_n == 2 else []
            pairs = [g for g, _ in items]
            halves = " ".join(pairs).split(" ") if pairs else []
            if len(halves) != 2 * len(pairs):
                items = [(g, c) for g, c in items if g.count(" ") == 1]
                pairs = [g for g, _ in items]
                halves = [half for g in pairs for half in g.split(" ")]
            get, n = self.vocabulary.get, len(pairs)
            first = np.fromiter(map(get, halves[0::2], repeat(-1)), dtype=np.int64, count=n)
            second = np.fromiter(map(get, halves[1::2], repeat(-1)), dtype=np.int64, count=n)
            columns = np.fromiter((c for _, c in items), dtype=np.int64, count=n)
            known = (first >= 0) & (second >= 0)
            keys = first[known] * self._width + second[known]
            order = np.argsort(keys)
            self._pair_arrays = (keys[order], columns[known][order])
        return self._pair_arrays

    @property
    def _pairs(self) -> dict[int, int]:
        if self._pair_dict is None:
            keys, columns = self.pair_arrays()
            self._pair_dict = dict(zip(keys.tolist(), columns.tolist()))
        return self._pair_dict

    def ids(self, tokens: list[str]) -> list[int]:
        get = self.vocabulary.get
        if self.max_n != 2:
            return [i for i in map(get, word_ngrams(tokens, self.max_n)) if i is not None]
        unigrams = list(map(get, tokens))
        width, pairs = self._width, self._pairs.get
        out = [i for i in unigrams if i is not None]
        out += [
            j for j in (pairs(a * width + b) for a, b in zip(unigrams, unigrams[1:]) if a is not None and b is not None)
            if j is not None
        ]
        return out


def lookup_arrays(grams: list[str], pairs: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays the batch path looks up a block's grams with, from its grams in column order
    and its `NgramIndex.pair_arrays()`: saved with the model, so that loading it splits no gram.

    `unigram_columns`: the columns of the grams without a space (the only grams a token can
    be); `pair_keys`, `pair_columns`: the pairs; and when every gram is one or two Han characters
    (a `char_ngrams` vocabulary): `han_unigram_codes` and `han_unigram_columns`, and the sorted
    `han_bigram_keys` (first code point << 16 | second) with `han_bigram_columns`.
    """
    columns = np.arange(len(grams), dtype=np.int64)
    spaced = np.fromiter((" " in g for g in grams), dtype=bool, count=len(grams))
    out = {"unigram_columns": columns[~spaced], "pair_keys": pairs[0], "pair_columns": pairs[1]}
    lengths = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
    codes = np.frombuffer("".join(grams).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    han = np.zeros(len(codes), dtype=bool)
    for lo, hi in HAN_CODE_RANGES:
        han |= (codes >= lo) & (codes <= hi)
    if np.all((lengths >= 1) & (lengths <= 2)) and np.all(han):
        starts = np.cumsum(lengths) - lengths
        one, two = lengths == 1, lengths == 2
        keys = (codes[starts[two]] << 16) | codes[starts[two] + 1]
        order = np.argsort(keys)
        out.update(han_unigram_codes=codes[starts[one]], han_unigram_columns=columns[one],
                   han_bigram_keys=keys[order], han_bigram_columns=columns[two][order])
    return out


def tfidf_rows(
    texts: Iterable[str],
    *,
    tokenizer: Callable[[str], list[str]],
    index: NgramIndex,
    idf: np.ndarray,
) -> sp.csr_matrix:
    """Sublinear-tf x smooth-idf rows, l2-normalised, over the known n-grams of each text."""
    import scipy.sparse as sp

    ids = index.ids
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        indices.extend(ids(tokenizer(text)))
        indptr.append(len(indices))
    matrix = sp.csr_matrix(
        (np.ones(len(indices)), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=(len(indptr) - 1, len(index.vocabulary)),
    )
    matrix.sum_duplicates()
    sublinear_tfidf(matrix.data, matrix.indices, idf)
    return l2_normalize_rows(matrix)


def concept_rows(
    folded_texts: Iterable[str],
    *,
    matcher: ConceptMatcher,
    concept_category: np.ndarray,
    n_categories: int,
    weight: float,
    binary: bool,
) -> sp.csr_matrix:
    """Per folded text: one column per concept, then one per category (any of its concepts).

    A present column is `weight` when `binary`, else `weight * log1p(count)`.
    """
    import scipy.sparse as sp

    n_concepts = len(matcher.keys)
    indices: list[int] = []
    indptr = [0]
    for folded in folded_texts:
        found = matcher.concept_ids(folded)
        if n_categories and found:
            found = found + [n_concepts + int(concept_category[i]) for i in found]
        indices.extend(found)
        indptr.append(len(indices))
    matrix = sp.csr_matrix(
        (np.ones(len(indices)), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=(len(indptr) - 1, n_concepts + n_categories),
    )
    matrix.sum_duplicates()
    concept_values(matrix.data, weight=weight, binary=binary)
    return matrix


def gram_counts(texts: Iterable[str], analyzer: Callable[[str], list[str]]) -> sp.csr_matrix:
    """Raw n-gram counts of every text over the vocabulary of all of them (column order arbitrary).

    Computed once, these counts give any training fold's TF-IDF features without tokenising
    again (`tfidf_from_counts`): the vocabulary and idf of a fold depend only on which rows
    are in it.
    """
    import scipy.sparse as sp

    vocabulary: dict[str, int] = {}
    add = vocabulary.setdefault
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        indices.extend([add(gram, len(vocabulary)) for gram in analyzer(text)])
        indptr.append(len(indices))
    matrix = sp.csr_matrix(
        (np.ones(len(indices)), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=(len(indptr) - 1, max(len(vocabulary), 1)),
    )
    matrix.sum_duplicates()
    return matrix


def tfidf_from_counts(counts: sp.csr_matrix, train: np.ndarray, rows: np.ndarray, *, min_df: int) -> sp.csr_matrix:
    """The TF-IDF rows `rows` would get from a vectorizer fitted on the rows `train` only."""
    fitted = counts[train]
    df = np.bincount(fitted.indices, minlength=counts.shape[1])
    keep = np.flatnonzero(df >= min_df)
    idf = np.log((1 + len(train)) / (1 + df[keep])) + 1.0
    matrix = counts[rows][:, keep].tocsr()
    sublinear_tfidf(matrix.data, matrix.indices, idf)
    return l2_normalize_rows(matrix)
