"""The one place text is normalised: NFKC, Traditional to Simplified Chinese, case folding.

Every comparison pmc makes between a text and something learned or listed — model features,
codebook concept terms, keyword search, Traditional-script detection — goes through a function
of this module, so a rule changes in one place:

* `fold(text)` — NFKC (full-width letters, digits and punctuation folded), Traditional to
  Simplified (OpenCC `t2s`), lower case. What the tokenizer, the concept matcher and the
  character n-grams see. Pure ASCII skips the first two steps.
* `fold_many(texts)` — `[fold(t) for t in texts]`, with one OpenCC call for the whole batch's
  Chinese text instead of one per paragraph (the batch path of `pmc classify`).
* `fold_with_offsets(text)` — the same folded text plus, for each of its characters, the index
  of the original character it came from (for highlighting evidence in the original text).
* `collapse_optional_chars(text)` — the "optional character" convention of Chinese legal text,
  ``国(边)境`` (one Han character in parentheses between Han characters), written ``国边境``.
* `normalize_term(term)` — a codebook term as the segmenter sees it (fold, then the above).
* `search_key(text)` — what keyword search compares: NFKC, case-folded, Simplified, whitespace
  runs as one space. Stored with every paragraph, so the store can pre-filter in SQL.

A paragraph on the scoring path is folded once (`fold`), and the result is handed to the
tokenizer, the concept matcher and language detection.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "nfkc",
    "to_simplified",
    "fold",
    "fold_many",
    "fold_with_offsets",
    "collapse_optional_chars",
    "normalize_term",
    "search_key",
    "HAN_RANGE",
]

# jieba's Han range: the segmenter only ever sees runs of these.
HAN_RANGE = "\u4e00-\u9fd5"
_ANY_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Characters of Chinese and web text whose NFKC form differs: full-width forms, the ideographic
# space, no-break and typographic spaces, the ellipsis ... Replacing them first is ~10x cheaper
# than unicodedata.normalize on a Chinese paragraph; whatever the table misses still goes through
# the real NFKC, so the table decides speed, never the result.
_FAST_NFKC_RANGES = ((0x00A0, 0x00BF), (0x2000, 0x206F), (0x3000, 0x3000), (0xFF01, 0xFFEE))
_NFKC_MAP = {
    chr(c): unicodedata.normalize("NFKC", chr(c))
    for lo, hi in _FAST_NFKC_RANGES
    for c in range(lo, hi + 1)
    if unicodedata.normalize("NFKC", chr(c)) != chr(c)
}
_NFKC_FAST = re.compile("[" + "".join(re.escape(c) for c in _NFKC_MAP) + "]")


def _nfkc_char(match: re.Match[str]) -> str:
    return _NFKC_MAP[match.group()]


def nfkc(text: str) -> str:
    """Unicode NFKC, with a fast path for the full-width forms of Chinese text."""
    if unicodedata.is_normalized("NFKC", text):
        return text
    text = _NFKC_FAST.sub(_nfkc_char, text)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=1)
def _t2s():  # noqa: ANN202 - opencc has no type stubs
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert Traditional Chinese characters to Simplified (other text passes through)."""
    if not text or not _ANY_HAN.search(text):
        return text
    return _t2s().convert(text)


def fold(text: str) -> str:
    """NFKC, Traditional to Simplified Chinese, lower case (pure ASCII skips the first two)."""
    if text.isascii():
        return text.lower()
    return to_simplified(nfkc(text)).lower()


# Joins the Chinese texts of a batch for one OpenCC call. OpenCC converts phrase by phrase and
# no phrase of its dictionaries holds a line break, so converting "a\nb" gives the conversions
# of a and b joined by "\n"; a text that holds a line break itself is converted on its own.
_BATCH_JOIN = "\n"


def fold_many(texts: list[str]) -> list[str]:
    """`[fold(t) for t in texts]`, with one Traditional-to-Simplified call for the whole batch."""
    out = list(texts)
    chinese: list[int] = []
    for i, text in enumerate(texts):
        if text.isascii():
            out[i] = text.lower()
            continue
        text = nfkc(text)
        if _ANY_HAN.search(text) and _BATCH_JOIN not in text:
            out[i] = text
            chinese.append(i)
        else:
            out[i] = to_simplified(text).lower()
    if chinese:
        converted = _t2s().convert(_BATCH_JOIN.join([out[i] for i in chinese])).split(_BATCH_JOIN)
        if len(converted) != len(chinese):  # never seen; the per-text conversion is the reference
            converted = [to_simplified(out[i]) for i in chinese]
        for i, text in zip(chinese, converted):
            out[i] = text.lower()
    return out


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """`fold(text)` and, per folded character, the index of the original character it came from.

    The folded text is exactly `fold(text)`. When folding kept the length (the usual case:
    full-width to half-width, Traditional to Simplified and lower case are one-to-one), the
    offsets are the identity; otherwise they come from folding character by character, which
    is exact for expansions such as ``…`` -> ``...`` and approximate only for compositions.
    """
    folded = fold(text)
    if len(folded) == len(text):
        return folded, list(range(len(text)))
    offsets: list[int] = []
    for i, ch in enumerate(text):
        offsets.extend([i] * len(fold(ch)))
    if len(offsets) != len(folded):  # a composition across characters: stretch to fit
        scale = len(text) / max(len(folded), 1)
        offsets = [min(int(j * scale), len(text) - 1) for j in range(len(folded))]
    return folded, offsets


_OPTIONAL_CHAR = re.compile(rf"\(([{HAN_RANGE}])\)(?=[{HAN_RANGE}])")


def _optional_char(match: re.Match[str]) -> str:
    i = match.start()
    after_han = i > 0 and "\u4e00" <= match.string[i - 1] <= "\u9fd5"
    return match.group(1) if after_han else match.group()


def collapse_optional_chars(text: str) -> str:
    """``国(边)境`` -> ``国边境`` (on folded text, so full-width parentheses are ASCII by now)."""
    return _OPTIONAL_CHAR.sub(_optional_char, text) if "(" in text else text


def normalize_term(term: str) -> str:
    """A domain term as the segmenter sees it: folded, optional characters collapsed."""
    return collapse_optional_chars(fold(term.strip()))


_SPACES = re.compile(r"\s+")


def search_key(text: str) -> str:
    """Keyword-search form: NFKC, case-folded, Simplified Chinese, whitespace runs as one space."""
    folded = to_simplified(unicodedata.normalize("NFKC", text).casefold())
    return _SPACES.sub(" ", folded)
