"""Turn a paragraph (Simplified or Traditional Chinese, English, or a mix) into feature tokens.

The tokens feed scikit-learn's ``TfidfVectorizer(tokenizer=Tokenizer(terms), token_pattern=None,
lowercase=False)``. Steps, in order:

1. ``normalize.fold``: Unicode NFKC (folds full-width letters, digits and punctuation),
   Traditional to Simplified, lower case. ``Tokenizer.tokens_folded`` takes text folded already
   (the scoring path folds a paragraph once for tokens, concepts and language).
2. The "optional character" convention of Chinese legal text, ``国(边)境`` (one Han character in
   parentheses between Han characters), is written without the parentheses: ``国边境``. Domain
   terms go through steps 1-2 too, so ``妨害国（边）境管理`` in a term list and ``妨害国(边)境管理``
   or ``妨害国边境管理`` in a paragraph all give the token ``妨害国边境管理``. We prefer this to
   "match the domain terms first and segment only the gaps": a first pass overrides real words
   that overlap a term (港口岸线 is 港口/岸线, not 港/口岸/线; 毒蛇头部 is 毒蛇/头部), while
   jieba's dictionary route resolves such overlaps and still keeps the terms whole in context.
3. Runs of Han characters (jieba's range, U+4E00..U+9FD5) are segmented exactly like
   ``jieba.lcut(run, HMM=True)`` after ``jieba.add_word(term, DOMAIN_TERM_FREQ)`` for every
   domain term: same dictionary, same DAG and maximum-probability route, same HMM for unknown
   words. The segmenter is jieba-rs (the ``rjieba`` package): over 10x jieba's speed, with its
   dictionary built in 0.13 s instead of jieba's 1 s. Without ``rjieba``, jieba itself is used.
4. Everything else gives word tokens: letters and digits with inner hyphens and apostrophes
   (``anti-smuggling``, ``don't``), a possessive ``'s`` dropped; numbers (``1,461``, ``3.5%``)
   become ``<num>`` and four-digit years 1900-2099 ``<year>``; ideographs outside jieba's range
   (〇, extension A ...) one token per character, as jieba does; punctuation and whitespace
   are dropped. Chinese numerals (三千, 1.4万 -> ``<num>`` 万) are left to the segmenter.
   English plurals are stripped by Harman's S-stemmer (patrols -> patrol, policies -> policy,
   crimes -> crime; "us"/"ss" endings and words of three letters or fewer are left alone).
   It is on by default because it helps the small labelled set: grouped 5-fold cross-validation
   on labels/gold.jsonl (406 paragraphs, TF-IDF + one-vs-rest logistic regression, 6 random
   document splits) gave micro-F1 +0.011 with unigrams and +0.017 with uni+bigrams, better in
   all 12 splits. ``Tokenizer(stem=False)`` keeps the surface forms (``tokenizer__stem``).

Speed (one core): the paragraph goes to the segmenter in a single call, with each non-Han
stretch that holds word tokens replaced by private-use placeholder characters (one per
token), which jieba emits as tokens of their own; the placeholders are then swapped back. So
token order is kept, and the segmenter's blocks are exactly the Han runs. Nothing is cached
between paragraphs.

Domain terms: ``Tokenizer(terms=...)`` carries its own list, so a saved model keeps its
tokenization (``labels.taxonomy.codebook_tokenizer()`` is one with the codebook's zh terms).

One deliberate difference from Python jieba: ``jieba.add_word`` on a word that is already in
the dictionary (口岸, 蛇头) adds the new frequency to the dictionary's total without taking the
old one out (fxsjy/jieba#594, #928); jieba-rs keeps the total exact. With the codebook's 806
terms the two totals differ by 0.16 %, which can only flip a route whose alternatives are equally
likely to within that margin; ``benchmarks/bench_tokenize.py`` measures it (no difference
found). The jieba fallback here corrects the total, so both backends give the same tokens.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from .normalize import HAN_RANGE, collapse_optional_chars, fold, normalize_term

__all__ = [
    "DOMAIN_TERM_FREQ",
    "GROWING_CHARS",
    "Tokenizer",
    "complete_segmenters",
]

# Dictionary frequency of every domain term (the dictionary's total is 6.0e7; 的 has 318,825,
# and no codebook term already in the dictionary has more than 7,289). 1e4 keeps the terms whole
# in ordinary contexts while a competing real word still wins a genuine overlap (港口岸线). Each
# term adds it to the total: 806 terms add 13 %, which favours slightly longer words everywhere,
# the same way at training and at prediction time.
DOMAIN_TERM_FREQ = 10_000

_HAN = HAN_RANGE
_HAN_CHAR = re.compile(f"[{_HAN}]")
_TERM = re.compile(f"[{_HAN}]{{2,}}")


# --- word tokens: everything outside the Han runs ----------------------------------------------

# Ideographs outside jieba's range (U+3007 〇, extension A, U+9FD6.., extensions B..): one token
# per character, as jieba emits them.
_RARE_HAN = "\u3007\u3400-\u4dbf\u9fd6-\u9fff\U00020000-\U0003134f"
_LETTER = r"[^\W\d_]"
_ALNUM = r"[^\W_]"
_WORD_TOKEN = re.compile(
    r"(?=[^\W_])(?:"  # (a lookahead on one class lets the regex engine skip non-word text fast)
    r"[0-9]+(?:[.,][0-9]+)*%?"  # a number: 1,461 3.5% 2024
    f"|[{_RARE_HAN}]"  # one rare ideograph
    # a word starts with a letter, not right after "x'" (so a possessive 's is dropped); inner
    # hyphens and apostrophes join, a final 's does not
    f"|(?<!{_ALNUM}'){_LETTER}{_ALNUM}*(?:-{_LETTER}{_ALNUM}*|'(?!s\\b){_LETTER}{_ALNUM}*)*"
    ")"
)
# The same tokens for pure-ASCII text, where [^\W_] is [0-9A-Za-z]: written to start with a
# character class, which lets the regex engine skip non-word text without trying each position
# (a third faster on English paragraphs; a test checks the two agree on random ASCII text).
_ASCII_WORD_TOKEN = re.compile(
    r"[0-9A-Za-z](?:"
    r"(?<=[0-9])[0-9]*(?:[.,][0-9]+)*%?"  # a number
    r"|(?<=[A-Za-z])(?<![0-9A-Za-z]'[A-Za-z])[0-9A-Za-z]*(?:-[A-Za-z][0-9A-Za-z]*|'(?!s\b)[A-Za-z][0-9A-Za-z]*)*"
    r")"
)
_YEAR = re.compile(r"(?:19|20)[0-9][0-9]")
_DIGIT = re.compile(r"[0-9]")


def _number(token: str) -> str:
    # = _YEAR.fullmatch(token), for a token of [0-9.,%] (a number token or an all-digit span)
    return "<year>" if len(token) == 4 and token[:2] in ("19", "20") and token[2:].isdigit() else "<num>"


def _stem_plurals(tokens: list[str]) -> list[str]:
    """Harman's S-stemmer (plurals only) on tokens longer than three characters.

    Harman's rules, first match wins: "-ies" but not "-eies"/"-aies" -> "-y"; "-es" but not
    "-aes"/"-ees"/"-oes" -> "-e"; "-s" but not "-us"/"-ss" -> "". Every "-es" loses just its
    "s" under rule 2 or 3, so this is: "-ies" after a letter other than a/e -> "-y"; "-us" and
    "-ss" stay; any other final "s" goes (policies->policy, crimes->crime, patrols->patrol).
    """
    return [
        t if t[-1] != "s" or len(t) < 4 or t[-2] in "us"
        else t[:-3] + "y" if t[-3:] == "ies" and t[-4] not in "ae"
        else t[:-1]
        for t in tokens
    ]


def _word_tokens(text: str, stem: bool) -> list[str]:
    """Tokens of normalised text with no Han run: words, masked numbers, rare ideographs."""
    if "’" in text:
        text = text.replace("’", "'")
    tokens = (_ASCII_WORD_TOKEN if text.isascii() else _WORD_TOKEN).findall(text)
    if _DIGIT.search(text):  # a token starting with a character <= "9" is a number
        tokens = [t if t[0] > "9" else _number(t) for t in tokens]
    return _stem_plurals(tokens) if stem else tokens


def _char_class(codes: Iterable[int]) -> str:
    """A regex character-class body for a set of code points, written as ranges."""
    codes = sorted(codes)
    out = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = re.escape(chr(codes[i])), re.escape(chr(codes[j]))
        out.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "".join(out)


# Characters that never make a token and that jieba never glues to Han: the whitespace and
# punctuation of ASCII, Latin-1, General Punctuation and CJK Symbols, except the "+#&._%-" that
# jieba's block regex joins to Han runs. Any other stretch outside the Han runs (letters, digits,
# those seven, rare ideographs, symbols, emoji) is a span for _word_tokens, replaced before the
# segmenter sees the paragraph, so the segmenter's blocks are exactly the Han runs.
_SAFE = _HAN + _char_class(
    c
    for lo, hi in ((0x00, 0xBF), (0x2000, 0x206F), (0x3000, 0x303F))
    for c in range(lo, hi + 1)
    if not chr(c).isalnum() and chr(c) not in "_+#&.%-"
)
# A span; it runs on over a "," or an apostrophe between non-safe characters (1,461, nation's).
_SPAN = re.compile(f"[^{_SAFE}]+(?:[,'’][^{_SAFE}]+)*")
_NON_HAN = re.compile(f"([^{_HAN}]+)")

# Word tokens inside Chinese text travel through the segmenter as private-use characters, one per
# token: never part of a jieba block, so each comes back as a token of its own, in place.
_PLACEHOLDER = 0xE000
_PLACEHOLDERS = 0xF900 - 0xE000


class _TooManyWords(Exception):
    pass


# --- the segmenter -----------------------------------------------------------------------------


class _Segmenter(Protocol):
    def cut(self, text: str, hmm: bool = True) -> list[str]: ...

    def add_word(self, word: str, freq: int | None, tag: str | None) -> int: ...


def _jieba_rs_class() -> Any:
    """``rjieba.Jieba`` without running ``rjieba/__init__.py``.

    That ``__init__`` builds a module-level default ``Jieba()`` (0.13 s, ~40 MB) that we would
    never use: each term list needs its own instance, and we leave global state alone. Loading
    the extension module directly halves the cold start. It is registered under its usual name,
    so a later ``import rjieba`` reuses it. Falls back to the plain import if the layout differs;
    raises ImportError when rjieba is not installed.
    """
    loaded = sys.modules.get("rjieba.rjieba") or sys.modules.get("rjieba")
    if loaded is not None and hasattr(loaded, "Jieba"):
        return loaded.Jieba
    spec = importlib.util.find_spec("rjieba")
    if spec is None:
        raise ImportError("rjieba is not installed")
    for folder in spec.submodule_search_locations or []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "rjieba" + suffix)
            if not os.path.exists(path):
                continue
            ext_spec = importlib.util.spec_from_file_location("rjieba.rjieba", path)
            if ext_spec is None or ext_spec.loader is None:
                continue
            module = importlib.util.module_from_spec(ext_spec)
            ext_spec.loader.exec_module(module)
            sys.modules["rjieba.rjieba"] = module
            return module.Jieba
    import rjieba

    return rjieba.Jieba


class _JiebaSegmenter:
    """Python jieba behind the jieba-rs interface, for machines without rjieba (slow: 1 s load)."""

    def __init__(self) -> None:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()

    def add_word(self, word: str, freq: int | None, tag: str | None) -> int:
        old = self._jieba.FREQ.get(word, 0)
        self._jieba.add_word(word, freq, tag)
        self._jieba.total -= old  # keep the total exact, as jieba-rs does
        return self._jieba.FREQ[word]

    def cut(self, text: str, hmm: bool = True) -> list[str]:
        return self._jieba.lcut(text, HMM=hmm)


# A segmenter first holds only the dictionary words of the texts it cuts (`_GrowingSegmenter`);
# once it has looked up this many characters (~1.5 µs each), it builds the whole dictionary
# (~0.14 s) and cuts with that from then on. Small inputs never pay for the whole dictionary.
GROWING_CHARS = 10_000

_UNREACHABLE = "\x01\x02"  # no text's block holds it: the entry that brings the total to the full one's


class _GrowingSegmenter:
    """A jieba-rs segmenter that holds just the dictionary words of the texts it has cut, plus
    one unreachable entry that keeps the dictionary's total frequency exact, and so cuts every
    text exactly as the whole dictionary does (`dictionary` module docstring); past
    `GROWING_CHARS` characters, or on `complete()`, it is the whole-dictionary segmenter."""

    def __init__(self, jieba_class: Any, dictionary: Any) -> None:
        self._class = jieba_class
        self._dictionary = dictionary
        self._partial = jieba_class.empty()
        self._full: Any = None
        self._user: dict[str, tuple[int | None, str | None]] = {}  # in the order they were added
        self._held: set[str] = set()  # dictionary words with their own entry: found, or user words
        self._covered = 0  # dictionary frequency of the held words
        self._chars = 0
        self._lock = threading.Lock()
        self._balance()

    def _balance(self) -> None:
        self._partial.add_word(_UNREACHABLE, self._dictionary.total - self._covered, None)

    def _hold(self, word: str, frequency: int) -> None:
        self._held.add(word)
        self._covered += frequency

    def add_word(self, word: str, freq: int | None, tag: str | None) -> int:
        with self._lock:
            self._user[word] = (freq, tag)
            if self._full is not None:
                return self._full.add_word(word, freq, tag)
            base = self._dictionary.frequency(word)
            if base is not None and word not in self._held:
                self._hold(word, base)
                self._balance()
            return self._partial.add_word(word, freq, tag)

    def complete(self) -> None:
        """Build the whole dictionary now (e.g. before forking workers that share it)."""
        with self._lock:
            if self._full is not None:
                return
            full = self._class()
            for word, (freq, tag) in self._user.items():
                full.add_word(word, freq, tag)
            self._full, self._partial = full, None
            self.cut = full.cut  # type: ignore[method-assign]  # from now on calls go straight to jieba-rs

    def cut(self, text: str, hmm: bool = True) -> list[str]:
        with self._lock:
            if self._full is None and self._chars + len(text) <= GROWING_CHARS:
                self._chars += len(text)
                added = False
                for word, frequency in self._dictionary.words_in(text).items():
                    if word not in self._held:  # (a user word that is a dictionary word is held already)
                        self._hold(word, frequency)
                        self._partial.add_word(word, frequency, None)
                        added = True
                if added:
                    self._balance()
                return self._partial.cut(text, hmm)
        self.complete()
        return self._full.cut(text, hmm)


def _new_segmenter() -> _Segmenter:
    try:
        jieba_class = _jieba_rs_class()
    except ImportError:
        return _JiebaSegmenter()
    from .dictionary import load

    dictionary = load()
    return jieba_class() if dictionary is None else _GrowingSegmenter(jieba_class, dictionary)


def complete_segmenters() -> None:
    """Give every segmenter made so far its whole dictionary (before forking workers)."""
    for seg in list(_SEGMENTERS.values()):
        if isinstance(seg, _GrowingSegmenter):
            seg.complete()


_SEGMENTERS: dict[tuple[str, ...], _Segmenter] = {}
_SEGMENTERS_LOCK = threading.Lock()


def _segmenter(words: tuple[str, ...]) -> _Segmenter:
    """One segmenter per user-word set, shared by equal tokenizers, clones and unpickled copies."""
    seg = _SEGMENTERS.get(words)
    if seg is None:
        with _SEGMENTERS_LOCK:
            seg = _SEGMENTERS.get(words)
            if seg is None:
                seg = _new_segmenter()
                for word in words:
                    seg.add_word(word, DOMAIN_TERM_FREQ, None)
                _SEGMENTERS[words] = seg
    return seg


def _user_words(terms: Iterable[str]) -> tuple[str, ...]:
    """Normalised terms of two or more Han characters, sorted and without duplicates."""
    return tuple(sorted({w for w in map(normalize_term, terms) if _TERM.fullmatch(w)}))


# --- public tokenizer --------------------------------------------------------------------------


class Tokenizer:
    """A picklable paragraph tokenizer with its own domain-term list: ``tok(text) -> list[str]``.

    ``terms``: Chinese domain terms to keep whole (normalised like the text; a term that is not
    two or more Han characters after normalisation, e.g. ``12367``, is not added to the
    segmenter). ``stem``: strip English plural endings (see the module docstring).

    Tokenizers with equal parameters are equal, hash and repr alike; pickling stores only the
    parameters and the segmenter is rebuilt, or taken from the process-wide cache, on first use.
    ``get_params``/``set_params`` make a ``TfidfVectorizer(tokenizer=Tokenizer(...))`` clonable
    and let a search set ``tokenizer__stem``.
    """

    def __init__(self, terms: tuple[str, ...] = (), *, stem: bool = True) -> None:
        self.terms = terms if isinstance(terms, tuple) else tuple(terms)
        self.stem = stem
        self._seg: _Segmenter | None = None

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"terms": self.terms, "stem": self.stem}

    def set_params(self, **params: Any) -> Tokenizer:
        for key, value in params.items():
            if key not in ("terms", "stem"):
                raise ValueError(f"Tokenizer has no parameter {key!r}; expected terms or stem")
            setattr(self, key, tuple(value) if key == "terms" else value)
        self._seg = None
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tokenizer):
            return NotImplemented
        return self.terms == other.terms and self.stem == other.stem

    def __hash__(self) -> int:
        return hash((self.terms, self.stem))

    def __repr__(self) -> str:
        args = [f"terms={self.terms!r}"] if self.terms else []
        if not self.stem:
            args.append("stem=False")
        return f"Tokenizer({', '.join(args)})"

    def __getstate__(self) -> dict[str, Any]:
        return {"terms": self.terms, "stem": self.stem}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.terms = tuple(state["terms"])
        self.stem = bool(state["stem"])
        self._seg = None

    @property
    def user_words(self) -> tuple[str, ...]:
        """The normalised terms added to the segmenter's dictionary, sorted."""
        return _user_words(self.terms)

    def _segmenter(self) -> _Segmenter:
        if self._seg is None:
            self._seg = _segmenter(self.user_words)
        return self._seg

    def cut_han(self, run: str) -> list[str]:
        """Segment a run of Han characters: jieba.lcut(run, HMM=True) with this term list."""
        return self._segmenter().cut(run, True)

    def __call__(self, text: str) -> list[str]:
        return self.tokens_folded(fold(text)) if text else []

    def tokens_folded(self, text: str) -> list[str]:
        """Tokens of text already folded by `normalize.fold` (the same as ``self(original)``)."""
        if not text:
            return []
        stem = self.stem
        if text.isascii() or not _HAN_CHAR.search(text):
            return _word_tokens(text, stem)
        text = collapse_optional_chars(text)
        words: list[str] = []

        def to_placeholders(match: re.Match[str]) -> str:
            span = match.group()
            if span.isdigit() and span.isascii():  # the usual span in Chinese: 2024年, 735起
                words.append(_number(span))
            else:
                tokens = _word_tokens(span, stem)
                if len(tokens) != 1:
                    if not tokens:
                        return " "
                    start = len(words)
                    words.extend(tokens)
                    if len(words) > _PLACEHOLDERS:
                        raise _TooManyWords
                    return "".join(chr(_PLACEHOLDER + i) for i in range(start, len(words)))
                words.append(tokens[0])
            if len(words) > _PLACEHOLDERS:
                raise _TooManyWords
            return chr(_PLACEHOLDER + len(words) - 1)

        try:
            text = _SPAN.sub(to_placeholders, text)
        except _TooManyWords:
            return self._one_run_at_a_time(text)
        # The segmenter sees Han runs, whitespace, punctuation and placeholders; only Han words
        # and placeholders are >= U+4E00, and only placeholders are >= U+E000.
        tokens = (self._seg or self._segmenter()).cut(text, True)
        if not words:
            return [t for t in tokens if t >= "\u4e00"]
        return [
            t if t < "\ue000" else words[ord(t) - _PLACEHOLDER] for t in tokens if t >= "\u4e00"
        ]

    def _one_run_at_a_time(self, text: str) -> list[str]:
        """Slow path for Han text with more word tokens than placeholders (~6,400)."""
        out: list[str] = []
        cut = self._segmenter().cut
        for i, piece in enumerate(_NON_HAN.split(text)):
            if i % 2:
                out.extend(_word_tokens(piece, self.stem))
            elif piece:
                out.extend(cut(piece, True))
        return out
