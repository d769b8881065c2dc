"""Feature extraction: bilingual concept features from the codebook, words and character n-grams.

The labelled set is tiny and bilingual, so the codebook does part of the learning: each
concept's Chinese and English terms (口岸 / "port of entry") fire one shared feature, so
weight learned from a Chinese paragraph transfers to an English one and back. `ConceptMatcher`
finds the terms (one compiled alternation, longest term first, English terms on word
boundaries with light inflection) in normalised text and maps matches back to character spans
of the original text for highlighting. `ConceptFeaturizer` is the scikit-learn transformer
over it; `build_vectorizer()` assembles the full feature union the model uses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from .taxonomy import Taxonomy
from .tokenize import Tokenizer, normalize_for_features
from .vectorizer import WordTfidfVectorizer

__all__ = [
    "ConceptMatch",
    "ConceptMatcher",
    "ConceptFeaturizer",
    "concept_lexicon",
    "normalize_batch",
    "char_ngrams",
    "build_vectorizer",
]

Lexicon = tuple[tuple[str, tuple[str, ...]], ...]  # ((concept key, terms), ...)

_LATIN = re.compile(r"[a-z0-9]")
_SPACE = re.compile(r"\s+")


def concept_lexicon(taxonomy: Taxonomy) -> Lexicon:
    """The codebook's concepts as plain, picklable data: ((``category/concept``, terms), ...)."""
    return tuple((c.key, tuple(c.terms)) for c in taxonomy.concepts)


@dataclass(frozen=True)
class ConceptMatch:
    """A concept term found in a text; `start`/`end` index the ORIGINAL text."""

    concept: str
    term: str
    start: int
    end: int


def normalize_batch(texts: Iterable[str]) -> list[str]:
    """`normalize_for_features` over a batch (module-level so pipelines pickle)."""
    return [normalize_for_features(t) for t in texts]


class ConceptMatcher:
    """Finds codebook terms in text. Built once per lexicon; safe to share across threads.

    Matching runs on an Aho-Corasick automaton (pyahocorasick, C): leftmost-longest,
    non-overlapping, linear in the text. English terms must start and end on word boundaries;
    their last word may carry a light inflection (patrol -> patrols, patrolled) and the other
    words a plural (ports of entry).
    """

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.keys = tuple(dict.fromkeys(key for key, _ in lexicon))
        self._index = {key: i for i, key in enumerate(self.keys)}
        self._term_concepts: dict[str, tuple[int, ...]] = {}
        for key, terms in lexicon:
            for term in terms:
                norm = _SPACE.sub(" ", normalize_for_features(term)).strip()
                if norm:
                    found = set(self._term_concepts.get(norm, ())) | {self._index[key]}
                    self._term_concepts[norm] = tuple(sorted(found))

    @cached_property
    def _automaton(self):  # noqa: ANN202 - ahocorasick.Automaton has no type stubs
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for term in self._term_concepts:
            latin_start, latin_end = bool(_LATIN.match(term[0])), bool(_LATIN.match(term[-1]))
            for variant in _variants(term):
                automaton.add_word(variant, (len(variant), term, latin_start, latin_end))
        automaton.make_automaton()
        return automaton

    def _matches(self, text: str) -> Iterator[tuple[int, int, str]]:
        if not self._term_concepts:
            return
        length = len(text)
        for last, (size, term, latin_start, latin_end) in self._automaton.iter_long(text):
            start, end = last - size + 1, last + 1
            if latin_start and start and _LATIN.match(text[start - 1]):
                continue  # inside a longer word: "port" in "support"
            if latin_end:
                stop = end
                while stop < length and _LATIN.match(text[stop]):
                    stop += 1
                if stop > end and text[end:stop] not in _SUFFIXES:
                    continue
                end = stop
            yield start, end, term

    def concept_ids(self, normalized: str) -> list[int]:
        """Indices (into `keys`) of every concept hit in already-normalised text, with repeats."""
        out: list[int] = []
        for _start, _end, term in self._matches(_SPACE.sub(" ", normalized)):
            out.extend(self._term_concepts[term])
        return out

    def find(self, text: str) -> list[ConceptMatch]:
        """Every concept term in `text`, with spans in the original (un-normalised) text."""
        normalized, offsets = _normalize_with_offsets(text)
        matches = []
        for start, end, term in self._matches(normalized):
            a, b = offsets[start], offsets[end - 1] + 1
            for index in self._term_concepts[term]:
                matches.append(ConceptMatch(self.keys[index], text[a:b], a, b))
        return matches

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_automaton", None)  # rebuilt on first use after unpickling
        return state


_SUFFIXES = frozenset({"s", "es", "ed", "d", "ing", "ings", "led", "ling", "ly"})


def _variants(term: str) -> list[str]:
    """The term, plus plural forms of its non-final English words ("ports of entry")."""
    words = term.split(" ")
    out = [term]
    for i, word in enumerate(words[:-1]):
        if _LATIN.match(word[-1:]):
            for suffix in ("s", "es"):
                out.append(" ".join([*words[:i], word + suffix, *words[i + 1 :]]))
    return out


def _normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Normalise like `normalize_for_features`, keeping each output character's source index."""
    chars: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch).lower()
        for out in folded:
            if out.isspace():
                if chars and chars[-1] == " ":
                    continue
                out = " "
            chars.append(out)
            offsets.append(i)
    folded_text = "".join(chars)
    simplified = normalize_for_features(folded_text)
    if len(simplified) != len(folded_text):  # OpenCC changed length: convert per character
        simplified = "".join(normalize_for_features(c) or c for c in folded_text)
        if len(simplified) != len(folded_text):
            simplified = folded_text
    return simplified, offsets


class ConceptFeaturizer(BaseEstimator, TransformerMixin):
    """Concept and category indicator features from the codebook's bilingual terms.

    Input: raw texts (normalised here). Output columns: one per concept (``concept:<category>/<id>``) and
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
        n_concepts = len(self.matcher_.keys)
        n_cols = n_concepts + len(self.category_names_)
        rows, cols, vals = [], [], []
        for row, text in enumerate(X):
            counts: dict[int, int] = {}
            for index in self.matcher_.concept_ids(normalize_for_features(text)):
                counts[index] = counts.get(index, 0) + 1
            if self.categories and counts:
                cat_counts: dict[int, int] = {}
                for index, count in counts.items():
                    column = n_concepts + int(self._concept_category[index])
                    cat_counts[column] = cat_counts.get(column, 0) + count
                counts.update(cat_counts)
            for column, count in counts.items():
                rows.append(row)
                cols.append(column)
                vals.append(1.0 if self.binary else float(np.log1p(count)))
        matrix = sp.csr_matrix(
            (np.asarray(vals, dtype=np.float64) * self.weight, (rows, cols)),
            shape=(len(X), n_cols),
        )
        return matrix

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        names = [f"concept:{key}" for key in self.matcher_.keys]
        names += [f"category:{c}" for c in self.category_names_]
        return np.asarray(names, dtype=object)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if "matcher_" in state:  # the compiled regex is rebuilt lazily after unpickling
            state["matcher_"] = ConceptMatcher(self.lexicon)
        return state


def char_ngrams(text: str) -> list[str]:
    """Han character unigrams and bigrams (Traditional folded to Simplified; jieba-independent)."""
    out: list[str] = []
    for run in _HAN_RUN.findall(normalize_for_features(text)):
        out.extend(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def build_vectorizer(
    lexicon: Lexicon,
    *,
    use_words: bool = True,
    word_ngrams: tuple[int, int] = (1, 2),
    stem: bool = False,
    term_dictionary: bool = True,
    use_concepts: bool = True,
    concept_weight: float = 1.0,
    use_chars: bool = False,
    min_df: int = 1,
) -> FeatureUnion:
    """The union of the enabled feature blocks; each block normalises its own input.

    The word tokenizer carries the codebook's Chinese terms as its jieba user dictionary, so a
    pickled model tokenises exactly as it did when trained, whatever the codebook says later.
    """
    blocks: list[tuple[str, object]] = []
    if use_words:
        terms = tuple(dict.fromkeys(t for _key, ts in lexicon for t in ts if not _LATIN.match(t[:1])))
        terms = terms if term_dictionary else ()
        if word_ngrams[0] != 1:
            raise ValueError(f"word n-grams start at 1, got {word_ngrams}")
        blocks.append(("words", WordTfidfVectorizer(
            tokenizer=Tokenizer(terms, stem=stem), max_n=int(word_ngrams[1]), min_df=min_df,
        )))
    if use_chars:
        blocks.append(("chars", TfidfVectorizer(
            analyzer=char_ngrams, lowercase=False, sublinear_tf=True, min_df=min_df,
        )))
    if use_concepts:
        blocks.append(("concepts", ConceptFeaturizer(lexicon, weight=concept_weight)))
    if not blocks:
        raise ValueError("at least one feature block must be enabled")
    return FeatureUnion(blocks)
