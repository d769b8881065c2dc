"""The batch path: a serving model's scores for thousands of folded texts at once, with numpy.

`BatchScorer(model)` computes exactly what `ServingModel.predict_proba_folded` computes — the
same features (`featurize`), the same arithmetic in the same order, the same decision rule
(`decision`) — but per batch instead of per paragraph, and without scipy:

* word tokens come from the model's own tokenizer (`Tokenizer.tokens_folded`, jieba-rs), then
  turn into integer codes for the whole batch in one pass (`dict.get` mapped in C into numpy);
  word pairs are looked up by `searchsorted` over the sorted pair codes of the vocabulary;
* Han character uni- and bigrams are read off the batch's code points (one numpy array for the
  whole batch) through a code point → column table and sorted bigram codes;
* codebook concepts come from one automaton scan of the batch (`ConceptMatcher.concept_ids_many`);
* counts, sublinear TF-IDF, l2 norms and concept values go through the functions of `featurize`
  that the sparse path uses, on arrays in the same (row, column) order, and the linear scores
  are summed per row in column order from zero, as scipy's sparse-times-dense product does.

With the optional C extension (`text.scan.compiled()`), the token codes and pairs, the Han
n-grams and the linear sums run in `_scan` instead: a vocabulary table hashed over code points
(pure-ASCII text is tokenised there too, by `tokenize._word_tokens`' rules, so its tokens never
become Python strings), a scan of each text's code points, and one loop adding value × weight
per row in array order (built without fused multiply-add, so every sum rounds as numpy's does).
The lookup tables come from the model's stored `featurize.lookup_arrays`. Without it the numpy
code above runs; a scorer keeps the path it was built with.

So the scores are equal to the per-paragraph path's bit for bit, on either path (tests assert it
to 1e-9 on adversarial text). A feature block this module has no vectorised form for is
computed per text through its reference functions, still without scipy.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from types import ModuleType
from typing import Any

import numpy as np

from ..text.concepts import ConceptMatcher
from ..text.scan import compiled
from . import blocks as B
from .decision import calibrated, decide
from .featurize import HAN_CODE_RANGES, concept_values, l2_normalize_values, sublinear_tfidf
from .serving import ServingModel

__all__ = ["BatchScorer", "Features"]

# (row of each stored value, its column within the block, its value), rows ascending and
# columns ascending within a row: the CSR layout, without the matrix.
Features = tuple[np.ndarray, np.ndarray, np.ndarray]


def _counts(rows: np.ndarray, columns: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (row, column) pairs in row-then-column order, with how often each occurs."""
    keys = rows.astype(np.int64) * width + columns
    if len(keys) and int(keys.max()) < 2**31:  # a 32-bit sort is about twice as fast
        keys = keys.astype(np.int32)
    keys.sort()
    if not len(keys):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    counts = np.diff(np.append(starts, len(keys))).astype(np.float64)
    distinct = keys[starts].astype(np.int64)
    return distinct // width, distinct % width, counts


def _tfidf(rows: np.ndarray, columns: np.ndarray, n: int, *, width: int, idf: np.ndarray,
           weight: float) -> Features:
    rows, columns, values = _counts(rows, columns, width)
    sublinear_tfidf(values, columns, idf)
    indptr = np.searchsorted(rows, np.arange(n + 1))
    l2_normalize_values(values, indptr)
    if weight != 1.0:
        values *= weight
    return rows, columns, values


class _WordBlock:
    """Words (and any 1- or 2-gram block over a tokenizer): token codes for the whole batch."""

    def __init__(self, block: Any, native: ModuleType | None) -> None:
        self.block = block
        self.width = block.width
        arrays = block.index_arrays()
        # Tokens hold no space, so only the grams without one can match a token: a table a
        # fifth of the size, which the lookups of every token of the batch go through.
        self.table: Any = None  # the compiled lookup, or
        self.vocabulary: dict[str, int] = {}  # the fallback's
        if native is not None and block.grams_text is not None:  # no str made per gram
            self.table = native.vocabulary_from_lines(block.grams_text, arrays["unigram_columns"])
        else:
            grams, columns = block.grams, arrays["unigram_columns"].tolist()
            keys = [grams[c] for c in columns]
            if native is not None:
                self.table = native.Vocabulary(keys, columns)
            else:
                self.vocabulary = dict(zip(keys, columns))
        self.pair_keys, self.pair_columns = arrays["pair_keys"], arrays["pair_columns"]
        self.bigrams = block.max_n == 2
        # The compiled table tokenises pure-ASCII text itself (the word tokens of
        # `Tokenizer.tokens_folded`, looked up without making a string of each).
        self.ascii_words = self.table is not None and block.kind == B.WORDS

    def features(self, folded: Sequence[str]) -> Features:
        tokenize = self.block._tokenize
        if self.table is not None:
            items = ([text if text.isascii() else tokenize(text) for text in folded] if self.ascii_words
                     else [tokenize(text) for text in folded])
            rows_bytes, columns_bytes = self.table.word_grams(items, self.pair_keys, self.pair_columns, self.width,
                                                              self.bigrams, self.block.stem)
            return _tfidf(np.frombuffer(rows_bytes, dtype=np.int32), np.frombuffer(columns_bytes, dtype=np.int32),
                          len(folded), width=self.width, idf=self.block.idf, weight=self.block.weight)
        tokens = [tokenize(text) for text in folded]
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        flat = list(chain.from_iterable(tokens))
        codes = np.fromiter(map(self.vocabulary.get, flat, repeat(-1)), dtype=np.int64, count=len(flat))
        rows = np.repeat(np.arange(len(folded)), lengths)
        known = codes >= 0
        row_parts, column_parts = [rows[known]], [codes[known]]
        if self.bigrams and len(codes) > 1 and len(self.pair_keys):
            # Neighbouring tokens of one text, both in the vocabulary: their pair's code.
            both = known[:-1] & known[1:] & (rows[:-1] == rows[1:])
            keys = codes[:-1][both] * self.width + codes[1:][both]
            at = np.minimum(np.searchsorted(self.pair_keys, keys), len(self.pair_keys) - 1)
            found = self.pair_keys[at] == keys
            row_parts.append(rows[:-1][both][found])
            column_parts.append(self.pair_columns[at[found]])
        return _tfidf(np.concatenate(row_parts), np.concatenate(column_parts), len(folded),
                      width=self.width, idf=self.block.idf, weight=self.block.weight)


class _HanCharBlock:
    """Han character uni- and bigrams, read off the batch's code points."""

    def __init__(self, block: Any, native: ModuleType | None) -> None:
        self.block = block
        self.width = block.width
        self.native = native
        arrays = block.index_arrays()
        self.unigram = np.full(0x10000, -1, dtype=np.int64)
        self.unigram[arrays["han_unigram_codes"]] = arrays["han_unigram_columns"]
        self.bigram_keys = arrays["han_bigram_keys"]
        self.bigram_columns = arrays["han_bigram_columns"]

    @staticmethod
    def fits(block: Any) -> bool:
        """Whether every gram of the vocabulary is one or two Han characters (as char_ngrams makes)."""
        return "han_unigram_codes" in block.index_arrays()

    def features(self, folded: Sequence[str]) -> Features:
        if self.native is not None:
            rows_bytes, columns_bytes = self.native.han_grams(folded, self.unigram, self.bigram_keys, self.bigram_columns)
            return _tfidf(np.frombuffer(rows_bytes, dtype=np.int32), np.frombuffer(columns_bytes, dtype=np.int32),
                          len(folded), width=self.width, idf=self.block.idf, weight=self.block.weight)
        lengths = np.fromiter(map(len, folded), dtype=np.int64, count=len(folded))
        codes = np.frombuffer("\x00".join(folded).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        rows = np.repeat(np.arange(len(folded), dtype=np.int32), lengths + 1)[: len(codes)]
        han = np.zeros(len(codes), dtype=bool)
        for lo, hi in HAN_CODE_RANGES:
            han |= (codes >= lo) & (codes <= hi)
        where = np.flatnonzero(han)
        uni = self.unigram[codes[where]]
        row_parts, column_parts = [rows[where][uni >= 0]], [uni[uni >= 0]]
        if len(self.bigram_keys) and len(codes) > 1:
            # Two Han characters side by side (the NUL between texts is not Han).
            pair = np.flatnonzero(han[:-1] & han[1:])
            keys = (codes[pair].astype(np.int64) << 16) | codes[pair + 1].astype(np.int64)
            at = np.minimum(np.searchsorted(self.bigram_keys, keys), len(self.bigram_keys) - 1)
            found = self.bigram_keys[at] == keys
            row_parts.append(rows[pair][found])
            column_parts.append(self.bigram_columns[at[found]])
        return _tfidf(np.concatenate(row_parts), np.concatenate(column_parts), len(folded),
                      width=self.width, idf=self.block.idf, weight=self.block.weight)


class _TextByTextBlock:
    """Any other TF-IDF block: its reference n-gram ids, text by text (exact, not vectorised)."""

    def __init__(self, block: Any) -> None:
        self.block = block

    def features(self, folded: Sequence[str]) -> Features:
        ids = [self.block._index.ids(self.block._tokenize(text)) for text in folded]
        rows = np.repeat(np.arange(len(folded)), [len(x) for x in ids])
        columns = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=len(rows))
        return _tfidf(rows, columns, len(folded), width=self.block.width, idf=self.block.idf,
                      weight=self.block.weight)


class _ConceptBlock:
    """Concept counts and category counts from one scan of the batch."""

    def __init__(self, block: Any) -> None:
        self.block = block
        self.matcher: ConceptMatcher = block.matcher
        self.n_concepts = len(self.matcher.keys)
        self.categories = block._concept_category
        self.n_categories = len(block.categories)

    def features(self, folded: Sequence[str]) -> Features:
        rows, columns = self.matcher.concept_hits(folded)
        if self.n_categories:
            rows = np.concatenate([rows, rows])
            columns = np.concatenate([columns, self.n_concepts + self.categories[columns]])
        rows, columns, values = _counts(rows, columns, self.n_concepts + self.n_categories)
        concept_values(values, weight=self.block.weight, binary=self.block.binary)
        return rows, columns, values


def _plan(block: Any, native: ModuleType | None) -> Any:
    if block.__class__.__name__ == "_ConceptBlock":
        return _ConceptBlock(block)
    if block.kind == B.CHARS and _HanCharBlock.fits(block):
        return _HanCharBlock(block, native)
    if block.max_n in (1, 2) and block.kind != B.CHARS:
        return _WordBlock(block, native)
    return _TextByTextBlock(block)


class BatchScorer:
    """Calibrated probabilities and decisions of a `ServingModel` for batches of folded texts."""

    def __init__(self, model: ServingModel) -> None:
        self.model = model
        self.labels = model.labels
        self.native = compiled()  # the compiled inner loops, or None: the pure-Python ones
        self._blocks = [_plan(block, self.native) for block in model.blocks]
        self._offsets = np.cumsum([0] + [block.width for block in model.blocks])[:-1]
        self._coef_by_label = np.ascontiguousarray(model.coef.T)  # one contiguous row per label: fast gathers

    def scores(self, folded: Sequence[str]) -> np.ndarray:
        """Linear decision scores, (len(folded), n_labels): ``features @ coef + intercept``.

        Each row is summed from zero in column order (blocks in model order, columns ascending
        within a block), the order of scipy's sparse-times-dense product, so the sums are the
        per-paragraph path's exactly.
        """
        n = len(folded)
        parts = [plan.features(folded) for plan in self._blocks]
        rows = np.concatenate([p[0] for p in parts])
        columns = np.concatenate([p[1] + offset for p, offset in zip(parts, self._offsets)])
        values = np.concatenate([p[2] for p in parts])
        # bincount adds in array order: within a row, block order then column order, as in the
        # stacked matrix. The compiled loop adds in the same order.
        if self.native is not None:
            labels = len(self._coef_by_label)
            sums = self.native.linear_scores(rows.astype(np.int64, copy=False), columns.astype(np.int64, copy=False),
                                             values, self._coef_by_label, n, labels)
            return np.frombuffer(sums, dtype=np.float64).reshape(n, labels) + self.model.intercept
        out = np.empty((n, len(self._coef_by_label)))
        for j, weights in enumerate(self._coef_by_label):
            out[:, j] = np.bincount(rows, weights=values * weights[columns], minlength=n)
        return out + self.model.intercept

    def probabilities(self, folded: Sequence[str]) -> np.ndarray:
        """`ServingModel.predict_proba_folded`, for the batch at once."""
        return calibrated(self.scores(folded), self.model.calibration)

    def decide(self, probabilities: np.ndarray, *, threshold_scale: float = 1.0) -> np.ndarray:
        return decide(probabilities, self.model.thresholds, threshold_scale=threshold_scale)
